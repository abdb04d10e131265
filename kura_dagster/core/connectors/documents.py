"""JSON containers: one JSON document (a list of records, or one record) or JSON lines, and sniffing them.

A JSON document is read whole (exports of chat products are documents); invalid UTF-8 inside it spoils only
the records that contain it (they are rejected), not the document. JSON lines are streamed line by line.
A `.zip` export or an unpacked export folder is read through its `conversations.json`.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kura_dagster.core.loaders import raw_of

Item = tuple[int, str, Any]  # (record number, raw text, decoded object or loaders.Invalid)
SNIFF_RECORDS = 50


def shape_of(obj: Any) -> str | None:
    """Which export a single decoded record looks like, or None."""
    if not isinstance(obj, dict):
        return None
    if "chat_messages" in obj:
        return "claude"
    if "mapping" in obj and ("current_node" in obj or "create_time" in obj or "title" in obj):
        return "chatgpt"
    conversations = obj.get("conversations")
    if isinstance(conversations, list) and conversations and all(
            isinstance(item, dict) and ("from" in item or "value" in item) for item in conversations[:5]):
        return "sharegpt"
    if "messages" in obj:
        return "kura" if "chat_id" in obj and "created_at" in obj else "openai"
    return None


def document_bytes(path: Path) -> bytes:
    """The bytes of a JSON document: a file, `conversations.json` in a zip, or in an export folder."""
    if path.is_dir():
        inner = path / "conversations.json"
        if not inner.is_file():
            raise ValueError(f"{path}: a folder without conversations.json (nor a saved Hugging Face dataset)")
        return inner.read_bytes()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [name for name in archive.namelist() if name.rsplit("/", 1)[-1] == "conversations.json"]
            if not names:
                raise ValueError(f"{path}: a zip file without conversations.json")
            return archive.read(sorted(names, key=len)[0])
    return path.read_bytes()


def read_document(path: Path) -> Any:
    data = document_bytes(path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    # surrogateescape: a bad byte becomes a lone surrogate in the record holding it, which parse_record rejects.
    text = data.decode("utf-8", "surrogateescape")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a readable JSON document: {error.msg} at line {error.lineno} "
                         f"column {error.colno}") from None
    except RecursionError:
        raise ValueError(f"{path}: not a readable JSON document: nested too deeply") from None


def document_records(document: Any) -> list[Any]:
    """The records of a document: a list, a wrapper {"conversations": [...]}, or a single record."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        own_shape = shape_of(document)
        if own_shape != "sharegpt" and isinstance(document.get("conversations"), list):
            return document["conversations"]
        for key in ("data", "records"):
            if own_shape is None and isinstance(document.get(key), list):
                return document[key]
        return [document]
    raise ValueError(f"expected a JSON list of conversations, got {type(document).__name__}")


def document_items(document: Any) -> Iterator[Item]:
    for number, obj in enumerate(document_records(document), start=1):
        yield number, raw_of(obj), obj


def is_json_lines(path: Path) -> bool:
    """JSON lines, or one JSON document? A document starts with `[`, or its first line is an unfinished
    object (ends with `{ [ , :`), or it is a single line holding a wrapper {"conversations": [...]};
    otherwise a complete JSON object on one of the first lines means JSON lines (so a broken first
    record does not turn JSON lines into a document)."""
    with path.open("rb") as handle:
        seen = 0
        for line in handle:
            stripped = line.strip().lstrip(b"\xef\xbb\xbf").strip()
            if not stripped:
                continue
            seen += 1
            if seen == 1 and (stripped.startswith(b"[") or stripped == b"{"):
                return False
            try:
                obj = json.loads(stripped)
            except (ValueError, RecursionError):
                if seen == 1 and stripped[-1:] in (b"[", b"{", b",", b":"):
                    return False  # the opening line of a document spread over lines
                if seen >= SNIFF_RECORDS:
                    return False
                continue
            if isinstance(obj, dict):
                wrapper = shape_of(obj) is None and any(isinstance(obj.get(key), list)
                                                        for key in ("conversations", "data", "records"))
                return not (wrapper and seen == 1)
            return False
    return True


def sniff_shape(items: Iterator[Item] | list[Any], default: str) -> str:
    """The shape of the first recognisable record among the first few."""
    for count, item in enumerate(items):
        if count >= SNIFF_RECORDS:
            break
        obj = item[2] if isinstance(item, tuple) else item
        shape = shape_of(obj)
        if shape is not None:
            return shape
    return default


def _has_object_line(path: Path) -> bool:
    """Does one of the first non-blank lines hold a complete JSON object on its own?"""
    with path.open("rb") as handle:
        lines = (line.strip() for line in handle)
        for count, line in enumerate(line for line in lines if line):
            if count >= SNIFF_RECORDS:
                return False
            try:
                if isinstance(json.loads(line), dict):
                    return True
            except (ValueError, RecursionError):
                continue
    return False


def json_container(path: Path) -> tuple[str, Any]:
    """("jsonl", None) or ("json", the decoded document).

    When the first line looks like the start of a document but the file does not parse as one, and
    other lines hold complete JSON objects, it is JSON lines whose first record is broken.
    """
    if not path.is_file() or zipfile.is_zipfile(path):
        return "json", read_document(path)
    if is_json_lines(path):
        return "jsonl", None
    try:
        return "json", read_document(path)
    except ValueError:
        if _has_object_line(path):
            return "jsonl", None
        raise
