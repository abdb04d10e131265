"""The landing zone's layout, `<data_dir>/<dataset>/<YYYY-MM-DD>.jsonl`, read and written in one place.

The sensor, `kura-dagster run` and `demo` all see the same datasets and days, and the same things skipped
with the same reasons: folders whose names are not dataset slugs, files whose names are not real dates, and
links that lead outside the landing zone (a file dropped into the zone must not make the pipeline read, and
log, a file elsewhere on the machine). `LandingWriter` writes the day files (what `kura-dagster ingest` uses)
in bounded memory.
"""

from __future__ import annotations

import difflib
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
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from kura_dagster.core.ingest.records import json_line, parse_record
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


def has_conversations(path: Path) -> bool:
    """Whether a day file exists and holds at least one non-blank line (read up to the first one)."""
    try:
        with Path(path).open("rb") as lines:
            return any(raw.strip() for raw in lines)
    except (FileNotFoundError, NotADirectoryError):
        return False


def no_conversations(data_dir: Path, dataset: str, day: str) -> str:
    """What to tell a person who asked for a day of a dataset that has no data: says so, and why."""
    path = Path(data_dir) / dataset / f"{day}.jsonl"
    days = scan_landing_zone(Path(data_dir)).dates(dataset)
    why = f"{path} is empty" if path.exists() else f"no file {path}"
    have = f"days with files: {days[0]} .. {days[-1]}" if days else "no day files yet: ingest an export first"
    return f"no conversations for {dataset} on {day} ({why}; {have})"


def days_with_conversations(data_dir: Path, dataset: str, days: list[str]) -> tuple[list[str], list[str]]:
    """(the days whose file holds conversations, the others); ValueError saying so when none does."""
    kept = [day for day in days if has_conversations(Path(data_dir) / dataset / f"{day}.jsonl")]
    skipped = [day for day in days if day not in kept]
    if not kept and len(skipped) == 1:
        raise ValueError(no_conversations(data_dir, dataset, skipped[0]))
    if not kept:
        raise ValueError(
            f"no conversations for {dataset} on any of the {len(skipped)} days {skipped[0]} .. "
            f"{skipped[-1]} (no day file with data in {Path(data_dir) / dataset})"
        )
    return kept, skipped


def require_day(data_dir: Path, db_path: Path, dataset: str, day: str) -> None:
    """ValueError saying "no conversations for <dataset> on <day>" unless the day has conversations in
    the landing zone or in the tables (`db_path`)."""
    from kura_dagster.core.storage.store import partition_rows

    if has_conversations(Path(data_dir) / dataset / f"{day}.jsonl"):
        return
    if not partition_rows(db_path, "conversations", dataset, day):
        raise ValueError(no_conversations(data_dir, dataset, day))


def unknown_dataset(dataset: str, known: Iterable[str]) -> str | None:
    """None when `dataset` is known; else the one line that names the known datasets and the closest one."""
    known = sorted(set(known))
    if dataset in known:
        return None
    if not known:
        return (
            f"unknown dataset '{dataset}'; no dataset yet: "
            f"`kura-dagster ingest PATH --dataset {dataset}` creates one"
        )
    message = f"unknown dataset '{dataset}'; known: {', '.join(known)}"
    closest = difflib.get_close_matches(dataset, known, n=1, cutoff=0.6)
    return message + (f"; did you mean '{closest[0]}'?" if closest else "")


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


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _dateless_digest(conversation: Conversation) -> bytes:
    """The digest of a conversation's content without the date it was given (for undated exports)."""
    return _digest(conversation_line(conversation.model_copy(update={"created_at": _EPOCH})))


class DatasetLock:
    """One writer of a dataset's landing-zone folder at a time.

    Two merges of the same day file would each start from the old file and lose the other's records. The
    lock is a `flock` on the dataset folder itself (no lock file to clean up), created on demand. Because an
    ingest that fails or is interrupted removes the folder it created and left empty (a dataset is known by
    its folder), `acquire` checks, once it holds the lock, that the path still names the folder it locked,
    and starts again if not.

    Holding the lock, `acquire` also removes stale scratch folders (`.ingest-*`) of ingests that were killed:
    a live ingest holds a shared lock on its scratch folder, so one that can be locked exclusively has no
    owner left.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.created = False  # whether acquiring it created the folder
        self._descriptor: int | None = None

    def acquire(self) -> None:
        while True:
            try:
                self.folder.mkdir(parents=True)
                self.created = True
            except FileExistsError:
                pass
            if fcntl is None:  # Windows: no advisory lock; do not run two ingests of one dataset at once
                return
            try:
                descriptor = os.open(self.folder, os.O_RDONLY)
            except FileNotFoundError:
                continue  # removed between the two calls
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                current, locked = os.stat(self.folder), os.fstat(descriptor)
                same = (current.st_dev, current.st_ino) == (locked.st_dev, locked.st_ino)
            except FileNotFoundError:
                same = False
            if same:
                self._descriptor = descriptor
                remove_stale_scratch(self.folder)
                return
            os.close(descriptor)  # removed by an ingest that landed nothing while we waited: again

    def release(self, *, remove_if_empty: bool = False) -> None:
        """Unlock; with `remove_if_empty`, first remove the folder if nothing is left in it."""
        try:
            if remove_if_empty:
                try:
                    self.folder.rmdir()  # only succeeds when empty
                except OSError:
                    pass
        finally:
            if self._descriptor is not None:
                os.close(self._descriptor)  # closing releases the lock
                self._descriptor = None


def _try_lock(path: Path, mode: int) -> int | None:
    """A descriptor of `path` holding a `flock` in `mode` (non-blocking), or None if another process holds it."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(descriptor, mode | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        return None
    return descriptor


def remove_stale_scratch(folder: Path) -> list[Path]:
    """Remove the `.ingest-*` scratch folders in `folder` whose ingest is gone (killed); returns them."""
    if fcntl is None:
        return []
    removed = []
    for path in sorted(Path(folder).glob(f"{SCRATCH_PREFIX}*")):
        descriptor = _try_lock(path, fcntl.LOCK_EX)
        if descriptor is None:
            continue  # a live ingest holds it
        try:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        finally:
            os.close(descriptor)
    return removed


class LandingWriter:
    """Streams conversations into `<data_dir>/<dataset>/<day>.jsonl` without holding them in memory.

    `add` appends each conversation's line to a scratch file of its UTC day (a hidden folder inside the
    dataset folder, so the final rename stays on one file system); `commit` then merges each day's scratch
    file with the existing day file and replaces it atomically, only if its bytes change. Nothing in the
    landing zone changes before `commit`, so an export that fails half way leaves it as it was.

    Repeated chat_ids (the rule the module `core.ingest.driver` documents): within a day, the same chat_id with
    identical content is kept once (`duplicates`); with different content the newcomer is kept as `ID~2`
    (then `~3`, ...), unless the same content was already seen under that id (then it is a duplicate too).
    A conversation already in the day file is replaced by the ingested one with the same chat_id, and the
    file is written sorted by (created_at, chat_id). Ingesting the same export twice leaves every file
    byte-identical (and untouched: same modification time).

    A conversation whose export had no timestamp (`metadata["created_at_assumed"]`, dated by
    `--default-date`) that is already landed on another day with the same content is not landed again: its
    chat_id is a hash of its content, so the same export ingested with another date would otherwise hold
    every conversation twice. It counts as a duplicate, and `elsewhere` says on which days they were.

    Locking and scratch: the scratch folder is created, and `commit` merges, under the `DatasetLock`. The
    scratch folder is removed on success, on failure and on Ctrl-C (`close`); one left by a killed ingest
    is removed by the next writer that takes the lock. A dataset folder this writer created and left empty
    (everything rejected, or the export failed) is removed too, so a mistake registers no dataset.

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
        self._assumed: dict[
            str, tuple[str, bytes]
        ] = {}  # chat_id -> (day, dateless digest), for undated ones
        self._elsewhere: set[str] = set()  # undated chat_ids found landed on another day: not landed again
        self.elsewhere: dict[str, int] = {}  # day -> conversations not landed because already there
        self._lock: DatasetLock | None = None
        self._lock_depth = 0
        self._created_folder = False
        self._scratch_lock: int | None = None

    def __enter__(self) -> "LandingWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the scratch files (after `commit`, or instead of it when the export failed), and the dataset
        folder if this writer created it and it is empty."""
        for handle in self._open.values():
            handle.close()
        self._open.clear()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
        if self._scratch_lock is not None:
            os.close(self._scratch_lock)
            self._scratch_lock = None
        if (
            self._created_folder
            and self._lock_depth == 0
            and self.folder.is_dir()
            and not any(self.folder.iterdir())
        ):
            with self.locked():  # removed under the lock (see DatasetLock), when released
                pass

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the dataset lock (re-entrant within this writer)."""
        if self._lock_depth == 0:
            lock = DatasetLock(self.folder)
            lock.acquire()
            self._lock = lock
            self._created_folder = self._created_folder or lock.created
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0 and self._lock is not None:
                self._lock.release(remove_if_empty=self._created_folder)
                self._lock = None

    def add(self, conversation: Conversation) -> None:
        day = conversation.created_at.date().isoformat()
        line = conversation_line(conversation)
        digest = _digest(line)
        key = f"{day}\0{conversation.chat_id}"
        landed = self._landed.get(key)
        if landed is None:
            self._landed[key] = digest
            self._remember_undated(day, conversation)
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
        self._remember_undated(day, renamed)
        self._append(day, renamed, renamed_line)

    def _remember_undated(self, day: str, conversation: Conversation) -> None:
        if conversation.metadata.get("created_at_assumed") is True:
            self._assumed[conversation.chat_id] = (day, _dateless_digest(conversation))

    def _append(self, day: str, conversation: Conversation, line: str) -> None:
        handle = self._handle(day)
        # A scratch line carries what the merge sorts by, so the merge never parses the record again.
        handle.write(
            f"{_sort_key(conversation)}\t{json.dumps(conversation.chat_id)}\t{line}\n".encode(
                "utf-8", "surrogateescape"
            )
        )
        self.written += 1

    def _handle(self, day: str) -> BinaryIO:
        handle = self._open.get(day)
        if handle is not None:
            self._open.move_to_end(day)
            return handle
        if self._scratch is None:
            # Under the dataset lock, and locked (shared) at once: another ingest's sweep of stale scratch
            # folders must never see this one unlocked.
            with self.locked():
                self._scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=self.folder))
                if fcntl is not None:
                    self._scratch_lock = os.open(self._scratch, os.O_RDONLY)
                    fcntl.flock(self._scratch_lock, fcntl.LOCK_SH)
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
        with self.locked():
            if self._assumed:
                self._find_elsewhere()
            landed = [day for day in sorted(self._days) if self._merge_day(day, self._days[day])]
        return landed

    def _find_elsewhere(self) -> None:
        """Undated conversations of this ingest already landed, with the same content, on another day."""
        for path in sorted(self.folder.glob("*.jsonl")):
            day = as_day(path.stem)
            if day is None:
                continue
            with path.open("rb") as lines:
                for raw in lines:
                    if b"created_at_assumed" not in raw:  # cheap: only undated lines can match
                        continue
                    try:
                        conversation = parse_record(json.loads(raw))
                    except (ValueError, RecursionError):
                        continue
                    mine = self._assumed.get(conversation.chat_id)
                    if mine is not None and mine[0] != day and mine[1] == _dateless_digest(conversation):
                        self._elsewhere.add(conversation.chat_id)
                        self.elsewhere[day] = self.elsewhere.get(day, 0) + 1

    def _merge_day(self, day: str, new: Path) -> bool:
        """Merge one day; False when nothing of it is landed (all of it already landed on other days)."""
        assert self._scratch is not None
        # (created_at, chat_id, 0 = new scratch file / 1 = kept from the day file, offset of the line)
        entries: list[tuple[str, str, int, int]] = []
        with new.open("rb") as handle:
            offset = 0
            for raw in handle:
                sort_key, chat_id, _ = raw.split(b"\t", 2)
                identifier = json.loads(chat_id)
                if identifier in self._elsewhere:  # already landed on another day: a duplicate
                    self.written -= 1
                    self.duplicates += 1
                else:
                    entries.append(
                        (sort_key.decode(), identifier, 0, offset + len(sort_key) + len(chat_id) + 2)
                    )
                offset += len(raw)
        path = self.folder / f"{day}.jsonl"
        if not entries and not path.exists():
            return False
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
            return True  # nothing new: leave the file (and its modification time) alone
        os.replace(merged, path)
        return True

    def _keep_old_lines(
        self, day: str, path: Path, kept: Path, unreadable: Path, entries: list[tuple[str, str, int, int]]
    ) -> None:
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
                    landed = (
                        self._landed.get(f"{day}\0{chat_id}")
                        if isinstance(chat_id, str) and chat_id not in self._elsewhere
                        else None
                    )
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
                # An id not landed again (already on another day) keeps the line it has here.
                landed = (
                    None
                    if conversation.chat_id in self._elsewhere
                    else self._landed.get(f"{day}\0{conversation.chat_id}")
                )
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
