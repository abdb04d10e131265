"""Reading the landing zone back: a day's file as validated conversations, or straight into a table.

The `conversations` stage reads a day's file straight into an Arrow table, a range of lines at a time: a
million validated `Conversation` objects at once would be several GB, and each range can be parsed in its own
process (`core.processes`). Records are checked by `core.ingest.records` without ingest's `Limits`, so what
was accepted once stays readable.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pyarrow as pa

from kura_dagster.core.ingest.landing import landing_file
from kura_dagster.core.ingest.records import LoadResult, Rejected, collect, gather, jsonl_records, load_jsonl
from kura_dagster.core.processes import map_in_processes
from kura_dagster.core.storage.tables import SCHEMAS, conversations_to_arrow


def load_landing_partition(data_dir: str | Path, dataset: str, date: str) -> LoadResult:
    """Read `data/<dataset>/<date>.jsonl`; a missing file is an empty day, not an error."""
    path = landing_file(Path(data_dir), dataset, date)  # names checked, no link out of the zone
    if not path.exists():
        return LoadResult()
    return load_jsonl(path)


def jsonl_ranges(path: Path, target_bytes: int) -> list[tuple[int, int]]:
    """Byte ranges [start, end) of whole lines covering the file, about `target_bytes` each."""
    size = path.stat().st_size
    starts = [0]
    with path.open("rb") as handle:
        while starts[-1] + target_bytes < size:
            handle.seek(starts[-1] + target_bytes)
            handle.readline()  # to the start of the next line
            if handle.tell() >= size:
                break
            starts.append(handle.tell())
    return list(zip(starts, starts[1:] + [size]))


def load_jsonl_range(path: str | Path, start: int, end: int) -> tuple[pa.Table, list[Rejected], int]:
    """The conversations of the lines in bytes [start, end) as a conversations table, the rejected records
    (numbered from 1 within the range) and how many lines the range holds."""
    result = gather(collect(str(path), jsonl_records(Path(path), start, end)))
    with Path(path).open("rb") as handle:
        handle.seek(start)
        lines = handle.read(end - start).count(b"\n")
    return conversations_to_arrow(result.conversations), result.rejected, lines


def load_landing_table(
    data_dir: str | Path, dataset: str, date: str, *, workers: int = 1, chunk_bytes: int = 16 << 20
) -> tuple[pa.Table, list[Rejected]]:
    """`load_landing_partition` as a conversations table (same rows, same order, same rejects), read
    `chunk_bytes` of lines at a time, in up to `workers` processes when the file has several chunks."""
    path = landing_file(Path(data_dir), dataset, date)
    if not path.exists():
        return SCHEMAS["conversations"].empty_table(), []
    ranges = jsonl_ranges(path, chunk_bytes)
    if workers > 1 and len(ranges) > 1:
        parts = map_in_processes(_load_range, ranges, str(path), workers=min(workers, len(ranges)))
    else:
        parts = (_load_range(byte_range, str(path)) for byte_range in ranges)
    tables, rejected, lines_before = [], [], 0
    for table, rejects, lines in parts:
        tables.append(table)
        rejected += [replace(r, record=r.record + lines_before) for r in rejects]
        lines_before += lines
    return pa.concat_tables(tables), rejected


def _load_range(byte_range: tuple[int, int], path: str) -> tuple[pa.Table, list[Rejected], int]:
    return load_jsonl_range(path, *byte_range)
