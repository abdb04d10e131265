"""Read conversations from Kura's JSON dump and from JSONL, keeping every bad record with its reason.

A loader never stops at the first bad record and never drops one silently: each record becomes either a
`Conversation` or a `Rejected` entry naming the file, the record and the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kura_dagster.core.types import Conversation


@dataclass(frozen=True)
class Rejected:
    """A record that could not become a conversation."""

    source: str
    record: int  # 1-based line number (JSONL) or list position (JSON dump)
    reason: str
    raw: str

    def describe(self) -> str:
        return f"{self.source}: record {self.record}: {self.reason}"


@dataclass
class LoadResult:
    conversations: list[Conversation] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def _reason(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def parse_record(obj: Any) -> Conversation:
    """Validate one decoded record; raises ValueError with a readable reason."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    try:
        conversation = Conversation.model_validate(obj)
    except ValidationError as error:
        raise ValueError(_reason(error)) from None
    if not conversation.messages:
        raise ValueError("messages: conversation has no messages")
    if not any(m.content.strip() for m in conversation.messages):
        raise ValueError("messages: every message is empty")
    return conversation


class _Invalid:
    """Marks a record that failed before validation (decoding, JSON syntax)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _collect(source: str, records: Iterable[tuple[int, str, Any]]) -> LoadResult:
    result = LoadResult()
    for number, raw, obj in records:
        if isinstance(obj, _Invalid):
            result.rejected.append(Rejected(source, number, obj.reason, raw[:2000]))
            continue
        try:
            result.conversations.append(parse_record(obj))
        except ValueError as error:
            result.rejected.append(Rejected(source, number, str(error), raw[:2000]))
    return result


def _jsonl_records(path: Path) -> Iterator[tuple[int, str, Any]]:
    with path.open("rb") as handle:
        for number, line_bytes in enumerate(handle, start=1):
            try:
                line = line_bytes.decode("utf-8")
            except UnicodeDecodeError as error:
                yield number, line_bytes.decode("utf-8", "replace"), _Invalid(f"invalid UTF-8 at byte {error.start}")
                continue
            if not line.strip():
                continue
            try:
                yield number, line, json.loads(line)
            except json.JSONDecodeError as error:
                yield number, line, _Invalid(f"malformed JSON: {error.msg} at column {error.colno}")


def load_jsonl(path: str | Path) -> LoadResult:
    """Load one conversation per line; blank lines are skipped, bad lines rejected with their number."""
    path = Path(path)
    return _collect(str(path), _jsonl_records(path))


def load_kura_dump_result(path: str | Path) -> LoadResult:
    """Load Kura's JSON dump (a list of conversations), keeping the rejects."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable JSON document: {error}") from None
    if isinstance(data, dict) and isinstance(data.get("conversations"), list):
        data = data["conversations"]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of conversations, got {type(data).__name__}")
    return _collect(str(path), ((i, json.dumps(obj)[:2000], obj) for i, obj in enumerate(data, start=1)))


def load_kura_dump(path: str | Path) -> list[Conversation]:
    """Kura's `Conversation.from_conversation_dump`: the good conversations of a JSON dump."""
    return load_kura_dump_result(path).conversations


def load_landing_partition(data_dir: str | Path, dataset: str, date: str) -> LoadResult:
    """Read `data/<dataset>/<date>.jsonl`; a missing file is an empty day, not an error."""
    path = Path(data_dir) / dataset / f"{date}.jsonl"
    if not path.exists():
        return LoadResult()
    return load_jsonl(path)
