"""Connectors: every supported export read as a stream of `Conversation`s and `Rejected` records.

    reader = open_export("conversations.json")          # format detected
    for outcome in reader: ...                           # Conversation or Rejected, in input order
    reader.format, reader.records, reader.default_created_at

Formats (`--format`) and how `auto` recognises them:

| format   | what it is                                        | auto-detected by |
|----------|---------------------------------------------------|------------------|
| kura     | Kura's dump: a JSON list of {chat_id, created_at, messages, metadata} | a JSON document whose records have chat_id, created_at and messages |
| jsonl    | the same records, one per line                    | JSON lines whose records have chat_id, created_at and messages |
| claude   | Claude's export `conversations.json`              | records with `chat_messages` |
| chatgpt  | ChatGPT's export `conversations.json`             | records with `mapping` (and title/create_time/current_node) |
| openai   | {"messages": [{role, content}], ...} per line (or a JSON list) | records with `messages` but no chat_id/created_at |
| sharegpt | {"conversations": [{from, value}], ...}           | records whose `conversations` is a list of {from, value} |
| parquet  | a table, one row per conversation or per message  | `.parquet`/`.pq`, or the PAR1 magic bytes |
| csv      | the same as CSV/TSV                               | `.csv`/`.tsv` |
| hf       | a Hugging Face dataset                            | a folder saved with `save_to_disk`; with `--format hf` also data files and hub names |

JSON documents and JSON lines are told apart by the first line (a complete JSON object per line is JSON
lines); the record shape is taken from the first recognisable record among the first 50. A `.zip` export
or an unpacked export folder is read through its `conversations.json`. Unrecognised records default to
Kura's shape, so they are rejected with the field that is missing.
"""

from __future__ import annotations

import itertools
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from kura_dagster.core.ingest.connectors import tables
from kura_dagster.core.ingest.connectors.chat_exports import chatgpt_record, claude_record
from kura_dagster.core.ingest.connectors.common import ConnectorOptions, Context, parse_columns, parse_time
from kura_dagster.core.ingest.connectors.documents import (
    Item,
    document_items,
    first_records,
    json_container,
    sniff_shape,
)
from kura_dagster.core.ingest.connectors.messages import row_record
from kura_dagster.core.ingest.records import (
    Invalid,
    LoadResult,
    Rejected,
    gather,
    jsonl_records,
    parse_record,
    safe_text,
)
from kura_dagster.core.types import Conversation

FORMATS = ("auto", "kura", "jsonl", "claude", "chatgpt", "openai", "sharegpt", "parquet", "csv", "hf")
JSON_FORMATS = ("kura", "jsonl", "claude", "chatgpt", "openai", "sharegpt")

__all__ = [
    "FORMATS",
    "ConnectorOptions",
    "Export",
    "detect_format",
    "load",
    "load_conversations",
    "load_kura_dump",
    "open_export",
    "parse_columns",
    "parse_time",
]


def _json_shape_format(shape: str, container: str) -> str:
    return ("jsonl" if container == "jsonl" else "kura") if shape == "kura" else shape


def _sniff(path: Path) -> tuple[str, Any]:
    """(format, the decoded document when one had to be read to decide)."""
    if path.is_dir():
        if any((path / marker).exists() for marker in tables.HF_MARKERS):
            return "hf", None
        _, document = json_container(path)
        return _json_shape_format(sniff_shape(first_records(document, path), "kura"), "json"), document
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    with path.open("rb") as handle:
        head = handle.read(4096)
    if suffix in (".parquet", ".pq") or head.startswith(b"PAR1"):
        return "parquet", None
    if suffix in (".csv", ".tsv"):
        return "csv", None
    if zipfile.is_zipfile(path):
        _, document = json_container(path)
        return _json_shape_format(sniff_shape(first_records(document, path), "kura"), "json"), document
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start[:1] not in (b"[", b"{"):
        raise ValueError(
            f"{path}: cannot tell the format (not JSON, JSON lines, CSV or Parquet); pass --format"
        )
    container, document = json_container(path)
    if container == "jsonl":
        return _json_shape_format(sniff_shape(jsonl_records(path), "kura"), "jsonl"), None
    return _json_shape_format(sniff_shape(first_records(document, path), "kura"), "json"), document


def detect_format(path: str | Path) -> str:
    """The format `--format auto` picks for a path (see the table in the module docstring)."""
    return _sniff(Path(path))[0]


class Export:
    """One export being read: iterate it for Conversations and Rejected records, in input order.

    `records` counts the input records seen so far; after a full pass it equals the number of
    Conversations plus the number of Rejected. `default_created_at` is the time given to conversations
    that had none (None if no conversation needed it).
    """

    def __init__(
        self, location: str | Path, fmt: str = "auto", options: ConnectorOptions | None = None
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
        self.options = options or ConnectorOptions()
        path = Path(location)
        self._document: Any = None
        if fmt == "auto":
            fmt, self._document = _sniff(path)
        elif fmt != "hf" and not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
        self.format = fmt
        self.path = path
        self.source = str(path.absolute()) if path.exists() else str(location)
        self.context = Context(path, self.options)
        self.records = 0

    @property
    def default_created_at(self) -> datetime | None:
        return self.context.default_used

    def _items(self) -> tuple[Iterator[Item], Callable[[Any], Any]]:
        ctx, fmt = self.context, self.format
        if fmt in JSON_FORMATS:
            converters: dict[str, Callable[[Any], Any]] = {
                "kura": lambda obj: obj,
                "jsonl": lambda obj: obj,
                "claude": lambda obj: claude_record(obj, ctx),
                "chatgpt": lambda obj: chatgpt_record(obj, ctx),
                "openai": lambda obj: row_record(obj, ctx, "openai"),
                "sharegpt": lambda obj: row_record(obj, ctx, "sharegpt"),
            }
            if self._document is not None:
                return document_items(self._document, self.path), converters[fmt]
            if fmt == "jsonl" and self.path.is_file():
                return jsonl_records(self.path), converters[fmt]
            container, document = json_container(self.path)
            items = jsonl_records(self.path) if container == "jsonl" else document_items(document, self.path)
            return items, converters[fmt]
        if fmt == "csv":
            names, rows = tables.csv_rows(self.path)
        elif fmt == "parquet":
            names, rows = tables.parquet_rows(self.path)
        else:
            names, rows = tables.hf_rows(str(self.path) if self.path.exists() else self.source, ctx)
        return tables.table_items(names, rows, ctx, fmt)

    def __iter__(self) -> Iterator[Conversation | Rejected]:
        items, convert = self._items()
        if self.options.max_records is not None:
            items = itertools.islice(items, self.options.max_records)
        limits = self.options.limits
        for number, raw, obj in items:
            self.records += 1
            if isinstance(obj, Invalid):
                yield Rejected(self.source, number, obj.reason, safe_text(raw))
                continue
            try:
                yield parse_record(convert(obj), limits)
            except ValueError as error:
                yield Rejected(self.source, number, str(error), safe_text(raw))


def open_export(location: str | Path, fmt: str = "auto", options: ConnectorOptions | None = None) -> Export:
    return Export(location, fmt, options)


def load(location: str | Path, fmt: str = "auto", options: ConnectorOptions | None = None) -> LoadResult:
    """Read a whole export: the good conversations and the rejects."""
    return gather(open_export(location, fmt, options))


def load_kura_dump(path: str | Path) -> list[Conversation]:
    """Kura's `Conversation.from_conversation_dump`: the good conversations of a JSON dump."""
    return load(path, "kura").conversations


def load_conversations(location: str | Path, fmt: str = "auto", **options: Any) -> list[Conversation]:
    """The good conversations of an export (Kura's `Conversation.from_*` return only those)."""
    return load(location, fmt, ConnectorOptions(**options)).conversations
