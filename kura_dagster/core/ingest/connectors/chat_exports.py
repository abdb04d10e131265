"""The two chat products' data exports: Claude's and ChatGPT's `conversations.json`.

Claude: a list of {uuid, name, created_at, chat_messages: [{sender: human|assistant, created_at, text,
content: [{type: text|tool_use|tool_result|thinking|..., ...}], attachments, files}]}. Text blocks are kept;
everything else becomes a short placeholder in the message ("[tool use: web_search]", "[tool result:
web_search]", "[attachment: report.pdf]"), so a summary can still say a tool or a file was involved.
Messages are ordered by time (stable, so equal times keep the export's order).

ChatGPT: a list of {id|conversation_id, title, create_time (epoch seconds), mapping: {node id: {message,
parent, children}}, current_node}. The mapping is a tree (each edit or regeneration is a branch); the
conversation the user last saw is the path from `current_node` up to the root, reversed. Without a
`current_node`, the newest leaf is used. Roles user/assistant/system/tool are kept; hidden messages
(`is_visually_hidden_from_conversation`, custom instructions, hidden reasoning) and empty ones are skipped.
"""

from __future__ import annotations

from typing import Any

from kura_dagster.core.ingest.connectors.common import (
    Context,
    as_text,
    conversation_time,
    parse_time,
    placeholder,
    role_of,
)

CLAUDE_SENDERS = {"human": "user", "user": "user", "assistant": "assistant"}


def _chat_id(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise ValueError(
            f"{name}: missing"
            if value in (None, "")
            else f"{name}: expected text, got {type(value).__name__}"
        )
    return str(value)


def _claude_content(message: dict[str, Any], name: str) -> str:
    pieces: list[str] = []
    blocks = message.get("content")
    if isinstance(blocks, list) and blocks:
        for index, block in enumerate(blocks):
            if not isinstance(block, dict):
                raise ValueError(f"{name}.content.{index}: expected an object, got {type(block).__name__}")
            kind = str(block.get("type") or "block")
            if kind == "text":
                pieces.append(as_text(block.get("text") or "", f"{name}.content.{index}.text"))
            elif kind == "tool_use":
                pieces.append(placeholder("tool use", block.get("name")))
            elif kind == "tool_result":
                pieces.append(placeholder("tool result", block.get("name")))
            else:  # thinking, image, document, token_budget, ...
                pieces.append(placeholder(kind.replace("_", " "), block.get("name")))
    elif blocks not in (None, []):
        raise ValueError(f"{name}.content: expected a list of blocks, got {type(blocks).__name__}")
    elif message.get("text") is not None:
        pieces.append(as_text(message["text"], f"{name}.text"))
    seen: set[str] = set()
    for key in ("attachments", "files", "files_v2"):
        items = message.get(key) or []
        if not isinstance(items, list):
            raise ValueError(f"{name}.{key}: expected a list, got {type(items).__name__}")
        for item in items:
            file_name = item.get("file_name") or item.get("name") if isinstance(item, dict) else None
            label = placeholder("attachment", file_name)
            if label not in seen:
                seen.add(label)
                pieces.append(label)
    return "\n".join(piece for piece in pieces if piece)


def claude_record(obj: Any, ctx: Context) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ValueError(f"expected a conversation object, got {type(obj).__name__}")
    chat_id = _chat_id(obj.get("uuid"), "uuid")
    raw_messages = obj.get("chat_messages")
    if not isinstance(raw_messages, list):
        raise ValueError(
            "chat_messages: missing"
            if raw_messages is None
            else f"chat_messages: expected a list, got {type(raw_messages).__name__}"
        )
    messages = []
    for index, item in enumerate(raw_messages):
        name = f"chat_messages.{index}"
        if not isinstance(item, dict):
            raise ValueError(f"{name}: expected a message object, got {type(item).__name__}")
        sender = item.get("sender")
        role = CLAUDE_SENDERS.get(sender) if isinstance(sender, str) else None
        if role is None:
            raise ValueError(f"{name}.sender: unknown sender {str(sender)[:40]!r}")
        text = _claude_content(item, name)
        if not text.strip():
            continue
        message: dict[str, Any] = {"role": role, "content": text}
        if item.get("created_at") not in (None, ""):
            message["created_at"] = parse_time(item["created_at"], f"{name}.created_at")
        messages.append(message)
    if all("created_at" in message for message in messages):
        messages.sort(key=lambda message: message["created_at"])
    if not messages:
        raise ValueError("chat_messages: conversation has no messages")
    return _export_record(obj, ctx, chat_id, messages, "claude", time_key="created_at", title_key="name")


# ChatGPT content types that are never shown to the user as the conversation.
HIDDEN_CONTENT = {"user_editable_context", "thoughts", "reasoning_recap", "model_editable_context"}


def _chatgpt_content(content: Any, name: str) -> str:
    if content is None:
        return ""
    if not isinstance(content, dict):
        raise ValueError(f"{name}: expected an object, got {type(content).__name__}")
    kind = str(content.get("content_type") or "text")
    if kind in HIDDEN_CONTENT:
        return ""
    parts = content.get("parts")
    if isinstance(parts, list):
        pieces = []
        for index, part in enumerate(parts):
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, dict):
                part_kind = str(part.get("content_type") or "part")
                if isinstance(part.get("text"), str):
                    pieces.append(part["text"])
                elif "image" in part_kind:
                    pieces.append(placeholder("image"))
                elif "audio" in part_kind:
                    pieces.append(placeholder("audio"))
                else:
                    pieces.append(placeholder(part_kind.replace("_", " ")))
            elif part is not None:
                raise ValueError(f"{name}.parts.{index}: expected text, got {type(part).__name__}")
        return "\n".join(piece for piece in pieces if piece)
    if parts is not None:
        raise ValueError(f"{name}.parts: expected a list, got {type(parts).__name__}")
    if isinstance(content.get("text"), str):  # code, execution_output, tether_quote, ...
        return content["text"]
    return placeholder(kind.replace("_", " "))


def _chatgpt_path(mapping: dict[str, Any], current: Any) -> list[dict[str, Any]]:
    if current in (None, ""):
        leaves = [
            (node.get("message") or {}, key)
            for key, node in mapping.items()
            if isinstance(node, dict) and not node.get("children")
        ]
        if not leaves:
            raise ValueError("mapping: no leaf to start from")

        def newest(leaf: tuple[Any, str]) -> float:
            stamp = leaf[0].get("create_time") if isinstance(leaf[0], dict) else None
            return (
                float(stamp)
                if isinstance(stamp, (int, float)) and not isinstance(stamp, bool)
                else float("-inf")
            )

        current = max(enumerate(leaves), key=lambda item: (newest(item[1]), item[0]))[1][1]
    if not isinstance(current, str) or current not in mapping:
        raise ValueError(f"current_node: {str(current)[:60]!r} is not in mapping")
    path, seen = [], set()
    node_id: Any = current
    while node_id is not None:
        if not isinstance(node_id, str) or node_id in seen:
            raise ValueError(
                f"mapping: the parent chain of {current!r} loops or is broken at {str(node_id)[:60]!r}"
            )
        seen.add(node_id)
        node = mapping.get(node_id)
        if node is None:
            break  # a parent outside the export: the path starts here
        if not isinstance(node, dict):
            raise ValueError(f"mapping.{node_id}: expected a node object, got {type(node).__name__}")
        path.append(node)
        node_id = node.get("parent")
    path.reverse()
    return path


def chatgpt_record(obj: Any, ctx: Context) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ValueError(f"expected a conversation object, got {type(obj).__name__}")
    id_key = "id" if obj.get("id") not in (None, "") else "conversation_id"
    chat_id = _chat_id(obj.get(id_key), id_key)
    mapping = obj.get("mapping")
    if not isinstance(mapping, dict):
        raise ValueError(
            "mapping: missing"
            if mapping is None
            else f"mapping: expected an object, got {type(mapping).__name__}"
        )
    messages = []
    for node in _chatgpt_path(mapping, obj.get("current_node")):
        message = node.get("message")
        if message is None:
            continue  # the root and other structural nodes
        name = f"mapping.{node.get('id', '?')}.message"
        if not isinstance(message, dict):
            raise ValueError(f"{name}: expected an object, got {type(message).__name__}")
        meta = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
        if meta.get("is_visually_hidden_from_conversation"):
            continue
        author = message.get("author")
        role = role_of(author.get("role") if isinstance(author, dict) else author, f"{name}.author.role")
        text = _chatgpt_content(message.get("content"), f"{name}.content")
        if not text.strip():
            continue  # empty system prompts, tool calls with no output, hidden context
        entry: dict[str, Any] = {"role": role, "content": text}
        if message.get("create_time") not in (None, ""):
            entry["created_at"] = parse_time(message["create_time"], f"{name}.create_time")
        messages.append(entry)
    if not messages:
        raise ValueError("mapping: conversation has no visible messages")
    model = obj.get("default_model_slug")
    return _export_record(
        obj,
        ctx,
        chat_id,
        messages,
        "chatgpt",
        time_key="create_time",
        title_key="title",
        extra={"model": model} if isinstance(model, str) else None,
    )


def _export_record(
    obj: dict[str, Any],
    ctx: Context,
    chat_id: str,
    messages: list[dict[str, Any]],
    source: str,
    *,
    time_key: str,
    title_key: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The landing record of one chat-app conversation: its time (or its messages'), the source format, the
    title when there is one, and the export's other fields as metadata."""
    created_at = conversation_time(obj.get(time_key), time_key, messages)
    metadata: dict[str, Any] = {"source_format": source}
    if isinstance(obj.get(title_key), str) and obj[title_key].strip():
        metadata["title"] = obj[title_key]
    metadata.update(extra or {})
    metadata.update(ctx.extra_metadata(obj))
    return {"chat_id": chat_id, "created_at": created_at, "messages": messages, "metadata": metadata}
