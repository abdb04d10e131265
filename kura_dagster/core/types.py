"""Typed data that flows through the pipeline, with Kura's field names.

These are the objects of the procedural API (what a notebook user handles). The Dagster layer stores
them as DuckDB tables following the table contract in DESIGN.md; `core.tables` converts between the two.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

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

    @classmethod
    def from_conversation_dump(cls, file_path: str) -> list["Conversation"]:
        """Kura's JSON dump: a list of conversation objects (the good ones; see `core.connectors.load`)."""
        from kura_dagster.core.ingest.connectors import load_conversations

        return load_conversations(file_path, "kura")

    @classmethod
    def from_jsonl(cls, file_path: str) -> list["Conversation"]:
        """One conversation object per line (the landing-zone format)."""
        from kura_dagster.core.ingest.connectors import load_conversations

        return load_conversations(file_path, "jsonl")

    @classmethod
    def from_claude_conversation_dump(cls, file_path: str, metadata_fn: Any = None) -> list["Conversation"]:
        """Claude's export (`conversations.json`, a .zip export or its folder); `metadata_fn(raw) -> dict`."""
        from kura_dagster.core.ingest.connectors import load_conversations

        return load_conversations(file_path, "claude", metadata_function=metadata_fn)

    @classmethod
    def from_chatgpt_export(cls, file_path: str, metadata_fn: Any = None) -> list["Conversation"]:
        """ChatGPT's export: the branch each conversation's `current_node` selects."""
        from kura_dagster.core.ingest.connectors import load_conversations

        return load_conversations(file_path, "chatgpt", metadata_function=metadata_fn)

    @classmethod
    def from_hf_dataset(cls, dataset_name: str, split: str = "train", max_conversations: int | None = None,
                        chat_id_fn: Any = None, created_at_fn: Any = None, messages_fn: Any = None,
                        metadata_fn: Any = None) -> list["Conversation"]:
        """A Hugging Face dataset: a `save_to_disk` folder, a local data file, or a hub name (needs a network).

        As in Kura, `*_fn(row)` pick the fields from a row; without them the columns are found by name
        (chat_id/id, created_at/timestamp, messages/conversations, metadata, or one row per message).
        """
        from kura_dagster.core.ingest.connectors import load_conversations
        from kura_dagster.core.ingest.connectors.common import DEFAULT_COLUMNS

        def pick_fields(row: dict[str, Any]) -> dict[str, Any]:
            def field(fn: Any, key: str) -> Any:
                if fn is not None:
                    return fn(row)
                return next((row[name] for name in DEFAULT_COLUMNS[key] if name in row), None)

            return {"chat_id": field(chat_id_fn, "chat_id"), "created_at": field(created_at_fn, "created_at"),
                    "messages": field(messages_fn, "messages"), "metadata": {}}

        custom = any(fn is not None for fn in (chat_id_fn, created_at_fn, messages_fn))
        return load_conversations(dataset_name, "hf", split=split, max_records=max_conversations,
                                  row_function=pick_fields if custom else None,
                                  metadata_function=metadata_fn)


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
    custom_facets: dict[str, Any] = Field(default_factory=dict)  # user-defined facets (Kura's response_schema)
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
