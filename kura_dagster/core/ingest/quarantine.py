"""The quarantine: every rejected record with its reason, in a JSONL file and the DuckDB table `kura.quarantine`.

`<quarantine_dir>/<dataset>.jsonl` holds one entry per line: {dataset, source, record, reason, raw,
ingested_at}; the table has the same columns. Both are keyed by (dataset, source, record, reason): the
table has that primary key and inserts with ON CONFLICT DO NOTHING, the file is deduplicated on the same
key and rewritten sorted, so ingesting an export again adds nothing (and keeps the first ingested_at).
`source` is the absolute path of the export.

`QuarantineWriter` streams: entries go to a scratch file as they come, and `commit` merges it with the
existing file by key and position (the raw records are never all in memory at once) and inserts into the
table in batches.
"""

from __future__ import annotations

import filecmp
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from kura_dagster.core.ingest.records import Rejected, json_line
from kura_dagster.core.paths import folder_lock

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; stale scratch files are not swept
    fcntl = None  # type: ignore[assignment]

QUARANTINE_TABLE = "quarantine"
SCRATCH_SUFFIX = ".scratch"
BATCH = 2_000  # entries per insert into the table

Key = tuple[str, str, int, str]


def _key(entry: dict) -> Key:
    record = entry.get("record")
    return (
        str(entry.get("dataset", "")),
        str(entry.get("source", "")),
        record if isinstance(record, int) and not isinstance(record, bool) else -1,
        str(entry.get("reason", "")),
    )


class QuarantineWriter:
    """Collects rejected records for one dataset; `commit` writes them (see the module docstring).

    `sample` keeps the first few rejects in memory for the command to print; `count` counts them all.
    `commit` is `merge_file` then `insert_table`. Two ingests of one dataset must not merge the file at
    the same time (each would start from the old file and drop the other's entries, as two concurrent
    ingests with 30,000 rejects each did, keeping 30,000 of 60,000): `merge_file` holds a `flock` on the
    quarantine folder. That folder rather than the dataset's landing folder, so that an ingest whose
    records were all rejected never creates a landing folder (which the sensor would register).

    The scratch file holds a shared `flock` while its writer lives, so `remove_stale_scratch` can tell the
    scratch of a killed ingest (removed) from a live one; it is read back through its own descriptor, so
    even a sweep racing its creation cannot take it away.
    """

    def __init__(
        self,
        quarantine_dir: Path,
        dataset: str,
        *,
        db_path: Path | None = None,
        ingested_at: datetime | None = None,
        sample: int = 100,
    ) -> None:
        self.quarantine_dir = Path(quarantine_dir)
        self.dataset = dataset
        self.db_path = Path(db_path) if db_path is not None else None
        stamp = (ingested_at or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
        self.ingested_at = stamp.isoformat()
        self.sample_size = sample
        self.sample: list[Rejected] = []
        self.count = 0
        self.path: Path | None = None  # the quarantine file, once merged
        self._scratch: Path | None = None
        self._handle: BinaryIO | None = None

    def __enter__(self) -> "QuarantineWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._scratch is not None:
            for sibling in _siblings(self._scratch):
                sibling.unlink(missing_ok=True)
            self._scratch.unlink(missing_ok=True)
            self._scratch = None
        if self._handle is not None:
            self._handle.close()  # after the unlink: closing releases the lock that marks it live
            self._handle = None

    def add(self, rejected: Rejected) -> None:
        if self._handle is None:
            self.quarantine_dir.mkdir(parents=True, exist_ok=True)
            descriptor, name = tempfile.mkstemp(
                prefix=f".{self.dataset}-", suffix=SCRATCH_SUFFIX, dir=self.quarantine_dir
            )
            if fcntl is not None:
                fcntl.flock(descriptor, fcntl.LOCK_SH)
            self._scratch, self._handle = Path(name), os.fdopen(descriptor, "w+b")
        entry = {
            "dataset": self.dataset,
            "source": rejected.source,
            "record": rejected.record,
            "reason": rejected.reason,
            "raw": rejected.raw,
            "ingested_at": self.ingested_at,
        }
        self._handle.write(json_line(entry).encode("utf-8") + b"\n")
        self.count += 1
        if len(self.sample) < self.sample_size:
            self.sample.append(rejected)

    def commit(self) -> Path | None:
        """Merge into the file, then the table; the file's path, or None when nothing was rejected."""
        path = self.merge_file()
        self.insert_table()
        return path

    def merge_file(self) -> Path | None:
        """Merge the rejects into `<quarantine_dir>/<dataset>.jsonl`, under the lock; its path, or None
        when there were none."""
        if self._handle is None or self._scratch is None:
            return None
        self._handle.flush()
        path = self.quarantine_dir / f"{self.dataset}.jsonl"
        with folder_lock(self.quarantine_dir):
            remove_stale_scratch(self.quarantine_dir)
            self._merge_file(path)
        self.path = path
        return path

    def insert_table(self) -> None:
        """Insert the rejects into `kura.quarantine` (after `merge_file`; nothing without a database)."""
        if self.path is None or self.db_path is None:
            return
        import duckdb

        try:  # after the file: if the database is busy past the wait, the file has them
            _insert(self._batches(), self.db_path)
        except duckdb.Error as error:
            raise ValueError(
                f"{self.path} is written, but not the table kura.quarantine in {self.db_path}: {error}; "
                f"ingest again to retry (nothing will be duplicated)"
            ) from None

    def _new_lines(self) -> Iterator[tuple[int, bytes]]:
        assert self._handle is not None
        self._handle.seek(0)
        return _lines(self._handle)

    def _merge_file(self, path: Path) -> None:
        assert self._scratch is not None and self._handle is not None
        entries: dict[Key, tuple[int, int]] = {}  # key -> (0 = existing file / 1 = scratch, offset)
        verbatim, merged = _siblings(self._scratch)
        try:
            if path.exists():
                with path.open("rb") as old, verbatim.open("wb") as keep:
                    for offset, raw in _lines(old):
                        try:
                            entry = json.loads(raw.decode("utf-8", "surrogateescape"))
                            entry.setdefault("dataset", self.dataset)
                            entries.setdefault(_key(entry), (0, offset))
                        except (ValueError, AttributeError, RecursionError):
                            if raw.strip():
                                keep.write(raw.rstrip(b"\r\n") + b"\n")
            for offset, raw in self._new_lines():
                entries.setdefault(_key(json.loads(raw)), (1, offset))
            new = self._handle
            with merged.open("wb") as out:
                old_handle = path.open("rb") if path.exists() else None
                try:
                    for _, (source, offset) in sorted(entries.items(), key=lambda item: item[0]):
                        handle = new if source == 1 else old_handle
                        assert handle is not None
                        handle.seek(offset)
                        out.write(handle.readline().rstrip(b"\r\n") + b"\n")
                finally:
                    if old_handle is not None:
                        old_handle.close()
                if verbatim.exists():
                    with verbatim.open("rb") as lines:
                        out.write(lines.read())
            if path.exists() and filecmp.cmp(merged, path, shallow=False):
                merged.unlink()
            else:
                os.replace(merged, path)
        finally:
            verbatim.unlink(missing_ok=True)
            merged.unlink(missing_ok=True)

    def _batches(self) -> Iterator[list[dict]]:
        batch: list[dict] = []
        for _, raw in self._new_lines():
            batch.append(json.loads(raw))
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def _siblings(scratch: Path) -> tuple[Path, Path]:
    """The files a merge writes next to its scratch file: unparsable old lines, and the merged file."""
    return scratch.with_suffix(".verbatim"), scratch.with_suffix(".merged")


def remove_stale_scratch(quarantine_dir: Path) -> list[Path]:
    """Remove scratch files (and their merge files) of ingests that were killed; returns the scratch files."""
    if fcntl is None:
        return []
    removed = []
    for scratch in sorted(Path(quarantine_dir).glob(f".*{SCRATCH_SUFFIX}")):
        try:
            descriptor = os.open(scratch, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            continue  # a live writer holds it
        try:
            for sibling in _siblings(scratch):
                sibling.unlink(missing_ok=True)
            scratch.unlink(missing_ok=True)
            removed.append(scratch)
        finally:
            os.close(descriptor)
    return removed


def _lines(handle: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(offset, line) for every non-blank line of a binary file."""
    offset = 0
    for raw in handle:
        if raw.strip():
            yield offset, raw
        offset += len(raw)


def _insert(batches: Iterator[list[dict]], db_path: Path) -> None:
    import pyarrow as pa

    from kura_dagster.core.storage.store import connect, qualified

    with connect(db_path) as connection:
        target = qualified(connection, QUARANTINE_TABLE)
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {qualified(connection)}")
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS {target} (dataset VARCHAR NOT NULL, source VARCHAR NOT NULL, "
            "record BIGINT NOT NULL, reason VARCHAR NOT NULL, raw VARCHAR, ingested_at TIMESTAMP NOT NULL, "
            "PRIMARY KEY (dataset, source, record, reason))"
        )
        for batch in batches:
            unique = list({_key(entry): entry for entry in reversed(batch)}.values())  # first of a key wins
            table = pa.table(
                {
                    "dataset": pa.array([e["dataset"] for e in unique], pa.string()),
                    "source": pa.array([e["source"] for e in unique], pa.string()),
                    "record": pa.array([e["record"] for e in unique], pa.int64()),
                    "reason": pa.array([e["reason"] for e in unique], pa.string()),
                    "raw": pa.array([e["raw"] for e in unique], pa.string()),
                    "ingested_at": pa.array(
                        [datetime.fromisoformat(e["ingested_at"]).replace(tzinfo=None) for e in unique],
                        pa.timestamp("us"),
                    ),
                }
            )
            connection.register("incoming_quarantine", table)
            try:
                connection.execute(
                    f"INSERT INTO {target} SELECT * FROM incoming_quarantine ON CONFLICT DO NOTHING"
                )
            finally:
                connection.unregister("incoming_quarantine")
