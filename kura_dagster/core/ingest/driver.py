"""Normalise an export into the landing zone: `data/<dataset>/<YYYY-MM-DD>.jsonl`, one file per UTC day.

Every input record ends up in exactly one place, and the report's counts say where:
`records_read == accepted + duplicates + quarantined`.

- Landing zone (`core.ingest.landing.LandingWriter`). A conversation goes to the file of its UTC day (naive
  timestamps are UTC). Within one ingest, records are merged by chat_id per day: the same chat_id with
  identical content is kept once (counted as a duplicate); the same chat_id with different content is kept
  too, under a disambiguated id `ID~2` (then `~3`, ...), so two different conversations never overwrite
  each other; a content already seen under that id is a duplicate, whichever copy it repeats. Records
  already in a day's file are merged by chat_id as well (a record ingested again replaces the one on disk,
  which lets a newer export of a conversation update it), and the file is rewritten sorted by
  (created_at, chat_id) through a temporary file. Ingesting the same export twice therefore leaves every
  file byte-identical.
- Exports without timestamps (OpenAI messages, ShareGPT, tables without a time column) need
  `options.default_created_at` (`--default-date`): without it nothing is written (ValueError naming the
  file). Their chat_id is a hash of the content, so an undated conversation already landed on another day
  with the same content is a duplicate (`IngestReport.elsewhere` names the day): the same export ingested
  with another date does not hold every conversation twice.
- Quarantine (`core.ingest.quarantine`). A rejected record is kept with its reason in the JSONL file
  `<quarantine_dir>/<dataset>.jsonl` and, when a DuckDB path is given, the table `kura.quarantine`
  (dataset, source, record, reason, raw, ingested_at), both deduplicated on (dataset, source, record,
  reason), so ingesting an export again adds nothing.

Ingest streams: records are read one at a time (JSON lines line by line, CSV row by row, Parquet by row
group; see `core.ingest.connectors` for the formats read whole), validated and appended to scratch files per
day; memory holds a small digest per conversation, never the conversations. Nothing is written until
the whole export has been read, so an export that cannot be read leaves the landing zone as it was.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from kura_dagster.core.ingest.connectors import ConnectorOptions, open_export
from kura_dagster.core.ingest.landing import LandingWriter
from kura_dagster.core.ingest.quarantine import QUARANTINE_TABLE, QuarantineWriter
from kura_dagster.core.ingest.records import Rejected
from kura_dagster.core.settings import validate_dataset_name

REJECTED_SAMPLE = 100  # rejects kept in the report to show; all of them are in the quarantine


@dataclass
class IngestReport:
    dataset: str
    accepted: int = 0  # landed (including those identical to what was already on disk)
    duplicates: int = 0  # identical repeats within the export, merged into one
    quarantined: int = 0  # rejected records, all written to the quarantine
    rejected: list[Rejected] = field(default_factory=list)  # the first REJECTED_SAMPLE of them
    days: list[str] = field(default_factory=list)
    quarantine_file: Path | None = None
    records_read: int | None = None
    format: str = ""
    unchanged: int = 0  # accepted records whose line was already in the landing zone, byte for byte
    default_created_at: datetime | None = None  # the time given to conversations that had none
    quarantine_table: str | None = None
    elsewhere: dict[str, int] = field(default_factory=dict)  # day -> undated duplicates already landed there

    @property
    def input_records(self) -> int:
        if self.records_read is None:
            return self.accepted + self.duplicates + self.quarantined
        return self.records_read

    @property
    def balanced(self) -> bool:
        return self.accepted + self.duplicates + self.quarantined == self.input_records


def ingest(
    path: str | Path,
    *,
    dataset: str,
    data_dir: Path,
    quarantine_dir: Path,
    fmt: str = "auto",
    options: ConnectorOptions | None = None,
    db_path: Path | None = None,
) -> IngestReport:
    """Read an export, write its good records to the landing zone and its bad ones to the quarantine.

    Nothing is written when the export as a whole cannot be read (a missing file, a JSON document that
    does not parse, unknown columns): that raises FileNotFoundError or ValueError naming the file. Nor
    when its conversations carry no timestamps and `options.default_created_at` gives none (ValueError
    naming the file and `--default-date`): the day they land on is the user's choice, never a guess that
    makes a second ingest with the right date hold them twice.

    The day files and the quarantine file are each merged under a lock (`core.ingest.landing.DatasetLock`,
    `core.ingest.quarantine.QuarantineWriter.merge_file`), so concurrent ingests of one dataset lose nothing.
    """
    validate_dataset_name(dataset)
    export = open_export(path, fmt, options)
    dated = options is not None and options.default_created_at is not None
    with (
        LandingWriter(data_dir, dataset) as landing,
        QuarantineWriter(quarantine_dir, dataset, db_path=db_path, sample=REJECTED_SAMPLE) as quarantine,
    ):
        for outcome in export:
            if isinstance(outcome, Rejected):
                quarantine.add(outcome)
                continue
            if not dated and export.default_created_at is not None:
                raise ValueError(
                    f"{export.path}: record {export.records} has no timestamp (nor has any message "
                    f"of it): pass --default-date YYYY-MM-DD, the day its conversations belong to; "
                    f"nothing was ingested"
                )
            landing.add(outcome)
        days = landing.commit()
        quarantine_file = quarantine.commit()
    report = IngestReport(
        dataset=dataset,
        accepted=landing.written,
        duplicates=landing.duplicates,
        quarantined=quarantine.count,
        rejected=quarantine.sample,
        days=days,
        quarantine_file=quarantine_file,
        records_read=export.records,
        format=export.format,
        unchanged=landing.unchanged,
        default_created_at=export.default_created_at,
        elsewhere=dict(sorted(landing.elsewhere.items())),
    )
    if quarantine_file is not None and db_path is not None:
        report.quarantine_table = f"kura.{QUARANTINE_TABLE}"
    return report


@contextmanager
def signals_stop_like_ctrl_c() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP (a kill, a closed terminal) raise KeyboardInterrupt like Ctrl-C, so an
    ingest unwinds and removes its scratch files (the default action would end the process on the spot).
    For the main thread of a command; the previous handlers come back on exit."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
