"""Kura's `kura.types`: the pipeline's own types (a superset of Kura's fields), plus Kura's helper models.

`Conversation`, `Message`, `ConversationSummary`, `Cluster` and `ProjectedCluster` are core's: they carry
Kura's field names and more (a message role may be `system` or `tool`, a summary keeps its `error` and
`custom_facets`); `core.storage.kura_format` maps them to Kura's narrower shapes where files are written.
`Conversation.from_hf_dataset`, `from_conversation_dump`, `from_claude_conversation_dump` and the rest work
as in Kura, on local files and `save_to_disk` folders too.
"""

from __future__ import annotations

from typing import Optional, Union

from pydantic import BaseModel, Field

import kura_dagster.core  # noqa: F401  (attaches Kura's `Conversation.from_*` constructors)
from kura_dagster.core.types import Cluster, Conversation, ConversationSummary, Message, ProjectedCluster


class GeneratedSummary(BaseModel):
    """Kura's LLM answer schema; subclass it with extra fields to ask for custom facets (`response_schema`)."""

    summary: str
    request: Optional[str] = None
    topic: Optional[str] = None
    languages: Optional[list[str]] = None
    task: Optional[str] = None
    concerning_score: Optional[int] = Field(None, ge=1, le=5)
    user_frustration: Optional[int] = Field(None, ge=1, le=5)
    assistant_errors: Optional[list[str]] = None


class GeneratedCluster(BaseModel):
    name: str
    summary: str
    slug: str


class ClusterTreeNode(BaseModel):
    id: str
    name: str
    description: str
    slug: str
    count: int
    children: list[str]


class ExtractedProperty(BaseModel):
    name: str
    value: Union[str, int, float, bool, list[str], list[int], list[float]]


__all__ = [
    "Cluster",
    "ClusterTreeNode",
    "Conversation",
    "ConversationSummary",
    "ExtractedProperty",
    "GeneratedCluster",
    "GeneratedSummary",
    "Message",
    "ProjectedCluster",
]
