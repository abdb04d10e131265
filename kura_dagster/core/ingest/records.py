"""One record → a `Conversation` or a `Rejected` naming why; JSON lines read that way, keeping every bad record.

A loader never stops at the first bad record and never drops one silently: each record becomes either a
`Conversation` or a `Rejected` entry naming the file, the record and the reason. `parse_record` is the one
place where a decoded record is checked, for every format (the connectors in `core.ingest.connectors` turn
Claude, ChatGPT, OpenAI, ShareGPT, table and Hugging Face rows into Kura-shaped records first).

Checks made on every record:
- structure: a JSON object with `chat_id` (non-empty text), `created_at`, a non-empty `messages` list of
  `{role, content}` whose roles are user/assistant/system/tool, and not every message empty;
- text: no invalid UTF-8 / lone surrogates anywhere (they cannot be written to a UTF-8 file);
- timestamps: offsets are converted to UTC and naive times are taken as UTC, for the conversation and its
  messages;
- metadata: a JSON object (or null, read as `{}`), flattened to one level by `normalise_metadata`.

With `Limits` (what ingesting uses; reading the landing zone back does not, so what was accepted once
stays readable): timestamps before 2000-01-01 or more than a day in the future are rejected, and messages
longer than `max_message_chars` are cut, the number of cut messages added to `metadata["truncated_messages"]`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kura_dagster.core.types import Conversation

RAW_LIMIT = 100_000  # characters of a rejected record kept in the quarantine
MAX_CHAT_ID_CHARS = 512
_METADATA_DEPTH = 4  # deeper dicts are JSON-encoded instead of flattened further


@dataclass(frozen=True)
class Rejected:
    """A record that could not become a conversation."""

    source: str
    record: int  # 1-based line number (JSONL), list position (JSON document) or row number (tables)
    reason: str
    raw: str

    def describe(self) -> str:
        return f"{self.source}: record {self.record}: {self.reason}"


@dataclass
class LoadResult:
    conversations: list[Conversation] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def records(self) -> int:
        return len(self.conversations) + len(self.rejected)


@dataclass(frozen=True)
class Limits:
    """Plausibility rules applied when ingesting (not when reading the landing zone back)."""

    max_message_chars: int = 100_000
    earliest: datetime = datetime(2000, 1, 1, tzinfo=timezone.utc)
    future_slack: timedelta = timedelta(days=1)
    now: datetime | None = None  # None: the clock, read when the record is checked

    def latest(self) -> datetime:
        return (self.now or datetime.now(timezone.utc)) + self.future_slack


class Invalid:
    """Marks a record that failed before validation (decoding, JSON syntax, a broken row)."""

    def __init__(self, reason: str, raw: str = "") -> None:
        self.reason = reason
        self.raw = raw  # the record's text, when the reader has it and the item does not


def safe_text(text: str, limit: int = RAW_LIMIT) -> str:
    """Text that can always be written as UTF-8 (lone surrogates become `\\udcxx` escapes), cut at `limit`."""
    text = text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_line(obj: Any, **options: Any) -> str:
    """Compact JSON on one line, readable as such by any reader.

    `ensure_ascii=False` keeps text readable, but leaves U+0085, U+2028 and U+2029 raw, which
    `str.splitlines` (and some JSONL readers) treat as line breaks; they are escaped here. They can only
    occur inside JSON strings, so escaping them does not change the value.
    """
    text = json.dumps(obj, ensure_ascii=False, **options)
    for char, escaped in _LINE_BREAKS.items():
        if char in text:
            text = text.replace(char, escaped)
    return text


def raw_of(obj: Any) -> str:
    """The text kept in the quarantine for a decoded record."""
    try:
        text = json.dumps(obj, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(obj)
    return safe_text(text)


def _reason(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _metadata_value(value: Any) -> Any:
    """A metadata leaf as Kura allows it: text, number, bool, null or a list of those; anything else is JSON."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)) and all(
        item is None or isinstance(item, (str, bool, int, float)) for item in value
    ):
        return [_metadata_value(item) for item in value]
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def normalise_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Flatten nested objects into dotted keys (`{"a": {"b": 1}}` → `{"a.b": 1}`), deterministically.

    Lists of scalars stay lists; lists holding objects, and objects nested deeper than four levels, are
    JSON-encoded text (keys sorted). A flattened key that already exists is kept and the newcomer is stored
    under `key~2` (then `~3`, ...), so nothing is overwritten. The result is a fixed point: flattening it
    again changes nothing, which keeps re-ingesting idempotent.
    """
    flat: dict[str, Any] = {}

    def put(key: str, value: Any) -> None:
        name, suffix = key, 2
        while name in flat:
            name, suffix = f"{key}~{suffix}", suffix + 1
        flat[name] = value

    def walk(prefix: str, value: Any, depth: int) -> None:
        if isinstance(value, dict) and value and depth < _METADATA_DEPTH:
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item, depth + 1)
        elif isinstance(value, dict) and not value:
            put(prefix, "{}")
        else:
            put(prefix, _metadata_value(value))

    for key, value in metadata.items():
        walk(str(key), value, 1)
    return flat


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive time is taken as UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _check_time(name: str, value: datetime, limits: Limits) -> None:
    if value < limits.earliest:
        raise ValueError(f"{name}: {value.isoformat()} is before {limits.earliest.date().isoformat()}")
    if value > limits.latest():
        raise ValueError(f"{name}: {value.isoformat()} is more than {limits.future_slack} in the future")


def parse_record(obj: Any, limits: Limits | None = None) -> Conversation:
    """Validate one decoded record; raises ValueError with a readable reason."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    if "metadata" in obj:
        metadata = obj["metadata"]
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict):
            raise ValueError(f"metadata: expected a JSON object, got {type(metadata).__name__}")
        obj = {**obj, "metadata": normalise_metadata(metadata)}
    try:
        conversation = Conversation.model_validate(obj)
    except ValidationError as error:
        raise ValueError(_reason(error)) from None
    except (OverflowError, ArithmeticError, TypeError) as error:  # e.g. year 9999 with a negative offset
        raise ValueError(f"created_at: out of range ({error})") from None
    chat_id = conversation.chat_id
    if not chat_id.strip():
        raise ValueError("chat_id: empty")
    if len(chat_id) > MAX_CHAT_ID_CHARS:
        raise ValueError(f"chat_id: longer than {MAX_CHAT_ID_CHARS} characters")
    if not conversation.messages:
        raise ValueError("messages: conversation has no messages")
    if not any(m.content.strip() for m in conversation.messages):
        raise ValueError("messages: every message is empty")
    messages = conversation.messages
    for index, message in enumerate(messages):
        if message.created_at is not None and message.created_at.tzinfo != timezone.utc:
            try:
                messages[index] = message.model_copy(update={"created_at": as_utc(message.created_at)})
            except (OverflowError, ArithmeticError) as error:
                raise ValueError(f"messages.{index}.created_at: out of range ({error})") from None
    if limits is not None:
        _check_time("created_at", conversation.created_at, limits)
        for index, message in enumerate(messages):
            if message.created_at is not None:
                _check_time(f"messages.{index}.created_at", message.created_at, limits)
        cut = 0
        for index, message in enumerate(messages):
            if len(message.content) > limits.max_message_chars:
                messages[index] = message.model_copy(
                    update={"content": message.content[: limits.max_message_chars]}
                )
                cut += 1
        if cut:
            previous = conversation.metadata.get("truncated_messages")
            previous = previous if isinstance(previous, int) and not isinstance(previous, bool) else 0
            conversation.metadata["truncated_messages"] = previous + cut
    _check_utf8(conversation)
    return conversation


def _utf8_problem(value: Any) -> int | None:
    """The position of a lone surrogate (what invalid UTF-8 decodes to) in a text, or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        return error.start
    return None


def _check_utf8(conversation: Conversation) -> None:
    """Every text of the record must be writable as UTF-8; encoding each string is much cheaper than
    serialising the whole record to find out."""
    texts: list[tuple[str, Any]] = [("chat_id", conversation.chat_id)]
    texts += [
        (f"messages.{index}.content", message.content) for index, message in enumerate(conversation.messages)
    ]
    for key, value in conversation.metadata.items():
        texts.append(("metadata key", key))
        values = value if isinstance(value, list) else [value]
        texts += [(f"metadata.{_utf8_safe(key)}", item) for item in values if isinstance(item, str)]
    for where, text in texts:
        position = _utf8_problem(text)
        if position is not None:
            raise ValueError(f"invalid UTF-8 (a lone surrogate in {where} at character {position})")


def _utf8_safe(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def collect(
    source: str, records: Iterable[tuple[int, str, Any]], limits: Limits | None = None
) -> Iterator[Conversation | Rejected]:
    """Validate decoded records one by one: each becomes a Conversation or a Rejected, in input order."""
    for number, raw, obj in records:
        if isinstance(obj, Invalid):
            yield Rejected(source, number, obj.reason, safe_text(raw))
            continue
        try:
            yield parse_record(obj, limits)
        except ValueError as error:
            yield Rejected(source, number, str(error), safe_text(raw))


def gather(outcomes: Iterable[Conversation | Rejected]) -> LoadResult:
    result = LoadResult()
    for outcome in outcomes:
        (result.rejected if isinstance(outcome, Rejected) else result.conversations).append(outcome)
    return result


def jsonl_records(path: Path, start: int = 0, end: int | None = None) -> Iterator[tuple[int, str, Any]]:
    """Decoded lines of a JSONL file, streamed: (line number, raw text, object or Invalid); blank lines skipped.
    With `start`/`end`, the lines in that byte range (starting at a line), numbered from 1 within it."""
    with path.open("rb") as handle:
        handle.seek(start)
        position = start
        for number, line_bytes in enumerate(handle, start=1):
            if end is not None and position >= end:
                break
            position += len(line_bytes)
            if number == 1 and start == 0 and line_bytes.startswith(b"\xef\xbb\xbf"):
                line_bytes = line_bytes[3:]  # a UTF-8 byte order mark
            try:
                line = line_bytes.decode("utf-8")
            except UnicodeDecodeError as error:
                yield (
                    number,
                    line_bytes.decode("utf-8", "replace"),
                    Invalid(f"invalid UTF-8 at byte {error.start}"),
                )
                continue
            if not line.strip():
                continue
            try:
                yield number, line.rstrip("\r\n"), json.loads(line)
            except json.JSONDecodeError as error:
                yield (
                    number,
                    line.rstrip("\r\n"),
                    Invalid(f"malformed JSON: {error.msg} at column {error.colno}"),
                )
            except RecursionError:
                yield number, line.rstrip("\r\n"), Invalid("malformed JSON: nested too deeply")


def load_jsonl(path: str | Path, limits: Limits | None = None) -> LoadResult:
    """Load one conversation per line; blank lines are skipped, bad lines rejected with their number."""
    path = Path(path)
    return gather(collect(str(path), jsonl_records(path), limits))
