"""The DuckDB file: one table per asset in schema `kura`, sliced by the partition columns dataset and date.

Plain DuckDB and Arrow, no Dagster: the IO manager writes through these functions and the command line
reads through them. DuckDB allows one writer process at a time; `connect` waits for the lock.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import date as Date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SCHEMA = "kura"


def open_connection(path: str | Path, *, read_only: bool = False, timeout_s: float = 120.0) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file, waiting while another process holds its write lock."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


@contextmanager
def connect(path: str | Path, *, read_only: bool = False, timeout_s: float = 120.0):
    """`open_connection` as a context manager that always closes (and so releases the lock)."""
    connection = open_connection(path, read_only=read_only, timeout_s=timeout_s)
    try:
        yield connection
    finally:
        connection.close()


def qualified(connection: duckdb.DuckDBPyConnection, table_name: str | None = None) -> str:
    """Catalog-qualified name: the file `kura.duckdb` is itself a catalog called `kura`, like the schema."""
    catalog = connection.execute("SELECT current_database()").fetchall()[0][0]
    schema = f'"{catalog}".{SCHEMA}'
    return schema if table_name is None else f'{schema}."{table_name}"'


def with_partition_columns(table: pa.Table, dataset: str, day: Date) -> pa.Table:
    """Prefix the partition columns `dataset` and `date` (DATE, not text, so DuckDB can prune by date)."""
    for name in ("dataset", "date"):
        if name in table.column_names:
            table = table.drop_columns([name])
    rows = table.num_rows
    table = table.add_column(0, pa.field("date", pa.date32()), pa.array([day] * rows, type=pa.date32()))
    return table.add_column(0, pa.field("dataset", pa.string()), pa.array([dataset] * rows, type=pa.string()))


def partition_slice(table: pa.Table, dataset: str, day: Date) -> pa.Table:
    """The rows of one partition, without the partition columns, in their stored order."""
    if "dataset" not in table.column_names or table.num_rows == 0:
        return table.drop_columns([name for name in ("dataset", "date") if name in table.column_names])
    mask = pc.and_(pc.equal(table.column("dataset"), dataset), pc.equal(table.column("date"), pa.scalar(day, pa.date32())))
    rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        # `read_partitions` keeps each partition's rows together: a zero-copy slice, where `filter` would
        # copy the step's whole input (a GB of embeddings at a million conversations) once more.
        part = table.slice(int(rows[0]), len(rows))
    else:
        part = table.take(rows)
    return part.drop_columns(["dataset", "date"])


def write_partition(connection: duckdb.DuckDBPyConnection, table_name: str, dataset: str, day: Date,
                    table: pa.Table) -> None:
    """Replace one partition's rows of `kura.<table_name>` in a single transaction."""
    write_partitions(connection, table_name, with_partition_columns(table, dataset, day), [(dataset, day)])


def write_partitions(connection: duckdb.DuckDBPyConnection, table_name: str, table: pa.Table,
                     partitions: Sequence[tuple[str, Date]]) -> None:
    """Replace the rows of every (dataset, date) in `partitions` with the rows of `table`, in one transaction.

    `table` carries the partition columns; a partition with no row in it ends up empty (a day with no
    conversations is a real, empty result, not a missing one). Rows outside `partitions` are an error:
    writing them would silently touch partitions the caller did not materialise.
    """
    _require_within(table, partitions)
    target = qualified(connection, table_name)
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {qualified(connection)}")
    connection.register("incoming", table)
    try:
        connection.execute("BEGIN TRANSACTION")
        connection.execute(f"CREATE TABLE IF NOT EXISTS {target} AS SELECT * FROM incoming LIMIT 0")
        _add_new_columns(connection, target)
        connection.executemany(f"DELETE FROM {target} WHERE dataset = ? AND date = ?",
                               [[dataset, day] for dataset, day in partitions])
        connection.execute(f"INSERT INTO {target} BY NAME SELECT * FROM incoming")
        connection.execute("COMMIT")
    except Exception:
        connection.execute("ROLLBACK")
        raise
    finally:
        connection.unregister("incoming")


def _require_within(table: pa.Table, partitions: Sequence[tuple[str, Date]]) -> None:
    if table.num_rows == 0:
        return
    missing = [name for name in ("dataset", "date") if name not in table.column_names]
    if missing:
        raise ValueError(f"rows to write lack the partition column(s) {', '.join(missing)}")
    # The distinct pairs, found in Arrow: a million rows would otherwise become two million Python objects.
    pairs = table.select(["dataset", "date"]).group_by(["dataset", "date"]).aggregate([])
    present = set(zip(pairs.column("dataset").to_pylist(), pairs.column("date").to_pylist()))
    stray = present - {(dataset, day) for dataset, day in partitions}
    if stray:
        dataset, day = sorted(stray)[0]
        raise ValueError(f"{len(stray)} partition(s) in the rows were not asked to be written "
                         f"(first: {dataset}|{day})")


def _add_new_columns(connection: duckdb.DuckDBPyConnection, target: str) -> None:
    """A newer version of an asset may write more columns: add them, so older files keep working."""
    existing = {row[0] for row in connection.execute(f"DESCRIBE {target}").fetchall()}
    for name, column_type, *_ in connection.execute("DESCRIBE SELECT * FROM incoming").fetchall():
        if name not in existing:
            connection.execute(f'ALTER TABLE {target} ADD COLUMN "{name}" {column_type}')


def _table_exists(connection: duckdb.DuckDBPyConnection, table_name: str) -> bool:
    return connection.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [SCHEMA, table_name],
    ).fetchall()[0][0] > 0


def read_partition(connection: duckdb.DuckDBPyConnection, table_name: str, dataset: str, day: Date,
                   columns: Sequence[str] | None = None) -> pa.Table:
    """One partition's rows without the partition columns; an empty table when nothing was written. With
    `columns`, only those of them that the table has."""
    if not _table_exists(connection, table_name):
        return pa.table({})
    target = qualified(connection, table_name)
    if columns is None:
        selected = "* EXCLUDE (dataset, date)"
    else:
        present = set(connection.sql(f"SELECT * FROM {target} LIMIT 0").columns)
        selected = ", ".join(f'"{name}"' for name in columns if name in present) or "NULL AS nothing"
    return connection.sql(f"SELECT {selected} FROM {target} WHERE dataset = ? AND date = ?",
                          params=[dataset, day]).to_arrow_table()


def read_partitions(connection: duckdb.DuckDBPyConnection, table_name: str,
                    partitions: Sequence[tuple[str, Date]], columns: Sequence[str] | None = None) -> pa.Table:
    """The rows of several partitions, partition columns included, partition after partition in the order
    given and each in the order it was written (one filtered scan each: a join would not keep that order,
    and clustering must see the same rows in the same order to give the same result). With `columns`, only
    those (and the partition columns): a stage that needs a million chat ids does not load their messages."""
    if not _table_exists(connection, table_name):
        return pa.table({})
    target = qualified(connection, table_name)
    selected = "*" if columns is None else ", ".join(f'"{name}"' for name in ["dataset", "date", *columns])
    parts = [connection.sql(f"SELECT {selected} FROM {target} WHERE dataset = ? AND date = ?", params=[dataset, day])
             .to_arrow_table() for dataset, day in partitions]
    return pa.concat_tables(parts, promote_options="default") if parts else pa.table({})


def read_table(path: str | Path, table_name: str, dataset: str, day: Date | str) -> pa.Table:
    """Read one partition of a table from the DuckDB file (read-only)."""
    day = Date.fromisoformat(day) if isinstance(day, str) else day
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no DuckDB file yet; run `kura-dagster run` first")
    with connect(path, read_only=True) as connection:
        return read_partition(connection, table_name, dataset, day)


def partition_rows(path: str | Path, table_name: str, dataset: str, day: Date | str) -> int:
    """How many rows one partition has in a table (0 without the file or the table)."""
    day = Date.fromisoformat(day) if isinstance(day, str) else day
    if not Path(path).exists():
        return 0
    with connect(path, read_only=True) as connection:
        if not _table_exists(connection, table_name):
            return 0
        return connection.execute(f"SELECT count(*) FROM {qualified(connection, table_name)} "
                                  "WHERE dataset = ? AND date = ?", [dataset, day]).fetchall()[0][0]


def datasets_in(path: str | Path, table_name: str = "conversations") -> list[str]:
    """The datasets that have rows in a table (none without the file or the table)."""
    if not Path(path).exists():
        return []
    with connect(path, read_only=True) as connection:
        if not _table_exists(connection, table_name):
            return []
        rows = connection.execute(f"SELECT DISTINCT dataset FROM {qualified(connection, table_name)}").fetchall()
    return sorted(row[0] for row in rows)
