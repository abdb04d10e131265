"""Records whose messages are a plain list: OpenAI `messages` JSONL, ShareGPT `conversations`, table rows.

These exports carry no ids and often no timestamps. A missing chat_id is derived from the record itself:
`<format>-<16 hex digits of SHA-256 over its canonical JSON>`, so the same record always gets the same id
(and is merged as a duplicate), while two different records never share one. A missing created_at is the
earliest message time if messages have one, else the export's default time (`ConnectorOptions`), and the
conversation is flagged `metadata["created_at_assumed"] = True`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from kura_dagster.core.ingest.connectors.common import (
    DEFAULT_COLUMNS,
    Context,
    as_text,
    call_user_function,
    content_hash,
    content_text,
    parse_time,
    placeholder,
    role_of,
)


def message_from_item(item: Any, name: str) -> dict[str, Any] | None:
    """One message of a list: {role, content} (OpenAI), {from, value} (ShareGPT) or {sender, text}.

    Returns None for a message with nothing in it (an empty system prompt, say), which is skipped.
    """
    if not isinstance(item, dict):
        raise ValueError(f"{name}: expected a message object, got {type(item).__name__}")
    role_key = next((key for key in ("role", "from", "sender", "author") if key in item), None)
    if role_key is None:
        raise ValueError(f"{name}: no role (expected 'role' or 'from')")
    raw_role = item[role_key]
    if isinstance(raw_role, dict):  # ChatGPT-like {"author": {"role": ...}}
        raw_role = raw_role.get("role")
    role = role_of(raw_role, f"{name}.{role_key}")
    content_key = next((key for key in ("content", "value", "text") if key in item), None)
    text = content_text(item.get(content_key) if content_key else None, f"{name}.{content_key or 'content'}")
    calls = []
    for call in item.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        calls.append(placeholder("tool call", function.get("name") if isinstance(function, dict) else None))
    if isinstance(item.get("function_call"), dict):
        calls.append(placeholder("tool call", item["function_call"].get("name")))
    text = "\n".join(piece for piece in [text, *calls] if piece)
    if not text.strip():
        return None
    message: dict[str, Any] = {"role": role, "content": text}
    stamp = next(
        (item[key] for key in ("created_at", "timestamp", "create_time") if item.get(key) is not None), None
    )
    if stamp is not None:
        message["created_at"] = parse_time(stamp, f"{name}.created_at")
    return message


def messages_from_list(value: Any, name: str) -> list[dict[str, Any]]:
    if isinstance(value, (str, bytes)):  # a JSON column in a table
        try:
            value = json.loads(as_text(value, name))
        except json.JSONDecodeError as error:
            raise ValueError(f"{name}: malformed JSON: {error.msg}") from None
    if hasattr(value, "tolist"):  # numpy arrays from pandas
        value = value.tolist()
    if not isinstance(value, list):
        raise ValueError(f"{name}: expected a list of messages, got {type(value).__name__}")
    messages = [message_from_item(item, f"{name}.{index}") for index, item in enumerate(value)]
    messages = [message for message in messages if message is not None]
    if not messages:
        raise ValueError(f"{name}: conversation has no messages")
    return messages


def pick(row: dict[str, Any], key: str, columns: dict[str, str]) -> str | None:
    """The column that holds `key`: the mapped one, else the first default name present."""
    if key in columns:
        return columns[key]
    taken = set(columns.values())  # a column named for another key is not guessed for this one
    return next((name for name in DEFAULT_COLUMNS[key] if name in row and name not in taken), None)


def finish(record: dict[str, Any], raw: dict[str, Any], ctx: Context, prefix: str) -> dict[str, Any]:
    """Fill what id-less, time-less exports lack (see the module docstring) and add extra metadata."""
    metadata = record.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError(f"metadata: expected a JSON object, got {type(metadata).__name__}")
    if record.get("chat_id") in (None, ""):
        record["chat_id"] = f"{prefix}-{content_hash(raw)}"
    if record.get("created_at") in (None, ""):
        messages = record.get("messages") if isinstance(record.get("messages"), list) else []
        stamps = [
            m["created_at"]
            for m in messages
            if isinstance(m, dict) and isinstance(m.get("created_at"), datetime)
        ]
        if stamps:
            record["created_at"] = min(stamps)
        else:
            record["created_at"] = ctx.default_created_at()
            metadata["created_at_assumed"] = True
    metadata.setdefault("source_format", prefix)
    metadata.update(ctx.extra_metadata(raw))
    return record


def row_record(
    row: dict[str, Any], ctx: Context, prefix: str, columns: dict[str, str] | None = None
) -> dict[str, Any]:
    """One record holding a whole conversation (OpenAI/ShareGPT line, table row, dataset row)."""
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    if ctx.options.row_function is not None:
        record = dict(call_user_function(ctx.options.row_function, row, "row function"))
        messages = record.get("messages")
        if isinstance(messages, (str, bytes)) or (
            isinstance(messages, list) and all(isinstance(m, dict) for m in messages)
        ):
            record["messages"] = messages_from_list(messages, "messages")  # {from, value} and parts too
        return finish(record, row, ctx, prefix)
    columns = dict(ctx.options.columns if columns is None else columns)
    messages_column = pick(row, "messages", columns)
    if messages_column is None or messages_column not in row:
        raise ValueError(f"no messages (expected one of: {', '.join(DEFAULT_COLUMNS['messages'])})")
    record: dict[str, Any] = {"messages": messages_from_list(row[messages_column], messages_column)}
    used = {messages_column}
    id_column = pick(row, "chat_id", columns)
    if id_column and row.get(id_column) not in (None, ""):
        value = row[id_column]
        if isinstance(value, bool) or not isinstance(value, (str, int, bytes)):
            raise ValueError(f"{id_column}: expected text or an integer, got {type(value).__name__}")
        record["chat_id"] = as_text(value, id_column) if not isinstance(value, int) else str(value)
    time_column = pick(row, "created_at", columns)
    if time_column and row.get(time_column) not in (None, ""):
        record["created_at"] = parse_time(row[time_column], time_column)
    metadata_column = pick(row, "metadata", columns)
    metadata: dict[str, Any] = {}
    if metadata_column and row.get(metadata_column) is not None:
        value = row[metadata_column]
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as error:
                raise ValueError(f"{metadata_column}: malformed JSON: {error.msg}") from None
        if not isinstance(value, dict):
            raise ValueError(f"{metadata_column}: expected a JSON object, got {type(value).__name__}")
        metadata.update(value)
    used |= {id_column, time_column, metadata_column}
    for key, value in row.items():  # every other field is kept as metadata
        if key not in used and value is not None and value != "":
            metadata.setdefault(str(key), value)
    record["metadata"] = metadata
    return finish(record, row, ctx, prefix)
