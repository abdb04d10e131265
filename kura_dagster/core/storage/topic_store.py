"""Reading the taxonomy tables back from the DuckDB store: a version, the latest one before or on a day, the
lineage and the trends of a dataset over some days.

The taxonomy of a day is built over the window of days before it, and each day is assigned to the latest
version on or before it: what the assets, the command line and the explorer need is "which version holds
for this day", a question across partitions that one partition's read cannot answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date as Date
from pathlib import Path

import pyarrow as pa

from kura_dagster.core.storage.store import _table_exists, connect, qualified

TAXONOMY, LINEAGE, ASSIGNMENTS, TRENDS = "taxonomy", "topic_lineage", "topic_assignments", "topic_trends"


def versions(database: str | Path, dataset: str) -> list[Date]:
    """Every day a taxonomy of `dataset` was built on (its versions), oldest first."""
    if not Path(database).exists():
        return []
    with connect(database, read_only=True) as connection:
        if not _table_exists(connection, TAXONOMY):
            return []
        rows = connection.execute(
            f"SELECT DISTINCT version FROM {qualified(connection, TAXONOMY)} WHERE dataset = ? ORDER BY 1",
            [dataset],
        ).fetchall()
    return [row[0] for row in rows]


def latest_version(
    database: str | Path, dataset: str, *, on_or_before: Date | None = None, before: Date | None = None
) -> Date | None:
    """The latest version on or before a day (or strictly before one, or the latest of all); None if none."""
    found = [
        version
        for version in versions(database, dataset)
        if (on_or_before is None or version <= on_or_before) and (before is None or version < before)
    ]
    return found[-1] if found else None


def read_version(
    database: str | Path,
    table_name: str,
    dataset: str,
    version: Date,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The rows of one version of `taxonomy` or `topic_lineage` (partition columns included), or only
    `columns`: a view of a million-conversation taxonomy need not read its members and centroids."""
    with connect(database, read_only=True) as connection:
        if not _table_exists(connection, table_name):
            return pa.table({})
        selected = ", ".join(f'"{column}"' for column in columns) if columns else "*"
        return connection.sql(
            f"SELECT {selected} FROM {qualified(connection, table_name)} WHERE dataset = ? AND date = ?",
            params=[dataset, version],
        ).to_arrow_table()


def read_days(
    database: str | Path,
    table_name: str,
    dataset: str,
    days: Sequence[Date],
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The rows of `dataset` on `days` (partition columns included), in date order; empty when none."""
    if not days or not Path(database).exists():
        return pa.table({})
    with connect(database, read_only=True) as connection:
        if not _table_exists(connection, table_name):
            return pa.table({})
        selected = "*" if columns is None else ", ".join(f'"{c}"' for c in ["dataset", "date", *columns])
        return connection.sql(
            f"SELECT {selected} FROM {qualified(connection, table_name)} "
            "WHERE dataset = ? AND list_contains(?, date) ORDER BY date",
            params=[dataset, list(days)],
        ).to_arrow_table()


def lineage_until(database: str | Path, dataset: str, day: Date) -> pa.Table:
    """Every lineage event of `dataset` up to `day` included: a topic's birth and death versions."""
    if not Path(database).exists():
        return pa.table({})
    with connect(database, read_only=True) as connection:
        if not _table_exists(connection, LINEAGE):
            return pa.table({})
        return connection.sql(
            f"SELECT * FROM {qualified(connection, LINEAGE)} WHERE dataset = ? AND date <= ? ORDER BY date",
            params=[dataset, day],
        ).to_arrow_table()
