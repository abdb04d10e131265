"""Normalise an export into the landing zone: `data/<dataset>/<YYYY-MM-DD>.jsonl`, one file per UTC day.

Every input record ends up in exactly one place, and the report's counts say where:
`records_read == accepted + duplicates + quarantined`.

- Landing zone. A conversation goes to the file of its UTC day (naive timestamps are UTC). Within one
  ingest, records are merged by chat_id per day: the same chat_id with identical content is kept once
  (counted as a duplicate); the same chat_id with different content is kept too, under a disambiguated
  id `ID~2` (then `~3`, ...), so two different conversations never overwrite each other. Records already
  in a day's file are merged by chat_id as well (a record ingested again replaces the one on disk, which
  lets a newer export of a conversation update it), and the file is rewritten sorted by
  (created_at, chat_id) through a temporary file. Ingesting the same export twice therefore leaves every
  file byte-identical.
- Quarantine. A rejected record is kept with its reason in two places: the JSONL file
  `<quarantine_dir>/<dataset>.jsonl` and, when a DuckDB path is given, the table `kura.quarantine`
  (dataset, source, record, reason, raw, ingested_at). Both are keyed by (dataset, source, record, reason):
  the table has that primary key and inserts with ON CONFLICT DO NOTHING, the file is deduplicated on the
  same key and rewritten sorted, so ingesting an export again adds nothing (and keeps the first
  ingested_at). `source` is the absolute path of the export.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from kura_dagster.core.connectors import FORMATS, ConnectorOptions, detect_format, load, open_export
from kura_dagster.core.loaders import LoadResult, Rejected, json_line, parse_record
from kura_dagster.core.settings import validate_dataset_name
from kura_dagster.core.types import Conversation

__all__ = ["FORMATS", "IngestReport", "conversation_line", "detect_format", "ingest", "load_export",
           "write_landing_zone", "write_quarantine"]

QUARANTINE_TABLE = "quarantine"


@dataclass
class IngestReport:
    dataset: str
    accepted: int = 0  # landed (including those identical to what was already on disk)
    duplicates: int = 0  # identical repeats within the export, merged into one
    rejected: list[Rejected] = field(default_factory=list)
    days: list[str] = field(default_factory=list)
    quarantine_file: Path | None = None
    records_read: int | None = None
    format: str = ""
    unchanged: int = 0  # accepted records whose line was already in the landing zone, byte for byte
    default_created_at: datetime | None = None  # the time given to conversations that had none
    quarantine_table: str | None = None

    @property
    def input_records(self) -> int:
        if self.records_read is None:
            return self.accepted + self.duplicates + len(self.rejected)
        return self.records_read

    @property
    def balanced(self) -> bool:
        return self.accepted + self.duplicates + len(self.rejected) == self.input_records


def load_export(path: str | Path, fmt: str = "auto", options: ConnectorOptions | None = None) -> LoadResult:
    """The good conversations and the rejects of an export (see `core.connectors` for the formats)."""
    return load(path, fmt, options)


def conversation_line(conversation: Conversation) -> str:
    record = conversation.model_dump(mode="json", exclude_none=True)
    return json_line(record, sort_keys=True)


def _sort_key(conversation: Conversation) -> str:
    return conversation.created_at.isoformat()


def _read_day(path: Path) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """A day file as {chat_id: (sort key, line)}, plus lines that no longer parse (kept verbatim)."""
    known: dict[str, tuple[str, str]] = {}
    unreadable: list[str] = []
    with path.open("r", encoding="utf-8", errors="surrogateescape") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            try:
                conversation = parse_record(json.loads(line))
            except (ValueError, RecursionError):
                unreadable.append(line)
                continue
            known[conversation.chat_id] = (_sort_key(conversation), conversation_line(conversation))
    return known, unreadable


def write_landing_zone(conversations: Iterable[Conversation], data_dir: Path, dataset: str,
                       stats: dict[str, int] | None = None) -> tuple[int, int, list[str]]:
    """Merge conversations into their day files; returns (written, duplicates, days touched).

    The rule for repeated chat_ids is in the module docstring. `stats["unchanged"]` (if a dict is
    given) counts written records that were already on disk unchanged.
    """
    validate_dataset_name(dataset)
    folder = Path(data_dir) / dataset
    by_day: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    duplicates = total = 0
    for conversation in conversations:
        total += 1
        day = conversation.created_at.date().isoformat()
        line = conversation_line(conversation)
        known = by_day[day].get(conversation.chat_id)
        if known is None:
            by_day[day][conversation.chat_id] = (_sort_key(conversation), line)
        elif known[1] == line:
            duplicates += 1  # the same record twice: kept once
        else:
            # Same id, different content: keep both, the newcomer under a disambiguated id.
            suffix = 2
            while f"{conversation.chat_id}~{suffix}" in by_day[day]:
                suffix += 1
            renamed = conversation.model_copy(update={"chat_id": f"{conversation.chat_id}~{suffix}"})
            by_day[day][renamed.chat_id] = (_sort_key(renamed), conversation_line(renamed))
    unchanged = 0
    if by_day:
        folder.mkdir(parents=True, exist_ok=True)
    for day, lines in by_day.items():
        path = folder / f"{day}.jsonl"
        merged, unreadable = _read_day(path) if path.exists() else ({}, [])
        unchanged += sum(1 for chat_id, item in lines.items() if merged.get(chat_id) == item)
        merged.update(lines)
        ordered = [line for _, (_, line) in sorted(merged.items(), key=lambda kv: (kv[1][0], kv[0]))]
        text = "".join(line + "\n" for line in ordered + sorted(unreadable))
        if path.exists() and path.read_bytes() == text.encode("utf-8", "surrogateescape"):
            continue  # nothing new: leave the file (and its modification time) alone
        temporary = path.with_suffix(".jsonl.tmp")
        temporary.write_bytes(text.encode("utf-8", "surrogateescape"))
        temporary.replace(path)
    if stats is not None:
        stats["unchanged"] = unchanged
    return total - duplicates, duplicates, sorted(by_day)


def _quarantine_key(entry: dict) -> tuple[str, str, int, str]:
    record = entry.get("record")
    return (str(entry.get("dataset", "")), str(entry.get("source", "")),
            record if isinstance(record, int) else -1, str(entry.get("reason", "")))


def _write_quarantine_table(entries: list[dict], db_path: Path) -> str:
    import pyarrow as pa

    from kura_dagster.core.store import connect, qualified

    table = pa.table({
        "dataset": pa.array([e["dataset"] for e in entries], pa.string()),
        "source": pa.array([e["source"] for e in entries], pa.string()),
        "record": pa.array([e["record"] for e in entries], pa.int64()),
        "reason": pa.array([e["reason"] for e in entries], pa.string()),
        "raw": pa.array([e["raw"] for e in entries], pa.string()),
        "ingested_at": pa.array([datetime.fromisoformat(e["ingested_at"]).replace(tzinfo=None) for e in entries],
                                pa.timestamp("us")),
    })
    with connect(db_path) as connection:
        target = qualified(connection, QUARANTINE_TABLE)
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {qualified(connection)}")
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS {target} (dataset VARCHAR NOT NULL, source VARCHAR NOT NULL, "
            "record BIGINT NOT NULL, reason VARCHAR NOT NULL, raw VARCHAR, ingested_at TIMESTAMP NOT NULL, "
            "PRIMARY KEY (dataset, source, record, reason))")
        connection.register("incoming_quarantine", table)
        try:
            connection.execute(f"INSERT INTO {target} SELECT * FROM incoming_quarantine ON CONFLICT DO NOTHING")
        finally:
            connection.unregister("incoming_quarantine")
    return f"kura.{QUARANTINE_TABLE}"


def write_quarantine(rejected: Sequence[Rejected], quarantine_dir: Path, dataset: str, *,
                     db_path: Path | None = None, ingested_at: datetime | None = None) -> Path | None:
    """Keep rejected records with their reasons in `<quarantine_dir>/<dataset>.jsonl` (and `kura.quarantine`).

    Deduplicated on (dataset, source, record, reason): see the module docstring.
    """
    if not rejected:
        return None
    stamp = (ingested_at or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    entries = {}
    for item in rejected:
        entry = {"dataset": dataset, "source": item.source, "record": item.record, "reason": item.reason,
                 "raw": item.raw, "ingested_at": stamp.isoformat()}
        entries.setdefault(_quarantine_key(entry), entry)
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    path = quarantine_dir / f"{dataset}.jsonl"
    merged: dict[tuple, str] = {}
    verbatim: list[str] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
            try:
                old = json.loads(line)
                old.setdefault("dataset", dataset)
                merged.setdefault(_quarantine_key(old), line)
            except (ValueError, AttributeError):
                if line.strip():
                    verbatim.append(line)
    for key, entry in entries.items():
        merged.setdefault(key, json_line(entry))
    text = "".join(line + "\n" for _, line in sorted(merged.items(), key=lambda kv: kv[0])) + \
        "".join(line + "\n" for line in verbatim)
    data = text.encode("utf-8", "surrogateescape")
    if not path.exists() or path.read_bytes() != data:
        temporary = path.with_suffix(".jsonl.tmp")
        temporary.write_bytes(data)
        temporary.replace(path)
    if db_path is not None:  # after the file: if the database is busy past the wait, the file still has them
        import duckdb

        try:
            _write_quarantine_table(list(entries.values()), Path(db_path))
        except duckdb.Error as error:
            raise ValueError(f"{path} is written, but not the table kura.quarantine in {db_path}: {error}; "
                             f"ingest again to retry (nothing will be duplicated)") from None
    return path


def ingest(path: str | Path, *, dataset: str, data_dir: Path, quarantine_dir: Path, fmt: str = "auto",
           options: ConnectorOptions | None = None, db_path: Path | None = None) -> IngestReport:
    """Read an export, write its good records to the landing zone and its bad ones to the quarantine.

    Nothing is written when the export as a whole cannot be read (a missing file, a JSON document that
    does not parse, unknown columns): that raises FileNotFoundError or ValueError naming the file.
    """
    validate_dataset_name(dataset)
    export = open_export(path, fmt, options)
    rejected: list[Rejected] = []

    def good() -> Iterable[Conversation]:
        for outcome in export:
            if isinstance(outcome, Rejected):
                rejected.append(outcome)
            else:
                yield outcome

    stats: dict[str, int] = {}
    written, duplicates, days = write_landing_zone(good(), data_dir, dataset, stats)
    report = IngestReport(dataset=dataset, accepted=written, duplicates=duplicates, rejected=rejected, days=days,
                          records_read=export.records, format=export.format, unchanged=stats.get("unchanged", 0),
                          default_created_at=export.default_created_at)
    report.quarantine_file = write_quarantine(rejected, quarantine_dir, dataset, db_path=db_path)
    if rejected and db_path is not None:
        report.quarantine_table = f"kura.{QUARANTINE_TABLE}"
    return report
