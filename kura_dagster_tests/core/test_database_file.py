"""A DuckDB file that is not a whole database is refused before any write, and left byte for byte as it was."""

from __future__ import annotations

import errno
import os
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from kura_dagster.core.paths import PathError, ensure_writable_folder, explain_os_error
from kura_dagster.core.storage.store import (
    HEADER_BYTES,
    DatabaseFileError,
    check_database_file,
    connect,
    open_connection,
    read_partition,
    write_partition,
)

DAY = date(2026, 11, 1)


def real_database(path: Path, rows: int = 60_000) -> Path:
    """A database of several blocks, written the way the IO manager writes."""
    table = pa.table(
        {
            "chat_id": [f"chat-{i}" for i in range(rows)],
            "summary": [f"summary number {i} about refunds and passwords" for i in range(rows)],
        }
    )
    with connect(path) as connection:
        write_partition(connection, "summaries", "demo", DAY, table)
    return path


def corrupted(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "kura.duckdb"
    if kind == "garbage":
        path.write_bytes(os.urandom(5000))
    elif kind == "text":
        path.write_text("this is not a database\n")
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        data = real_database(tmp_path / "whole.duckdb").read_bytes()
        blocks = (len(data) - HEADER_BYTES) // 262_144
        assert blocks >= 3, "the database must span blocks for a cut to lose some"
        cut = {
            "truncated": len(data) // 2,
            "truncated-at-a-block": HEADER_BYTES + (blocks - 1) * 262_144,
            "truncated-in-headers": 100,
        }[kind]
        path.write_bytes(data[:cut])
    return path


@pytest.mark.parametrize(
    "kind, message",
    [
        ("garbage", "not a DuckDB database file"),
        ("text", "not a DuckDB database file"),
        ("empty", "empty file (0 bytes), not a DuckDB database; delete it to start a new database"),
        ("truncated", "truncated DuckDB file"),
        ("truncated-at-a-block", "truncated DuckDB file"),
        ("truncated-in-headers", "truncated DuckDB file"),
    ],
)
def test_a_corrupted_file_is_refused_before_a_write_and_left_unchanged(tmp_path, kind, message):
    path = corrupted(tmp_path, kind)
    before = path.read_bytes()
    with pytest.raises(DatabaseFileError) as raised:
        with connect(path) as connection:  # what the IO manager, ingest and the LLM cache do to write
            write_partition(connection, "summaries", "demo", DAY, pa.table({"chat_id": ["x"]}))
    assert str(raised.value).startswith(f"{path}: ") and message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert path.read_bytes() == before
    assert not path.with_name("kura.duckdb.wal").exists()


def test_duckdb_itself_would_write_to_a_truncated_file(tmp_path):
    """Why the check exists: DuckDB opens a file cut in half without complaint, so only the check stops a write."""
    path = corrupted(tmp_path, "truncated")
    duckdb.connect(str(path)).close()
    with pytest.raises(DatabaseFileError):
        check_database_file(path)


def test_whole_databases_pass_also_after_duckdb_cut_free_blocks_off_their_end(tmp_path):
    path = real_database(tmp_path / "kura.duckdb")
    with connect(path) as connection:
        # A plain table, not write_partition: that also updates the write log, which would then sit last.
        connection.execute("CREATE TABLE kura.kura.bulk AS SELECT 'c' || range AS chat_id FROM range(99999)")
    with connect(
        path
    ) as connection:  # the last table written is at the end of the file: dropping it frees the tail
        connection.execute("DROP TABLE kura.kura.bulk")
    with connect(path, read_only=True) as connection:
        total_blocks = connection.execute("PRAGMA database_size").fetchall()[0][3]
    assert (path.stat().st_size - HEADER_BYTES) // 262_144 < total_blocks  # the case the storage info covers
    check_database_file(path)
    with connect(path) as connection:
        write_partition(connection, "summaries", "demo", DAY, pa.table({"chat_id": ["a", "b"]}))
        assert read_partition(connection, "summaries", "demo", DAY).num_rows == 2
    check_database_file(tmp_path / "missing.duckdb")  # a new file is created by DuckDB, not refused


def test_a_file_this_process_holds_open_is_not_refused(tmp_path):
    path = real_database(tmp_path / "kura.duckdb")
    held = open_connection(path)
    try:
        with connect(
            path
        ) as second:  # DuckDB refuses a read-only look while this process writes: not corruption
            assert read_partition(second, "summaries", "demo", DAY).num_rows == 60_000
    finally:
        held.close()


def test_an_unusable_folder_is_named_with_what_to_do(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(
        PathError, match=f"^KURA_HOME={blocker}: is a file, not a folder; point it elsewhere$"
    ):
        ensure_writable_folder(blocker, f"KURA_HOME={blocker}", "point it elsewhere")
    with pytest.raises(PathError, match=f"cannot create this folder \\({blocker} is a file\\)"):
        ensure_writable_folder(blocker / "home", "KURA_HOME", "point it elsewhere")
    ensure_writable_folder(tmp_path / "new" / "home", "KURA_HOME", "point it elsewhere")
    assert (tmp_path / "new" / "home").is_dir()


def test_a_failed_write_is_explained_in_one_line():
    full = OSError(errno.ENOSPC, "No space left on device")  # what a file's write() raises: no file name
    assert explain_os_error(full, "/tmp/out.html") == (
        "/tmp/out.html: no space left on the device; free some space or write somewhere else"
    )
    read_only = OSError(errno.EROFS, "Read-only file system", "/mnt/ro/report.html")
    assert (
        explain_os_error(read_only, "ignored")
        == "/mnt/ro/report.html: read-only file system; write somewhere else"
    )
