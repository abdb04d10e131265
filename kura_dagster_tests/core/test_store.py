"""The DuckDB store: partitions replaced in one transaction, new columns added to older tables."""

from datetime import date

import pyarrow as pa

from kura_dagster.core.store import connect, read_partition, read_table, write_partition


def test_partitions_are_replaced_and_new_columns_added(tmp_path):
    path = tmp_path / "kura.duckdb"
    day = date(2026, 11, 1)
    with connect(path) as connection:
        write_partition(connection, "things", "a", day, pa.table({"id": ["x", "y"]}))
        write_partition(connection, "things", "b", day, pa.table({"id": ["z"]}))
        write_partition(connection, "things", "a", day, pa.table({"id": ["x"], "score": [1.5]}))
        assert read_partition(connection, "things", "a", day).to_pylist() == [{"id": "x", "score": 1.5}]
        assert read_partition(connection, "things", "b", day).to_pylist() == [{"id": "z", "score": None}]
    assert read_table(path, "things", "a", "2026-11-01").num_rows == 1
    assert read_table(path, "missing_table", "a", "2026-11-01").num_rows == 0
