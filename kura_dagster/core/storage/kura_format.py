"""Kura 0.5.4's record shapes: what `export --format kura` and the facade's checkpoints write, and read back.

Kura's pydantic types are narrower than ours, and a line they reject is lost to Kura's checkpoint managers and
its UI. Each record is mapped so that Kura 0.5.4 accepts it, whatever the input held (README, "Coming from
Kura"):

- roles: Kura knows `user` and `assistant` only. A `system` or `tool` turn becomes an `assistant` turn whose
  content starts with `[system] ` or `[tool] ` (neither is the user's words; nothing is dropped).
- message timestamps: Kura requires one per message; a turn without its own takes the conversation's.
- conversation metadata: Kura allows text, numbers, booleans and lists of only text, only integers or only
  numbers. A `null` value drops its key (unknown is absent); any other list (mixed, holding `null`,
  booleans or objects) becomes a list of text, each item as is when text, else as JSON (`null`, `true`,
  `{"a": 1}`); an object becomes its JSON text.
- failed summaries: Kura's facets are optional except `summary`, so a summary that failed has `""` and
  `None` for every facet, and its error under `metadata["summary_error"]`.
- custom facets: under `metadata["custom_facets"]` (an object), never merged into the metadata keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kura_dagster.core.types import Cluster, Conversation, ConversationSummary, ProjectedCluster

ROLE_PREFIX = {"system": "[system] ", "tool": "[tool] "}
CUSTOM_FACETS_KEY = "custom_facets"
SUMMARY_ERROR_KEY = "summary_error"
# Kura's summary facets besides `summary`: all Optional there, so a failed summary leaves them None.
OPTIONAL_FACETS = (
    "request",
    "topic",
    "languages",
    "task",
    "concerning_score",
    "user_frustration",
    "assistant_errors",
)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kura_list(values: list) -> list:
    if all(isinstance(v, str) for v in values) or all(_is_int(v) for v in values):
        return list(values)
    if all(_is_int(v) or isinstance(v, float) for v in values):
        return [float(v) for v in values]
    return [_as_text(v) for v in values]


def kura_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """`metadata` as Kura's `metadata_dict` accepts it (rules in the module docstring)."""
    mapped: dict[str, Any] = {}
    for key, value in (metadata or {}).items():
        if value is None:
            continue
        if isinstance(value, (str, bool, int, float)):
            mapped[str(key)] = value
        elif isinstance(value, (list, tuple)):
            mapped[str(key)] = _kura_list(list(value))
        else:
            mapped[str(key)] = _as_text(value)
    return mapped


def conversation_record(conversation: Conversation) -> dict[str, Any]:
    """One line of Kura's `conversations.jsonl`."""
    fallback = conversation.created_at.isoformat()
    messages = []
    for message in conversation.messages:
        role = "user" if message.role == "user" else "assistant"
        messages.append(
            {
                "created_at": message.created_at.isoformat() if message.created_at else fallback,
                "role": role,
                "content": ROLE_PREFIX.get(message.role, "") + message.content,
            }
        )
    return {
        "chat_id": conversation.chat_id,
        "created_at": fallback,
        "messages": messages,
        "metadata": kura_metadata(conversation.metadata),
    }


def summary_record(summary: ConversationSummary, embedding: list[float] | None = None) -> dict[str, Any]:
    """One line of Kura's `summaries.jsonl` (its `ConversationSummary`)."""
    metadata = kura_metadata(summary.metadata)
    if summary.custom_facets:
        metadata[CUSTOM_FACETS_KEY] = summary.custom_facets
    record: dict[str, Any] = {"chat_id": summary.chat_id, "summary": summary.summary}
    if summary.error is not None:
        record.update({name: None for name in OPTIONAL_FACETS})
        record["summary"] = ""
        metadata[SUMMARY_ERROR_KEY] = summary.error
    else:
        record.update({name: getattr(summary, name) for name in OPTIONAL_FACETS})
    record["metadata"] = metadata
    record["embedding"] = embedding
    return record


def summary_from_record(record: Mapping[str, Any]) -> ConversationSummary:
    """Our `ConversationSummary` from a line of Kura's `summaries.jsonl` (the facade's checkpoints)."""
    metadata = dict(record.get("metadata") or {})
    custom_facets = metadata.pop(CUSTOM_FACETS_KEY, None)
    error = metadata.pop(SUMMARY_ERROR_KEY, None)
    facets = {name: record.get(name) for name in OPTIONAL_FACETS if record.get(name) is not None}
    return ConversationSummary(
        chat_id=record["chat_id"],
        summary=record.get("summary") or "",
        metadata=metadata,
        custom_facets=custom_facets if isinstance(custom_facets, dict) else {},
        error=None if error is None else str(error),
        embedding=record.get("embedding"),
        **facets,
    )


def cluster_record(cluster: Cluster) -> dict[str, Any]:
    """One line of Kura's `clusters.jsonl` / `meta_clusters.jsonl` (its `Cluster`; `count` is computed)."""
    return {
        "id": cluster.id,
        "name": cluster.name,
        "description": cluster.description,
        "slug": cluster.slug,
        "chat_ids": list(cluster.chat_ids),
        "parent_id": cluster.parent_id,
        "count": cluster.count,
    }


def projected_record(cluster: ProjectedCluster) -> dict[str, Any]:
    """One line of Kura's `dimensionality.jsonl` (its `ProjectedCluster`)."""
    return {
        **cluster_record(cluster),
        "x_coord": cluster.x_coord,
        "y_coord": cluster.y_coord,
        "level": cluster.level,
    }


def record_of(item: Any) -> dict[str, Any]:
    """The Kura record of any pipeline object (what a checkpoint line holds)."""
    if isinstance(item, ConversationSummary):
        return summary_record(item, item.embedding)
    if isinstance(item, Conversation):
        return conversation_record(item)
    if isinstance(item, ProjectedCluster):
        return projected_record(item)
    if isinstance(item, Cluster):
        return cluster_record(item)
    return item.model_dump(mode="json")


def from_record(record: Mapping[str, Any], model_class: type) -> Any:
    """`model_class` (ours) from a Kura record."""
    if issubclass(model_class, ConversationSummary):
        return summary_from_record(record)
    if issubclass(model_class, Cluster):
        return model_class.model_validate({k: v for k, v in record.items() if k != "count"})
    return model_class.model_validate(record)
