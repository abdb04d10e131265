"""JSON containers: one JSON document (a list of records, or one record) or JSON lines, and sniffing them.

JSON lines are streamed line by line. A JSON document whose top level is an array (Kura's dump, Claude's
and ChatGPT's `conversations.json`) is streamed too, one element at a time (`array_items`: Python's own
JSON decoder on a sliding window of the text), so memory holds one conversation, not the export; it is
read twice, once to check that it parses as a whole (else it is not ingested at all, as before) and once
to ingest it. A document whose top level is an object (a wrapper `{"conversations": [...]}` or a single
record) is read whole: memory about ten times its size. Invalid UTF-8 inside a document spoils only the
records that contain it (they are rejected), not the document. A `.zip` export or an unpacked export
folder is read through its `conversations.json`.
"""

from __future__ import annotations

import codecs
import json
import re
import zipfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import IO, Any

from kura_dagster.core.ingest.records import raw_of

Item = tuple[int, str, Any]  # (record number, raw text, decoded object or loaders.Invalid)
SNIFF_RECORDS = 50
STREAM_CHUNK = 1 << 20  # bytes read at a time when streaming a JSON array
CUT_MARGIN = 64  # longer than any JSON token but strings and numbers (null, -Infinity, \uXXXX), handled apart


class _Streamed:
    """Stands for a JSON array document that is streamed from its file rather than held in memory."""

    def __repr__(self) -> str:
        return "STREAMED"


STREAMED: Any = _Streamed()


def shape_of(obj: Any) -> str | None:
    """Which export a single decoded record looks like, or None."""
    if not isinstance(obj, dict):
        return None
    if "chat_messages" in obj:
        return "claude"
    if "mapping" in obj and ("current_node" in obj or "create_time" in obj or "title" in obj):
        return "chatgpt"
    conversations = obj.get("conversations")
    if (
        isinstance(conversations, list)
        and conversations
        and all(isinstance(item, dict) and ("from" in item or "value" in item) for item in conversations[:5])
    ):
        return "sharegpt"
    if "messages" in obj:
        return "kura" if "chat_id" in obj and "created_at" in obj else "openai"
    return None


@contextmanager
def open_document(path: Path) -> Iterator[IO[bytes]]:
    """The bytes of a JSON document as a stream: a file, `conversations.json` in a zip, or in an export folder."""
    if path.is_dir():
        inner = path / "conversations.json"
        if not inner.is_file():
            raise ValueError(
                f"{path}: a folder without conversations.json (nor a saved Hugging Face dataset)"
            )
        with inner.open("rb") as handle:
            yield handle
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [name for name in archive.namelist() if name.rsplit("/", 1)[-1] == "conversations.json"]
            if not names:
                raise ValueError(f"{path}: a zip file without conversations.json")
            with archive.open(sorted(names, key=len)[0]) as member:
                yield member
    else:
        with path.open("rb") as handle:
            yield handle


def document_bytes(path: Path) -> bytes:
    """The bytes of a JSON document (see `open_document`), all at once."""
    with open_document(path) as handle:
        return handle.read()


def is_array_document(path: Path) -> bool:
    """Does the document's text start with `[` (after a byte order mark and white space)?"""
    with open_document(path) as handle:
        head = handle.read(4096)
        while head and not head.lstrip(b"\xef\xbb\xbf \t\r\n"):
            more = handle.read(4096)
            if not more:
                break
            head = more
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"["


_WHITE = re.compile(r"[ \t\n\r]*")


def array_items(path: Path, chunk: int = STREAM_CHUNK) -> Iterator[Any]:
    """The elements of a JSON array document, decoded one at a time; ValueError (naming the file, line and
    column) when the document does not parse.

    The text is decoded incrementally (bad bytes become lone surrogates, as `read_document` does) into a
    window that holds the current element and at most about one chunk besides. `json.JSONDecoder.raw_decode`
    decodes each element. A failure within CUT_MARGIN characters of the window's end (or inside a string
    that has not ended) may only mean that the window cuts the element: the window grows (doubling) and
    the element is decoded again. A failure further from the end, or at the end of the file, is a real
    syntax error.
    """
    decoder = json.JSONDecoder()
    with open_document(path) as handle:
        text = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        window, pos, eof, lines_before = "", 0, False, 0

        def read(size: int) -> None:
            nonlocal window, eof
            data = handle.read(size)
            if not data:
                eof = True
            window += text.decode(data, final=not data)

        def skip_white() -> None:
            nonlocal pos
            while True:
                pos = _WHITE.match(window, pos).end()
                if pos < len(window) or eof:
                    return
                read(chunk)

        def fail(message: str, at: int) -> ValueError:
            line = lines_before + window.count("\n", 0, at) + 1
            column = at - window.rfind("\n", 0, at)
            return ValueError(
                f"{path}: not a readable JSON document: {message} at line {line} column {column}"
            )

        read(chunk)
        if window.startswith("\ufeff"):
            pos = 1
        skip_white()
        if window[pos : pos + 1] != "[":
            raise fail("expected a JSON array", pos)
        pos += 1
        skip_white()
        if window[pos : pos + 1] == "]":
            pos += 1
        else:
            while True:
                skip_white()
                while True:
                    try:
                        element, end = decoder.raw_decode(window, pos)
                    except json.JSONDecodeError as error:
                        cut = (
                            error.msg.startswith("Unterminated string")
                            or len(window) - error.pos < CUT_MARGIN
                        )
                        if eof or not cut:
                            raise fail(error.msg, error.pos) from None
                        read(max(chunk, len(window)))  # the element may go on past the window: widen it
                        continue
                    except RecursionError:
                        raise fail("nested too deeply", pos) from None
                    if len(window) - end < CUT_MARGIN and not eof:  # a number at the window's edge may go on
                        read(chunk)
                        continue
                    break
                yield element
                pos = end
                skip_white()
                separator = window[pos : pos + 1]
                if separator == "]":
                    pos += 1
                    break
                if separator != ",":
                    raise fail(
                        "Expecting ',' delimiter" if separator else "unexpected end of the document", pos
                    )
                pos += 1
                if pos > chunk:  # forget what is done, so the window stays small
                    lines_before += window.count("\n", 0, pos)
                    window, pos = window[pos:], 0
        skip_white()
        if pos < len(window):
            raise fail("Extra data", pos)


def read_document(path: Path) -> Any:
    data = document_bytes(path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    # surrogateescape: a bad byte becomes a lone surrogate in the record holding it, which parse_record rejects.
    text = data.decode("utf-8", "surrogateescape")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path}: not a readable JSON document: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
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


def document_items(document: Any, path: Path | None = None) -> Iterator[Item]:
    """(number, raw text, record) for a decoded document, or for a STREAMED one read from `path`."""
    records = array_items(path) if document is STREAMED and path is not None else document_records(document)
    for number, obj in enumerate(records, start=1):
        yield number, raw_of(obj), obj


def first_records(document: Any, path: Path) -> list[Any]:
    """The first records of a document, to sniff their shape; a STREAMED one is opened and closed again."""
    if document is not STREAMED:
        return document_records(document)[:SNIFF_RECORDS]
    with closing(array_items(path)) as records:
        return [record for _, record in zip(range(SNIFF_RECORDS), records)]


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
                wrapper = shape_of(obj) is None and any(
                    isinstance(obj.get(key), list) for key in ("conversations", "data", "records")
                )
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


def _check_array(path: Path) -> Any:
    """STREAMED once a full pass shows that the array document parses (one element at a time in memory)."""
    for _ in array_items(path):
        pass
    return STREAMED


def json_container(path: Path) -> tuple[str, Any]:
    """("jsonl", None) or ("json", the decoded document, or STREAMED for an array read from the file).

    When the first line looks like the start of a document but the file does not parse as one, and
    other lines hold complete JSON objects, it is JSON lines whose first record is broken.
    """

    def document() -> Any:
        return _check_array(path) if is_array_document(path) else read_document(path)

    if not path.is_file() or zipfile.is_zipfile(path):
        return "json", document()
    if is_json_lines(path):
        return "jsonl", None
    try:
        return "json", document()
    except ValueError:
        if _has_object_line(path):
            return "jsonl", None
        raise
