"""Kura's `Conversation.from_*` constructors, implemented by the connectors.

`core.types` declares them on `Conversation` and imports nothing of the pipeline, so that every module can
import it; `attach` sets them, and importing `kura_dagster.core` (which any `kura_dagster.core.*` import does
first) calls it. The connectors are imported on the first call: importing the package stays cheap.

    from kura_dagster.core.types import Conversation
    Conversation.from_conversation_dump("conversations.json")
"""

from __future__ import annotations

from typing import Any

from kura_dagster.core.types import Conversation


def from_conversation_dump(cls: type[Conversation], file_path: str) -> list[Conversation]:
    """Kura's JSON dump: a list of conversation objects (the good ones; see `core.ingest.connectors.load`)."""
    from kura_dagster.core.ingest.connectors import load_conversations

    return load_conversations(file_path, "kura")


def from_jsonl(cls: type[Conversation], file_path: str) -> list[Conversation]:
    """One conversation object per line (the landing-zone format)."""
    from kura_dagster.core.ingest.connectors import load_conversations

    return load_conversations(file_path, "jsonl")


def from_claude_conversation_dump(
    cls: type[Conversation], file_path: str, metadata_fn: Any = None
) -> list[Conversation]:
    """Claude's export (`conversations.json`, a .zip export or its folder); `metadata_fn(raw) -> dict`."""
    from kura_dagster.core.ingest.connectors import load_conversations

    return load_conversations(file_path, "claude", metadata_function=metadata_fn)


def from_chatgpt_export(
    cls: type[Conversation], file_path: str, metadata_fn: Any = None
) -> list[Conversation]:
    """ChatGPT's export: the branch each conversation's `current_node` selects."""
    from kura_dagster.core.ingest.connectors import load_conversations

    return load_conversations(file_path, "chatgpt", metadata_function=metadata_fn)


def from_hf_dataset(
    cls: type[Conversation],
    dataset_name: str,
    split: str = "train",
    max_conversations: int | None = None,
    chat_id_fn: Any = None,
    created_at_fn: Any = None,
    messages_fn: Any = None,
    metadata_fn: Any = None,
) -> list[Conversation]:
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

        return {
            "chat_id": field(chat_id_fn, "chat_id"),
            "created_at": field(created_at_fn, "created_at"),
            "messages": field(messages_fn, "messages"),
            "metadata": {},
        }

    custom = any(fn is not None for fn in (chat_id_fn, created_at_fn, messages_fn))
    return load_conversations(
        dataset_name,
        "hf",
        split=split,
        max_records=max_conversations,
        row_function=pick_fields if custom else None,
        metadata_function=metadata_fn,
    )


CONSTRUCTORS = (
    from_conversation_dump,
    from_jsonl,
    from_claude_conversation_dump,
    from_chatgpt_export,
    from_hf_dataset,
)


def attach() -> None:
    """Set Kura's constructors on `Conversation` (idempotent)."""
    for constructor in CONSTRUCTORS:
        setattr(Conversation, constructor.__name__, classmethod(constructor))
