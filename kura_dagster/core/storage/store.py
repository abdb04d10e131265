"""The DuckDB file: one table per asset in schema `kura`, sliced by the partition columns dataset and date.

Plain DuckDB and Arrow, no Dagster: the IO manager writes through these functions and the command line
reads through them. DuckDB allows one writer process at a time; `connect` waits for the lock. A file that is
not a whole DuckDB database (garbage, empty, truncated) is refused before any write: see `check_database_file`.

A run writes a partition's tables one step after the other, so between two steps the file holds, say, new
summaries under the old tree. Each write therefore also records its place in the order of all writes
(`kura._partition_writes`: table, dataset, date, generation), in the same transaction; a reader that needs
several tables to agree (the explorer) reads them and their generations in one snapshot
(`read_partition_snapshot`) and can tell a table written after the one built from it.
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

from kura_dagster.core.paths import PathError

SCHEMA = "kura"
HEADER_BYTES = 3 * 4096  # DuckDB's main header and its two alternating database headers; blocks follow
RESTORE = "restore it from a backup, or move it away to start a new database"


class DatabaseFileError(PathError):
    """The DuckDB file is not a whole database; nothing was written to it."""


# Files this process checked or wrote itself, by path, with (inode, size, mtime): unchanged since, a file
# needs no second check, so a run's many connections pay for it once.
_known_good: dict[str, tuple[int, int, int]] = {}


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def check_database_file(path: str | Path) -> None:
    """Refuse a DuckDB file that is not a whole database, without writing to it; a missing file is fine.

    How DuckDB 2.0 reports each kind, and why each is checked here:
    - garbage or text: "not a valid DuckDB database file" on connect; checked by the magic bytes "DUCK".
    - empty (0 bytes): DuckDB refuses it as not valid too, rather than initialising it. We refuse it as well
      (empty is how a failed copy or a full disk leaves a database) and say that deleting it starts anew.
    - truncated: DuckDB opens it and even writes to it; only a query reading a lost block fails, later,
      with "Could not read enough bytes" (cut inside its headers or first blocks, connecting fails so).
      DuckDB writes whole blocks, so a file is its headers plus a whole number of blocks; and every block
      a table's data uses (its storage info) must be inside the file.
    """
    path = Path(path)
    identity = _identity(path)
    if identity is not None and _known_good.get(str(path)) == identity:
        return
    try:
        if not path.exists():
            return
        if path.is_dir():
            raise DatabaseFileError(
                f"{path}: is a folder, not a DuckDB file; move it away or set KURA_HOME elsewhere"
            )
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(12)
    except OSError as error:
        raise DatabaseFileError(f"{path}: cannot read it ({error.strerror}); check its permissions") from None
    if size == 0:
        raise DatabaseFileError(
            f"{path}: empty file (0 bytes), not a DuckDB database; delete it to start a new "
            "database, or restore it from a backup"
        )
    if head[8:12] != b"DUCK":
        raise DatabaseFileError(f"{path}: not a DuckDB database file (no DuckDB header); {RESTORE}")
    if size < HEADER_BYTES:
        raise DatabaseFileError(
            f"{path}: truncated DuckDB file ({size:,} bytes, shorter than its headers); {RESTORE}"
        )
    try:
        connection = duckdb.connect(str(path), read_only=True)
    except duckdb.ConnectionException:
        return  # this process has it open already (a writer's connection): it was checked when opened
    except duckdb.Error as error:
        if "lock" in str(error).lower():
            return  # another process writes to it: it passed this check when it opened it
        raise _unreadable(path, size, error) from None
    try:  # measured while the read-only connection holds the file, so no writer is resizing it
        size = path.stat().st_size
        _, _, block_size, total_blocks, *_ = connection.execute("PRAGMA database_size").fetchall()[0]
        blocks, partial = divmod(size - HEADER_BYTES, block_size)
        if partial:
            raise DatabaseFileError(
                f"{path}: truncated DuckDB file ({size:,} bytes, not a whole number of its "
                f"{block_size:,}-byte blocks); {RESTORE}"
            )
        # Every block ever allocated is in the file: nothing can be missing. Fewer blocks is normal too (DuckDB
        # cuts free blocks off the end), but then the data's blocks are looked up (0.3 s for 800 MB).
        highest = _highest_data_block(connection) if blocks < total_blocks else -1
    except (
        duckdb.IOException
    ) as error:  # a lost block of metadata: any other error would be ours, not the file's
        raise _unreadable(path, size, error) from None
    finally:
        connection.close()
    if highest >= blocks:
        raise DatabaseFileError(
            f"{path}: truncated DuckDB file ({size:,} bytes, {blocks} blocks, but its data uses "
            f"block {highest}); {RESTORE}"
        )
    if identity == _identity(path):
        _known_good[str(path)] = identity


def _highest_data_block(connection: duckdb.DuckDBPyConnection) -> int:
    """The highest block id any table's stored data uses (-1 for none). Reads metadata only, not the data."""
    highest = -1
    for parts in connection.execute(
        "SELECT database_name, schema_name, table_name FROM duckdb_tables() "
        "WHERE database_name = current_database()"
    ).fetchall():
        # Fully qualified: in kura.duckdb, "kura" is both the catalog and the schema.
        name = ".".join('"' + part.replace('"', '""') + '"' for part in parts).replace("'", "''")
        block = connection.execute(
            f"SELECT max(greatest(block_id, coalesce(list_max(additional_block_ids), -1))) "
            f"FROM pragma_storage_info('{name}') WHERE persistent"
        ).fetchall()[0][0]
        highest = max(highest, -1 if block is None else block)
    return highest


def _unreadable(path: Path, size: int, error: Exception) -> DatabaseFileError:
    if "could not read enough bytes" in str(error).lower():
        return DatabaseFileError(
            f"{path}: truncated DuckDB file ({size:,} bytes, DuckDB cannot read the blocks "
            f"it expects); {RESTORE}"
        )
    return DatabaseFileError(f"{path}: DuckDB cannot open it ({_first_line(error)}); {RESTORE}")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


WRITES_TABLE = "_partition_writes"


def open_connection(
    path: str | Path, *, read_only: bool = False, timeout_s: float = 120.0
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file, waiting while another process holds its write lock. Before a write the file is
    checked (`check_database_file`), so a corrupted one is refused, never written to."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            if not read_only:
                check_database_file(path)
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
        if not read_only:  # written by DuckDB in this process: whole, as checked before
            identity = _identity(Path(path))
            if identity is not None:
                _known_good[str(Path(path))] = identity


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
    mask = pc.and_(
        pc.equal(table.column("dataset"), dataset),
        pc.equal(table.column("date"), pa.scalar(day, pa.date32())),
    )
    rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        # `read_partitions` keeps each partition's rows together: a zero-copy slice, where `filter` would
        # copy the step's whole input (a GB of embeddings at a million conversations) once more.
        part = table.slice(int(rows[0]), len(rows))
    else:
        part = table.take(rows)
    return part.drop_columns(["dataset", "date"])


def write_partition(
    connection: duckdb.DuckDBPyConnection, table_name: str, dataset: str, day: Date, table: pa.Table
) -> None:
    """Replace one partition's rows of `kura.<table_name>` in a single transaction."""
    write_partitions(connection, table_name, with_partition_columns(table, dataset, day), [(dataset, day)])


def write_partitions(
    connection: duckdb.DuckDBPyConnection,
    table_name: str,
    table: pa.Table,
    partitions: Sequence[tuple[str, Date]],
) -> None:
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
        connection.executemany(
            f"DELETE FROM {target} WHERE dataset = ? AND date = ?",
            [[dataset, day] for dataset, day in partitions],
        )
        connection.execute(f"INSERT INTO {target} BY NAME SELECT * FROM incoming")
        _record_writes(connection, table_name, partitions)
        connection.execute("COMMIT")
    except Exception:
        connection.execute("ROLLBACK")
        raise
    finally:
        connection.unregister("incoming")


def _record_writes(
    connection: duckdb.DuckDBPyConnection, table_name: str, partitions: Sequence[tuple[str, Date]]
) -> None:
    """Give the partitions of `table_name` just written the next generation (one writer at a time: the
    maximum plus one is unique and grows)."""
    writes = qualified(connection, WRITES_TABLE)
    connection.execute(
        f"CREATE TABLE IF NOT EXISTS {writes} "
        "(table_name VARCHAR, dataset VARCHAR, date DATE, generation BIGINT)"
    )
    generation = connection.execute(f"SELECT coalesce(max(generation), 0) + 1 FROM {writes}").fetchall()[0][0]
    connection.executemany(
        f"DELETE FROM {writes} WHERE table_name = ? AND dataset = ? AND date = ?",
        [[table_name, dataset, day] for dataset, day in partitions],
    )
    connection.executemany(
        f"INSERT INTO {writes} VALUES (?, ?, ?, ?)",
        [[table_name, dataset, day, generation] for dataset, day in partitions],
    )


def read_partition_snapshot(
    connection: duckdb.DuckDBPyConnection, columns: dict[str, Sequence[str] | None], dataset: str, day: Date
) -> tuple[dict[str, pa.Table], dict[str, int]]:
    """One partition of several tables (name → the columns to read, None for all) and the generation each
    was written at (tables written before generations were recorded have none), all read in one transaction:
    one version of the file, whatever another connection commits meanwhile."""
    connection.execute("BEGIN TRANSACTION")
    try:
        tables = {
            name: read_partition(connection, name, dataset, day, wanted) for name, wanted in columns.items()
        }
        generations = {}
        if _table_exists(connection, WRITES_TABLE):
            generations = dict(
                connection.execute(
                    f"SELECT table_name, generation FROM {qualified(connection, WRITES_TABLE)} WHERE dataset = ? AND date = ?",
                    [dataset, day],
                ).fetchall()
            )
    finally:
        connection.execute("ROLLBACK")  # read only: nothing to keep
    return tables, generations


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
        raise ValueError(
            f"{len(stray)} partition(s) in the rows were not asked to be written (first: {dataset}|{day})"
        )


def _add_new_columns(connection: duckdb.DuckDBPyConnection, target: str) -> None:
    """A newer version of an asset may write more columns, or more fields in a struct column (the messages'
    `created_at`): add them, so older files keep working. `INSERT BY NAME` would otherwise drop the new
    struct fields without a word; widening the column keeps them (older rows get NULL)."""
    existing = {row[0]: row[1] for row in connection.execute(f"DESCRIBE {target}").fetchall()}
    for name, column_type, *_ in connection.execute("DESCRIBE SELECT * FROM incoming").fetchall():
        if name not in existing:
            connection.execute(f'ALTER TABLE {target} ADD COLUMN "{name}" {column_type}')
        elif existing[name] != column_type and "STRUCT(" in column_type:
            connection.execute(f'ALTER TABLE {target} ALTER COLUMN "{name}" TYPE {column_type}')


def _table_exists(connection: duckdb.DuckDBPyConnection, table_name: str) -> bool:
    return (
        connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [SCHEMA, table_name],
        ).fetchall()[0][0]
        > 0
    )


def read_partition(
    connection: duckdb.DuckDBPyConnection,
    table_name: str,
    dataset: str,
    day: Date,
    columns: Sequence[str] | None = None,
) -> pa.Table:
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
    return connection.sql(
        f"SELECT {selected} FROM {target} WHERE dataset = ? AND date = ?", params=[dataset, day]
    ).to_arrow_table()


def read_partitions(
    connection: duckdb.DuckDBPyConnection,
    table_name: str,
    partitions: Sequence[tuple[str, Date]],
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The rows of several partitions, partition columns included, partition after partition in the order
    given and each in the order it was written (one filtered scan each: a join would not keep that order,
    and clustering must see the same rows in the same order to give the same result). With `columns`, only
    those (and the partition columns): a stage that needs a million chat ids does not load their messages."""
    if not _table_exists(connection, table_name):
        return pa.table({})
    target = qualified(connection, table_name)
    selected = "*" if columns is None else ", ".join(f'"{name}"' for name in ["dataset", "date", *columns])
    parts = [
        connection.sql(
            f"SELECT {selected} FROM {target} WHERE dataset = ? AND date = ?", params=[dataset, day]
        ).to_arrow_table()
        for dataset, day in partitions
    ]
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
        return connection.execute(
            f"SELECT count(*) FROM {qualified(connection, table_name)} WHERE dataset = ? AND date = ?",
            [dataset, day],
        ).fetchall()[0][0]


def datasets_in(path: str | Path, table_name: str = "conversations") -> list[str]:
    """The datasets that have rows in a table (none without the file or the table)."""
    if not Path(path).exists():
        return []
    with connect(path, read_only=True) as connection:
        if not _table_exists(connection, table_name):
            return []
        rows = connection.execute(
            f"SELECT DISTINCT dataset FROM {qualified(connection, table_name)}"
        ).fetchall()
    return sorted(row[0] for row in rows)
