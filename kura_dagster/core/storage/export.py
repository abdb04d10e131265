"""Export one partition: Kura's checkpoint JSONL files (so Kura's own UI can load them), Parquet or CSV.

Kura's checkpoint directory holds `conversations.jsonl`, `summaries.jsonl`, `clusters.jsonl`,
`meta_clusters.jsonl` and `dimensionality.jsonl`, one pydantic model dump per line with Kura's field names
(`chat_id`, `created_at`, `messages`; `id`, `name`, `description`, `slug`, `chat_ids`, `parent_id`, `count`;
`x_coord`, `y_coord`, `level`), mapped so that Kura 0.5.4's types accept every line (`kura_format`: roles,
metadata, failed summaries, custom facets).

The cluster files (Kura's `clusters.jsonl`, `meta_clusters.jsonl`, `dimensionality.jsonl`; the tables
`base_clusters`, `meta_clusters`, `projections` as Parquet or CSV) leave out the groups hidden by the privacy
thresholds, and no `chat_ids` list names their conversations, so Kura's UI (or a join) cannot regroup them;
`count` still counts every conversation of a group. `conversations.*` and `summaries.*` are the data itself.

An export never destroys an earlier one: a partition without conversations raises `NothingToExport`
before anything is touched, and the files are written into a hidden scratch folder inside `out`, then
moved over their targets only once every one of them is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from kura_dagster.core.privacy.thresholds import unshown_ids
from kura_dagster.core.storage import kura_format, tables
from kura_dagster.core.storage.store import partition_rows, read_table

TABLES = ("conversations", "summaries", "embeddings", "base_clusters", "meta_clusters", "projections")
FORMATS = ("kura", "parquet", "csv")
CLUSTER_TABLES = ("base_clusters", "meta_clusters", "projections")
SCRATCH_PREFIX = ".export-"


class NothingToExport(ValueError):
    """The partition has no conversations (not run yet, or a day without data): nothing was written."""


def _require_rows(database: Path, dataset: str, day: str) -> None:
    if not partition_rows(database, "conversations", dataset, day):
        raise NothingToExport(
            f"nothing to export for dataset '{dataset}' on {day}: run "
            f"`kura-dagster run --dataset {dataset} --date {day}` first; {database} has no "
            f"conversations for it"
        )


@contextmanager
def _replacing(out: Path) -> Iterator[Callable[[str], Path]]:
    """Yields `scratch(name)`, the path to write the file `name` to; on success every file written moves
    over `out/name` (each rename atomic), on failure none does and the scratch folder goes."""
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=out))
    written: list[str] = []

    def path_for(name: str) -> Path:
        written.append(name)
        return scratch / name

    try:
        yield path_for
        for name in written:
            os.replace(scratch / name, out / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records), encoding="utf-8"
    )


def _cluster_record(row: dict) -> dict:
    return {
        "id": row["cluster_id"],
        "name": row["name"],
        "description": row["description"],
        "slug": row["slug"],
        "chat_ids": list(row["chat_ids"] or []),
        "parent_id": row.get("parent_id"),
        "count": row["count"],
    }


def _triples(table: pa.Table) -> list[tuple[str, str | None, str | None]]:
    parents = (
        table.column("parent_id").to_pylist()
        if "parent_id" in table.column_names
        else [None] * table.num_rows
    )
    return list(zip(table.column("cluster_id").to_pylist(), parents, table.column("name").to_pylist()))


def _drop_from_lists(lists: pa.ChunkedArray, drop: pa.Array) -> pa.Array:
    """Each list without the values in `drop` (a missing list becomes an empty one)."""
    lists = lists.combine_chunks()
    flat, parents = pc.list_flatten(lists), pc.list_parent_indices(lists)
    keep = pc.invert(pc.fill_null(pc.is_in(flat, value_set=drop), False))
    lengths = np.bincount(pc.filter(parents, keep).to_numpy(zero_copy_only=False), minlength=len(lists))
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), pa.int32())
    return pa.ListArray.from_arrays(offsets, pc.filter(flat, keep))


def _in(table: pa.Table, ids: set[str]) -> pa.ChunkedArray:
    return pc.is_in(table.column("cluster_id"), pa.array(sorted(ids), pa.string()))


def shown_cluster_tables(read: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """`read` (holding at least `CLUSTER_TABLES`) with the cluster tables as they may be shown: the rows of
    hidden groups out (`thresholds.unshown_ids`), and their members out of every other row's `chat_ids`."""
    unshown = {
        name: unshown_ids(_triples(read[name])) if read[name].num_rows else set()
        for name in ("base_clusters", "meta_clusters")
    }
    hidden_lists = [
        pc.list_flatten(read[name].filter(_in(read[name], ids)).column("chat_ids")).cast(pa.string())
        for name, ids in unshown.items()
        if ids
    ]
    hidden_chats = pc.unique(
        pa.chunked_array(
            [chunk for flat in hidden_lists for chunk in flat.chunks], pa.string()
        ).combine_chunks()
    )
    unshown["projections"] = unshown["base_clusters"] | unshown["meta_clusters"]
    shown = dict(read)
    for name, ids in unshown.items():
        table = read[name]
        if ids and table.num_rows:
            table = table.filter(pc.invert(_in(table, ids)))
        if "chat_ids" in table.column_names and len(hidden_chats) and table.num_rows:
            kept = _drop_from_lists(table.column("chat_ids"), hidden_chats).cast(
                table.schema.field("chat_ids").type
            )
            table = table.set_column(table.column_names.index("chat_ids"), "chat_ids", kept)
        shown[name] = table
    return shown


def export_kura_checkpoints(database: Path, dataset: str, day: str, out: Path) -> dict[str, int]:
    """Write Kura's five checkpoint files for one partition; returns the number of lines of each."""
    _require_rows(database, dataset, day)
    read = shown_cluster_tables({name: read_table(database, name, dataset, day) for name in TABLES})
    # Shaped so that Kura 0.5.4's own types accept every line (`core.storage.kura_format`).
    conversation_records = [
        kura_format.conversation_record(c) for c in tables.conversations_from_arrow(read["conversations"])
    ]
    vectors = (
        dict(zip(*tables.embeddings_from_arrow(read["embeddings"]))) if read["embeddings"].num_rows else {}
    )
    summary_records = []
    for s in tables.summaries_from_arrow(read["summaries"]):
        vector = vectors.get(s.chat_id)
        summary_records.append(kura_format.summary_record(s, vector.tolist() if vector is not None else None))
    meta_rows = read["meta_clusters"].to_pylist()
    position = {row["cluster_id"]: row for row in read["projections"].to_pylist()}
    dimensionality = [
        {
            **_cluster_record(row),
            "x_coord": position[row["cluster_id"]]["x"],
            "y_coord": position[row["cluster_id"]]["y"],
            "level": position[row["cluster_id"]]["level"],
        }
        for row in meta_rows
        if row["cluster_id"] in position
    ]
    files = {
        "conversations.jsonl": conversation_records,
        "summaries.jsonl": summary_records,
        "clusters.jsonl": [_cluster_record(row) for row in read["base_clusters"].to_pylist()],
        "meta_clusters.jsonl": [_cluster_record(row) for row in meta_rows],
        "dimensionality.jsonl": dimensionality,
    }
    with _replacing(out) as scratch:
        for name, records in files.items():
            _write_jsonl(scratch(name), records)
    return {name: len(records) for name, records in files.items()}


def _csv_ready(table: pa.Table) -> pa.Table:
    """CSV has no lists or structs: such columns are written as JSON text."""
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_list(column.type) or pa.types.is_struct(column.type):
            columns[name] = pa.array(
                [json.dumps(v, ensure_ascii=False, default=str) for v in column.to_pylist()]
            )
        else:
            columns[name] = column
    return pa.table(columns)


def export_tables(database: Path, dataset: str, day: str, out: Path, fmt: str) -> dict[str, int]:
    """Write the six tables of one partition as `<table>.parquet` or `<table>.csv`; returns row counts."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"unknown table format {fmt!r}: expected parquet or csv")
    _require_rows(database, dataset, day)
    counts = {}
    shown = shown_cluster_tables({name: read_table(database, name, dataset, day) for name in CLUSTER_TABLES})
    with _replacing(out) as scratch:
        for name in TABLES:
            table = (
                shown[name] if name in shown else read_table(database, name, dataset, day)
            )  # one large table at a time
            if fmt == "parquet":
                pq.write_table(table, scratch(f"{name}.parquet"))
            else:
                pa_csv.write_csv(_csv_ready(table), scratch(f"{name}.csv"))
            counts[f"{name}.{fmt}"] = table.num_rows
    return counts


def export_partition(database: Path, dataset: str, day: str, out: Path, fmt: str = "kura") -> dict[str, int]:
    if fmt == "kura":
        return export_kura_checkpoints(database, dataset, day, out)
    return export_tables(database, dataset, day, out, fmt)
