"""The landing zone's layout, `<data_dir>/<dataset>/<YYYY-MM-DD>.jsonl`, read and written in one place.

The sensor, `kura-dagster run` and `demo` all see the same datasets and days, and the same things skipped
with the same reasons: folders whose names are not dataset slugs, files whose names are not real dates, and
links that lead outside the landing zone (a file dropped into the zone must not make the pipeline read, and
log, a file elsewhere on the machine). `LandingWriter` writes the day files (what `kura-dagster ingest` uses)
in bounded memory.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from kura_dagster.core.loaders import json_line, parse_record
from kura_dagster.core.settings import SettingsError, validate_dataset_name
from kura_dagster.core.types import Conversation

try:
    import fcntl
except ImportError:  # Windows: no advisory lock; do not run two ingests of one dataset at once
    fcntl = None  # type: ignore[assignment]

SCRATCH_PREFIX = ".ingest-"  # hidden scratch folders inside a dataset folder, removed after each ingest


def as_day(stem: str) -> str | None:
    """`stem` if it is a real calendar day written YYYY-MM-DD (strptime alone accepts '2026-1-1')."""
    try:
        day = datetime.strptime(stem, "%Y-%m-%d").date()
    except ValueError:
        return None
    return stem if day.isoformat() == stem else None


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, links followed, is `root` or lies below it."""
    return path.resolve().is_relative_to(root.resolve())


def landing_file(data_dir: Path, dataset: str, day: str) -> Path:
    """The day file of a dataset, `<data_dir>/<dataset>/<day>.jsonl`; a bad name or a link out of the zone
    is a ValueError naming it."""
    validate_dataset_name(dataset)
    if as_day(day) is None:
        raise ValueError(f"invalid day {day!r}: expected YYYY-MM-DD")
    path = Path(data_dir) / dataset / f"{day}.jsonl"
    if not inside(path, Path(data_dir)):
        raise ValueError(f"{path} leads outside the landing zone {data_dir}: refusing to read it")
    return path


def file_sha256(path: Path) -> str:
    """SHA-256 of a day file, read in blocks: the data version of its `conversations` partition."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class LandingScan:
    """What a scan found: day files by dataset (sorted), and what it skipped with the reason."""

    files: dict[str, dict[str, Path]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def datasets(self) -> list[str]:
        return sorted(self.files)

    def dates(self, dataset: str) -> list[str]:
        return sorted(self.files.get(dataset, {}))


def scan_landing_zone(data_dir: Path) -> LandingScan:
    """Every dataset folder and day file under `data_dir` (hidden folders ignored, odd names reported)."""
    zone = LandingScan()
    if not data_dir.is_dir():
        return zone
    outside = "a link that leads outside the landing zone"
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            dataset = validate_dataset_name(folder.name)
        except SettingsError as error:
            zone.skipped.append((folder.name, str(error)))
            continue
        if not inside(folder, data_dir):
            zone.skipped.append((folder.name, outside))
            continue
        days = zone.files.setdefault(dataset, {})
        for path in sorted(folder.glob("*.jsonl")):
            day = as_day(path.stem)
            if day is None:
                zone.skipped.append((f"{dataset}/{path.name}", "the name is not a YYYY-MM-DD date"))
            elif not inside(path, data_dir):
                zone.skipped.append((f"{dataset}/{path.name}", outside))
            else:
                days[day] = path
    return zone


# --------------------------------------------------------------------------------------------------
# Writing: bounded memory, whatever the size of the export
# --------------------------------------------------------------------------------------------------


def conversation_line(conversation: Conversation) -> str:
    """A conversation as its landing-zone line: canonical JSON (sorted keys), so equal content, equal bytes."""
    return json_line(conversation.model_dump(mode="json", exclude_none=True), sort_keys=True)


def _digest(line: str) -> bytes:
    return hashlib.blake2b(line.encode("utf-8", "surrogateescape"), digest_size=16).digest()


def _sort_key(conversation: Conversation) -> str:
    return conversation.created_at.isoformat()


@contextmanager
def _dataset_lock(folder: Path) -> Iterator[None]:
    """One ingest per dataset at a time: two merges of the same day file would lose each other's records."""
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    descriptor = os.open(folder, os.O_RDONLY)  # a lock on the folder itself: no lock file to clean up
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


class LandingWriter:
    """Streams conversations into `<data_dir>/<dataset>/<day>.jsonl` without holding them in memory.

    `add` appends each conversation's line to a scratch file of its UTC day (a hidden folder inside the
    dataset folder, so the final rename stays on one file system); `commit` then merges each day's scratch
    file with the existing day file and replaces it atomically, only if its bytes change. Nothing in the
    landing zone changes before `commit`, so an export that fails half way leaves it as it was.

    Repeated chat_ids (the rule the module `core.ingest` documents): within a day, the same chat_id with
    identical content is kept once (`duplicates`); with different content the newcomer is kept as `ID~2`
    (then `~3`, ...), unless the same content was already seen under that id (then it is a duplicate too).
    A conversation already in the day file is replaced by the ingested one with the same chat_id, and the
    file is written sorted by (created_at, chat_id). Ingesting the same export twice leaves every file
    byte-identical (and untouched: same modification time).

    Memory: per conversation, a 16-byte digest of its line keyed by day and chat_id, plus, while its day is
    merged, its sort key and position: a few hundred bytes with Python's overhead, never the conversation
    itself (`bench/ingest_memory.py`: about 100 MiB for a 1 GiB export of 218,000 conversations).
    """

    def __init__(self, data_dir: Path, dataset: str, *, max_open_files: int = 32) -> None:
        validate_dataset_name(dataset)
        self.folder = Path(data_dir) / dataset
        self.max_open_files = max_open_files
        self.written = 0  # landed records (renamed variants included), duplicates excluded
        self.duplicates = 0
        self.unchanged = 0  # landed records whose line was already in the day file, byte for byte
        self._scratch: Path | None = None
        self._days: dict[str, Path] = {}
        self._open: OrderedDict[str, BinaryIO] = OrderedDict()
        self._landed: dict[str, bytes] = {}  # "day\0chat_id" -> digest of the line landed under that id
        self._seen: dict[str, list[bytes]] = {}  # "day\0chat_id" -> digests of every content seen with the id

    def __enter__(self) -> "LandingWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the scratch files (after `commit`, or instead of it when the export failed)."""
        for handle in self._open.values():
            handle.close()
        self._open.clear()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def add(self, conversation: Conversation) -> None:
        day = conversation.created_at.date().isoformat()
        line = conversation_line(conversation)
        digest = _digest(line)
        key = f"{day}\0{conversation.chat_id}"
        landed = self._landed.get(key)
        if landed is None:
            self._landed[key] = digest
            self._append(day, conversation, line)
            return
        seen = self._seen.get(key)
        if digest == landed or (seen is not None and digest in seen):
            self.duplicates += 1  # the same record twice: kept once
            return
        # Same id, other content: keep both, the newcomer under the first free disambiguated id.
        if seen is None:
            seen = self._seen[key] = [landed]
        seen.append(digest)
        suffix = 2
        while f"{key}~{suffix}" in self._landed:
            suffix += 1
        renamed = conversation.model_copy(update={"chat_id": f"{conversation.chat_id}~{suffix}"})
        renamed_line = conversation_line(renamed)
        self._landed[f"{key}~{suffix}"] = _digest(renamed_line)
        self._append(day, renamed, renamed_line)

    def _append(self, day: str, conversation: Conversation, line: str) -> None:
        handle = self._handle(day)
        # A scratch line carries what the merge sorts by, so the merge never parses the record again.
        handle.write(f"{_sort_key(conversation)}\t{json.dumps(conversation.chat_id)}\t{line}\n"
                     .encode("utf-8", "surrogateescape"))
        self.written += 1

    def _handle(self, day: str) -> BinaryIO:
        handle = self._open.get(day)
        if handle is not None:
            self._open.move_to_end(day)
            return handle
        if self._scratch is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=self.folder))
        path = self._days.setdefault(day, self._scratch / f"{day}.new")
        if len(self._open) >= self.max_open_files:  # an export spanning years: keep few files open
            self._open.popitem(last=False)[1].close()
        handle = self._open[day] = path.open("ab")
        return handle

    def commit(self) -> list[str]:
        """Merge every day touched into its file; returns the days, sorted."""
        for handle in self._open.values():
            handle.close()
        self._open.clear()
        if not self._days:
            return []
        with _dataset_lock(self.folder):
            for day in sorted(self._days):
                self._merge_day(day, self._days[day])
        return sorted(self._days)

    def _merge_day(self, day: str, new: Path) -> None:
        assert self._scratch is not None
        # (created_at, chat_id, 0 = new scratch file / 1 = kept from the day file, offset of the line)
        entries: list[tuple[str, str, int, int]] = []
        with new.open("rb") as handle:
            offset = 0
            for raw in handle:
                sort_key, chat_id, _ = raw.split(b"\t", 2)
                entries.append((sort_key.decode(), json.loads(chat_id), 0, offset + len(sort_key) + len(chat_id) + 2))
                offset += len(raw)
        path = self.folder / f"{day}.jsonl"
        kept, unreadable = self._scratch / f"{day}.kept", self._scratch / f"{day}.unreadable"
        if path.exists():
            self._keep_old_lines(day, path, kept, unreadable, entries)
        entries.sort(key=lambda entry: (entry[0], entry[1]))
        merged = self._scratch / f"{day}.jsonl"
        with merged.open("wb") as out, new.open("rb") as new_lines, ExitStack() as stack:
            old_lines = stack.enter_context(kept.open("rb")) if kept.exists() else None
            for _, _, source, position in entries:
                handle = new_lines if source == 0 else old_lines
                assert handle is not None
                handle.seek(position)
                out.write(handle.readline())
            if unreadable.exists():
                with unreadable.open("rb") as lines:
                    shutil.copyfileobj(lines, out)
        if path.exists() and filecmp.cmp(merged, path, shallow=False):
            return  # nothing new: leave the file (and its modification time) alone
        os.replace(merged, path)

    def _keep_old_lines(self, day: str, path: Path, kept: Path, unreadable: Path,
                        entries: list[tuple[str, str, int, int]]) -> None:
        """Add the day file's conversations that no ingested one replaces; lines that no longer parse are
        kept verbatim, in their order, at the end of the file."""
        positions: dict[str, int] = {}  # chat_id -> index in entries, for a day file holding an id twice
        matched: set[str] = set()
        with path.open("rb") as old, kept.open("wb") as keep, unreadable.open("wb") as bad:
            for raw in old:
                text = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
                if not text.strip():
                    continue
                try:
                    record = json.loads(text)
                    chat_id = record.get("chat_id") if isinstance(record, dict) else None
                    landed = self._landed.get(f"{day}\0{chat_id}") if isinstance(chat_id, str) else None
                    if landed is not None and landed == _digest(text):
                        # Byte for byte the line being landed (the usual case when an export comes again):
                        # replaced by itself, so there is nothing to validate.
                        if chat_id not in matched:
                            matched.add(chat_id)
                            self.unchanged += 1
                        continue
                    conversation = parse_record(record)
                except (ValueError, RecursionError):
                    bad.write(text.encode("utf-8", "surrogateescape") + b"\n")
                    continue
                line = conversation_line(conversation)
                landed = self._landed.get(f"{day}\0{conversation.chat_id}")
                if landed is not None:  # replaced by the ingested record with this id
                    if landed == _digest(line) and conversation.chat_id not in matched:
                        matched.add(conversation.chat_id)
                        self.unchanged += 1
                    continue
                entry = (_sort_key(conversation), conversation.chat_id, 1, keep.tell())
                keep.write(line.encode("utf-8") + b"\n")
                if conversation.chat_id in positions:
                    entries[positions[conversation.chat_id]] = entry  # the later line wins
                else:
                    positions[conversation.chat_id] = len(entries)
                    entries.append(entry)
        if unreadable.stat().st_size == 0:
            unreadable.unlink()


def write_landing_zone(conversations: Iterable[Conversation], data_dir: Path, dataset: str,
                       stats: dict[str, int] | None = None) -> tuple[int, int, list[str]]:
    """Merge conversations into their day files; returns (written, duplicates, days touched).

    `stats["unchanged"]` (if a dict is given) counts written records that were already on disk unchanged.
    """
    with LandingWriter(data_dir, dataset) as writer:
        for conversation in conversations:
            writer.add(conversation)
        days = writer.commit()
    if stats is not None:
        stats["unchanged"] = writer.unchanged
    return writer.written, writer.duplicates, days
