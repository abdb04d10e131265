"""What every connector shares: options, timestamps, roles, message content and derived ids."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from kura_dagster.core.ingest.records import Limits, as_utc

# Keys a `--columns` mapping may set. `created_at` is the conversation's time in a one-row-per-conversation
# table and the message's time in a one-row-per-message table; `order` sorts the messages of a conversation.
COLUMN_KEYS = ("chat_id", "created_at", "messages", "role", "content", "metadata", "order")

# Column names tried, in order, when `--columns` does not name one.
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "chat_id": ("chat_id", "conversation_id", "id", "uuid"),
    "created_at": ("created_at", "timestamp", "created", "create_time", "date", "time"),
    "messages": ("messages", "conversations", "conversation", "chat_messages"),
    "role": ("role", "from", "sender", "author"),
    "content": ("content", "text", "value", "message"),
    "metadata": ("metadata",),
    "order": ("turn", "message_index", "turn_index", "position"),
}

ROLE_ALIASES: dict[str, str] = {
    "user": "user",
    "human": "user",
    "prompter": "user",
    "customer": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "ai": "assistant",
    "claude": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "function_call": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
    "function": "tool",
    "observation": "tool",
    "function_response": "tool",
    "ipython": "tool",
}

RowFunction = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class ConnectorOptions:
    """How to read an export; every field has a default that suits the common case.

    default_created_at: the time given to conversations whose export carries none (OpenAI messages,
        ShareGPT, tables without a time column). None: midnight UTC of the day the file was last modified,
        so re-reading the same file is stable; `core.ingest.driver.ingest` refuses such an export without one.
    columns: `--columns` mapping, {key in COLUMN_KEYS: column name}.
    split: the split of a Hugging Face dataset.
    max_records: stop after this many records (Kura's `max_conversations`).
    row_function: turns one raw row/record into a Kura-shaped dict (Kura's `*_fn` arguments); errors it
        raises reject that record.
    metadata_function: extra metadata computed from the raw record (Kura's `metadata_fn`).
    cache_dir: where Hugging Face `datasets` keeps its files (None: its own default, ~/.cache/huggingface).
    """

    default_created_at: datetime | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    split: str = "train"
    max_records: int | None = None
    limits: Limits = field(default_factory=Limits)
    row_function: RowFunction | None = None
    metadata_function: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    cache_dir: Path | None = None


class Context:
    """Per-export state handed to the record converters."""

    def __init__(self, path: Path | str, options: ConnectorOptions) -> None:
        self.path = path
        self.options = options
        self._default: datetime | None = None
        self.defaulted = 0  # conversations given the default time

    def default_created_at(self) -> datetime:
        if self._default is None:
            if self.options.default_created_at is not None:
                self._default = as_utc(self.options.default_created_at)
            else:
                self._default = _mtime_day(self.path)
        self.defaulted += 1
        return self._default

    @property
    def default_used(self) -> datetime | None:
        return self._default if self.defaulted else None

    def extra_metadata(self, raw: dict[str, Any]) -> dict[str, Any]:
        if self.options.metadata_function is None:
            return {}
        return call_user_function(self.options.metadata_function, raw, "metadata function")


def _mtime_day(path: Path | str) -> datetime:
    try:
        stamp = Path(path).stat().st_mtime
    except OSError:
        stamp = datetime.now(timezone.utc).timestamp()
    day = datetime.fromtimestamp(stamp, tz=timezone.utc).date()
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def parse_time(value: Any, name: str = "created_at") -> datetime:
    """A timestamp from ISO text, epoch seconds (or milliseconds), a datetime or a date; UTC, naive = UTC."""
    try:
        if isinstance(value, datetime):
            return as_utc(value)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
        if isinstance(value, bool) or value is None:
            raise ValueError("missing" if value is None else "not a timestamp")
        if isinstance(value, (int, float)):
            return _epoch(float(value))
        if hasattr(value, "to_pydatetime"):  # pandas / numpy timestamps
            return as_utc(value.to_pydatetime())
        if isinstance(value, str):
            text = value.strip()
            if not text:
                raise ValueError("missing")
            try:
                return _epoch(float(text))
            except ValueError:
                pass
            if text[-1] in "Zz":
                text = text[:-1] + "+00:00"
            elif text.endswith(" UTC"):
                text = text[:-4] + "+00:00"
            return as_utc(datetime.fromisoformat(text))
        raise ValueError(f"not a timestamp ({type(value).__name__})")
    except (ValueError, OverflowError, OSError) as error:
        shown = repr(value) if len(repr(value)) < 60 else repr(value)[:57] + "..."
        raise ValueError(
            f"{name}: {error} ({shown})" if str(error) != "missing" else f"{name}: missing"
        ) from None


def _epoch(seconds: float) -> datetime:
    if not math.isfinite(seconds):
        raise ValueError("not a finite number")
    if abs(seconds) > 1e11:  # milliseconds since the epoch
        seconds /= 1000.0
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def role_of(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a role, got {type(value).__name__}")
    role = ROLE_ALIASES.get(value.strip().lower())
    if role is None:
        raise ValueError(f"{name}: unknown role {value[:40]!r}")
    return role


def as_text(value: Any, name: str) -> str:
    """Text from a str or UTF-8 bytes (tables may hold binary columns)."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{name}: invalid UTF-8 at byte {error.start}") from None
    if isinstance(value, str):
        return value
    raise ValueError(f"{name}: expected text, got {type(value).__name__}")


def placeholder(kind: str, name: Any = None) -> str:
    """A short stand-in for what is not text (a tool call, an image, an attachment)."""
    name = str(name).strip()[:120] if name not in (None, "") else ""
    return f"[{kind}: {name}]" if name else f"[{kind}]"


def content_text(value: Any, name: str) -> str:
    """OpenAI-style content: a string, a list of parts ({type: text|image_url|...}) or null."""
    if value is None:
        return ""
    if isinstance(value, (str, bytes)):
        return as_text(value, name)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ValueError(f"{name}: expected text or a list of parts, got {type(value).__name__}")
    pieces = []
    for index, part in enumerate(value):
        if isinstance(part, (str, bytes)):
            pieces.append(as_text(part, f"{name}.{index}"))
        elif isinstance(part, dict):
            kind = str(part.get("type") or "part")
            if isinstance(part.get("text"), str):
                pieces.append(part["text"])
            elif kind in ("image_url", "image", "input_image"):
                pieces.append(placeholder("image"))
            elif kind in ("input_audio", "audio"):
                pieces.append(placeholder("audio"))
            elif kind in ("file", "input_file", "document"):
                file = part.get("file") if isinstance(part.get("file"), dict) else part
                pieces.append(placeholder("attachment", file.get("filename") or file.get("name")))
            else:
                pieces.append(placeholder(kind, part.get("name")))
        elif part is not None:
            raise ValueError(f"{name}.{index}: expected text or a part object, got {type(part).__name__}")
    return "\n".join(piece for piece in pieces if piece)


def content_hash(obj: Any) -> str:
    """16 hex digits of SHA-256 over the canonical JSON of a record: the same record, the same id."""
    canonical = json.dumps(obj, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def parse_columns(text: str | None) -> dict[str, str]:
    """`chat_id=id,created_at=ts,messages=msgs` → {"chat_id": "id", ...}."""
    columns: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, column = item.partition("=")
        key, column = key.strip(), column.strip()
        if not sep or not column:
            raise ValueError(f"--columns: {item.strip()!r} is not KEY=COLUMN")
        if key not in COLUMN_KEYS:
            raise ValueError(f"--columns: unknown key {key!r}: expected one of {', '.join(COLUMN_KEYS)}")
        columns[key] = column
    return columns


def conversation_time(value: Any, name: str, messages: list[dict[str, Any]]) -> datetime:
    """The conversation's own timestamp, else its earliest message's; an error when neither exists."""
    if value not in (None, ""):
        return parse_time(value, name)
    stamps = [message["created_at"] for message in messages if "created_at" in message]
    if not stamps:
        raise ValueError(f"{name}: missing")
    return min(stamps)


def call_user_function(function, argument: Any, what: str) -> dict[str, Any]:
    """A user's mapping function: its failure or a non-dict result rejects this record, not the export."""
    try:
        result = function(argument)
    except Exception as error:
        raise ValueError(f"{what} failed: {type(error).__name__}: {error}") from None
    if not isinstance(result, dict):
        raise ValueError(f"{what} returned {type(result).__name__}, not a dict")
    return result
