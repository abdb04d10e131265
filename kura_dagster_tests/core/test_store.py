"""The DuckDB store: partitions replaced in one transaction, new columns added to older tables."""

import subprocess
import sys
import time
from datetime import date

import duckdb
import pyarrow as pa
import pytest

from kura_dagster.core.storage.store import connect, read_partition, read_table, write_partition


def test_partitions_are_replaced_and_new_columns_added(tmp_path):
    path = tmp_path / "kura.duckdb"
    day = date(2026, 11, 1)
    with connect(path) as connection:
        write_partition(connection, "things", "a", day, pa.table({"id": ["x", "y"]}))
        write_partition(connection, "things", "b", day, pa.table({"id": ["z"]}))
        write_partition(connection, "things", "a", day, pa.table({"id": ["x"], "score": [1.5]}))
        assert read_partition(connection, "things", "a", day).to_pylist() == [{"id": "x", "score": 1.5}]
        assert read_partition(connection, "things", "b", day).to_pylist() == [{"id": "z", "score": None}]
        # Only the columns asked for (and the table has), in the order asked.
        assert read_partition(
            connection, "things", "a", day, columns=["score", "gone", "id"]
        ).to_pylist() == [{"score": 1.5, "id": "x"}]
    assert read_table(path, "things", "a", "2026-11-01").num_rows == 1
    assert read_table(path, "missing_table", "a", "2026-11-01").num_rows == 0


def test_several_partitions_are_written_and_read_together(tmp_path):
    from kura_dagster.core.storage.store import read_partitions, with_partition_columns, write_partitions

    first, second, third = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
    rows = pa.concat_tables(
        [
            with_partition_columns(pa.table({"id": ["b", "a"]}), "d", first),
            with_partition_columns(pa.table({"id": ["c"]}), "d", third),
        ]
    )
    with connect(tmp_path / "kura.duckdb") as connection:
        write_partition(connection, "things", "d", second, pa.table({"id": ["old"]}))
        write_partition(connection, "things", "other", first, pa.table({"id": ["kept"]}))
        # The second day is part of the write but has no rows: its old rows go, it stays empty.
        write_partitions(connection, "things", rows, [("d", first), ("d", second), ("d", third)])
        read = read_partitions(connection, "things", [("d", third), ("d", second), ("d", first)])
        assert read.select(["date", "id"]).to_pylist() == [
            {"date": third, "id": "c"},
            {"date": first, "id": "b"},
            {"date": first, "id": "a"},
        ]
        assert read_partition(connection, "things", "other", first).to_pylist() == [{"id": "kept"}]
        try:
            write_partitions(connection, "things", rows, [("d", first)])
        except ValueError as error:
            assert "d|2026-11-03" in str(error)
        else:
            raise AssertionError("rows of a partition that was not asked for must not be written")
        assert read_partitions(connection, "things", [("d", third)]).num_rows == 1


def test_reading_chosen_columns_keeps_the_partition_columns_and_the_order(tmp_path):
    from kura_dagster.core.storage.store import read_partitions, with_partition_columns, write_partitions

    day = date(2026, 11, 1)
    rows = with_partition_columns(
        pa.table({"id": ["b", "a", "c"], "text": ["x" * 10] * 3, "n": [1, 2, 3]}), "d", day
    )
    with connect(tmp_path / "kura.duckdb") as connection:
        write_partitions(connection, "things", rows, [("d", day)])
        read = read_partitions(connection, "things", [("d", day)], columns=["n", "id"])
    assert read.column_names == ["dataset", "date", "n", "id"]
    assert read.select(["id", "n"]).to_pylist() == [
        {"id": "b", "n": 1},
        {"id": "a", "n": 2},
        {"id": "c", "n": 3},
    ]


def test_partition_slice_equals_filtering_whether_rows_are_together_or_not():
    import pyarrow.compute as pc

    from kura_dagster.core.storage.store import partition_slice, with_partition_columns

    first, second = date(2026, 11, 1), date(2026, 11, 2)
    a = with_partition_columns(pa.table({"id": ["a1", "a2", "a3"]}), "d", first)
    b = with_partition_columns(pa.table({"id": ["b1", "b2"]}), "d", second)
    together = pa.concat_tables([a, b])
    mixed = together.take([0, 3, 1, 4, 2])
    for table in (together, mixed, a):
        for day in (first, second):
            mask = pc.and_(
                pc.equal(table.column("dataset"), "d"),
                pc.equal(table.column("date"), pa.scalar(day, pa.date32())),
            )
            assert partition_slice(table, "d", day).equals(
                table.filter(mask).drop_columns(["dataset", "date"])
            )
    assert partition_slice(a, "other", first).num_rows == 0


def test_a_snapshot_sees_one_version_while_another_connection_rewrites_the_partition(tmp_path, monkeypatch):
    """A run rewrites a day table by table; a reader of several tables sees the old day or the new one, never
    new summaries under an old tree, and can tell from the generations which table was written first."""
    from kura_dagster.core.storage import store
    from kura_dagster.core.storage.store import read_partition_snapshot

    path = tmp_path / "kura.duckdb"
    day = date(2026, 11, 1)
    tables = ("summaries", "meta_clusters")

    def write_all(connection, label: str) -> None:  # a run's steps, one transaction each
        for table in tables:
            write_partition(connection, table, "d", day, pa.table({"chat_id": ["c1"], "version": [label]}))

    with connect(path) as writer, connect(path) as reader:  # two connections to the file
        real_read = store.read_partition
        armed = []

        def read_then_rewrite(connection, name, *args, **kwargs):
            table = real_read(connection, name, *args, **kwargs)
            if armed:  # right after the reader's first table, the run rewrites the day
                armed.clear()
                write_all(writer, "new")
            return table

        monkeypatch.setattr(store, "read_partition", read_then_rewrite)
        write_all(writer, "old")
        armed.append(True)
        read, generations = read_partition_snapshot(reader, dict.fromkeys(tables), "d", day)
        assert [read[name].column("version").to_pylist() for name in tables] == [["old"], ["old"]]
        assert generations["summaries"] < generations["meta_clusters"]

        # The same interleaving, table after table outside one transaction: the versions mix.
        write_all(writer, "old")
        armed.append(True)
        mixed = [store.read_partition(reader, name, "d", day).column("version")[0].as_py() for name in tables]
        assert mixed == ["old", "new"]

        # A run between its first two steps: the generations say the summaries came after the tree.
        write_partition(writer, "summaries", "d", day, pa.table({"chat_id": ["c1"], "version": ["newer"]}))
        _, now = read_partition_snapshot(reader, dict.fromkeys(tables), "d", day)
        assert now["summaries"] > now["meta_clusters"] > generations["meta_clusters"]


def test_a_conversations_table_from_before_message_times_keeps_them_once_written_again(tmp_path):
    # Files written before messages kept their own created_at: INSERT BY NAME would drop the new struct field
    # without a word, so the column is widened first (older rows read NULL there).
    from datetime import datetime, timezone

    from kura_dagster.core.storage.tables import conversations_to_arrow
    from kura_dagster.core.types import Conversation, Message

    path = tmp_path / "kura.duckdb"
    day = date(2026, 11, 1)
    old_message = pa.struct([("role", pa.string()), ("content", pa.string())])
    old = pa.table(
        {
            "chat_id": ["old"],
            "messages": pa.array([[{"role": "user", "content": "hi"}]], pa.list_(old_message)),
        }
    )
    at = datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)
    new = conversations_to_arrow(
        [
            Conversation(
                chat_id="new", created_at=at, messages=[Message(role="tool", content="ok", created_at=at)]
            )
        ]
    )
    with connect(path) as connection:
        write_partition(connection, "conversations", "a", day, old)
        write_partition(connection, "conversations", "b", day, new)
        assert read_partition(connection, "conversations", "b", day).column("messages").to_pylist() == [
            [{"role": "tool", "content": "ok", "created_at": at}]
        ]
        assert read_partition(connection, "conversations", "a", day).column("messages").to_pylist() == [
            [{"role": "user", "content": "hi", "created_at": None}]
        ]


def test_a_writer_waits_while_another_process_holds_the_file_and_gives_up_at_its_timeout(tmp_path):
    """DuckDB lets one process write a file; `connect` waits for it. This, not Dagster's pool (whose slot
    claims can race on the SQLite instance storage), is what keeps two steps from failing on the lock."""
    path = tmp_path / "kura.duckdb"
    with connect(path) as connection:
        write_partition(connection, "things", "a", date(2026, 11, 1), pa.table({"id": ["x"]}))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "time.sleep(float(sys.argv[2])); c.close()",
            str(path),
            "2.5",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(duckdb.IOException, match="(?i)lock"):
            connect(path, timeout_s=0.3).__enter__()
        started = time.monotonic()
        with connect(path, timeout_s=60) as connection:
            waited = time.monotonic() - started
            write_partition(connection, "things", "b", date(2026, 11, 1), pa.table({"id": ["y"]}))
        assert waited > 0.5  # it did wait for the other process, and then wrote
    finally:
        holder.wait(timeout=30)
    assert read_table(path, "things", "b", "2026-11-01").to_pylist()[0]["id"] == "y"
