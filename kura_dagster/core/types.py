"""Typed data that flows through the pipeline, with Kura's field names.

These are the objects of the procedural API (what a notebook user handles). The Dagster layer stores
them as DuckDB tables following the table contract in DESIGN.md; `core.storage.tables` converts between the two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator

Role = Literal["user", "assistant", "system", "tool"]


class Message(BaseModel):
    """One turn of a conversation."""

    role: Role
    content: str
    created_at: datetime | None = None


class Conversation(BaseModel):
    """A chat between a user and an assistant (Kura's `Conversation`)."""

    chat_id: str
    created_at: datetime
    messages: list[Message]
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("created_at")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        # Naive timestamps are taken as UTC so that the daily partition of a conversation is well defined.
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    # Kura's constructors (`Conversation.from_jsonl(path)`, ...), declared here and set by the connectors
    # (`core.ingest.constructors`, attached when `kura_dagster.core` is imported): this module holds data
    # only, so that everything else can import it.
    from_conversation_dump: ClassVar[Callable[..., list[Conversation]]]
    from_jsonl: ClassVar[Callable[..., list[Conversation]]]
    from_claude_conversation_dump: ClassVar[Callable[..., list[Conversation]]]
    from_chatgpt_export: ClassVar[Callable[..., list[Conversation]]]
    from_hf_dataset: ClassVar[Callable[..., list[Conversation]]]


class ConversationSummary(BaseModel):
    """Clio's facets of one conversation (Kura's `ConversationSummary`).

    `error` is set, and the facets left at their defaults, when the conversation could not be
    summarised: the row is kept so that nothing is dropped silently and a later run can retry it.
    """

    chat_id: str
    summary: str = ""
    request: str | None = None
    topic: str | None = None
    languages: list[str] = Field(default_factory=list)
    task: str | None = None
    concerning_score: int = Field(default=1, ge=1, le=5)
    user_frustration: int = Field(default=1, ge=1, le=5)
    assistant_errors: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    custom_facets: dict[str, Any] = Field(
        default_factory=dict
    )  # user-defined facets (Kura's response_schema)
    truncated: bool = False  # the conversation was cut to the summariser's token budget
    error: str | None = None
    embedding: list[float] | None = None


class Cluster(BaseModel):
    """A node of the topic tree: a base cluster (leaf) or a meta cluster (Kura's `Cluster`)."""

    id: str
    name: str
    description: str
    slug: str
    chat_ids: list[str]
    parent_id: str | None = None
    # Where a base cluster sits in the space it was clustered in; the hierarchy and the map use it.
    centroid: list[float] | None = Field(default=None, repr=False)

    @property
    def count(self) -> int:
        return len(self.chat_ids)


class ProjectedCluster(Cluster):
    """A tree node placed on the 2D map (Kura's `ProjectedCluster`)."""

    x_coord: float
    y_coord: float
    level: int


UNCLUSTERED_NAME = "Unclustered"


def is_unclustered(cluster: Cluster) -> bool:
    """The node that holds HDBSCAN's noise: real, counted, but not a topic."""
    return cluster.id.startswith("noise_")


USER_ID = (
    "user_id"  # the metadata key that says whose conversation it is (the privacy thresholds count users)
)


def user_ids_of(items: Sequence[ConversationSummary] | Sequence[Any]) -> dict[str, str | None]:
    """chat_id → the `user_id` of its metadata (None when absent), for summaries or conversations; empty
    when no conversation has one, so `privacy.thresholds.distinct_users` sees at once that only the size rule
    applies (it is asked for every cluster, and would otherwise scan every chat each time)."""
    found = {}
    for item in items:
        user = (item.metadata or {}).get(USER_ID)
        found[item.chat_id] = None if user is None or str(user).strip() == "" else str(user)
    return found if any(user is not None for user in found.values()) else {}
