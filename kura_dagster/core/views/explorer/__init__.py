"""The HTML explorer of one partition: a single offline file with the map, the tree, details and trends.

    from kura_dagster.core.views.explorer import write_report
    write_report(".kura/kura.duckdb", "support_bot", "2026-11-07", "explorer.html")

`data` turns the DuckDB tables into the compact structure the page embeds; `html` renders the page; the
page's CSS and JavaScript live in `static/` (package data).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kura_dagster.core.privacy.thresholds import Thresholds
from kura_dagster.core.storage.store import connect, read_partition_snapshot
from kura_dagster.core.views.explorer.data import build_report_data
from kura_dagster.core.views.explorer.html import embed_json, render_report_html, report_html_chunks

__all__ = [
    "InconsistentPartition",
    "ReportResult",
    "build_report_data",
    "embed_json",
    "load_report_data",
    "render_report_html",
    "report_html_chunks",
    "report_path",
    "write_atomically",
    "write_report",
]


@dataclass(frozen=True)
class ReportResult:
    path: Path
    bytes: int
    seconds: float
    conversations: int
    clusters: int
    has_trends: bool


# The columns the explorer reads, where it does not need them all.
REPORT_COLUMNS = {
    "summaries": [
        "chat_id",
        "summary",
        "languages",
        "concerning_score",
        "user_frustration",
        "metadata",
        "error",
    ],
    "conversations": ["chat_id", "messages"],
}


def report_path(home: Path, dataset: str, day: str) -> Path:
    """Where the pipeline keeps a partition's explorer: `$KURA_HOME/reports/<dataset>/<date>.html`."""
    return Path(home) / "reports" / dataset / f"{day}.html"


class InconsistentPartition(ValueError):
    """The partition's tables are from different runs (a run is writing it, or stopped part-way)."""


def _check_one_version(dataset: str, day: str, generations: dict[str, int], tree: str) -> None:
    """Each (table, a table built from it) that the page puts together must have been written in that order.
    Between two steps of a run it is the other way round: new summaries under the old tree."""
    for source, built in (("summaries", tree), (tree, "projections"), ("summaries", "topic_trends")):
        if source in generations and built in generations and generations[built] < generations[source]:
            raise InconsistentPartition(
                f"dataset '{dataset}' on {day} is part-way through a rewrite: its {source} were written after its "
                f"{built}, so a page would mix two versions; a run is in progress or stopped part-way: wait for it "
                f"or run `kura-dagster run --dataset {dataset} --date {day}`, then report again"
            )


def load_report_data(
    database: str | Path,
    dataset: str,
    day: str,
    *,
    include_messages: bool = False,
    thresholds: Thresholds | None = None,
    window_days: int = 28,
) -> dict:
    """Read one partition's tables (read-only, in one snapshot) and build the explorer's data.

    Raises `InconsistentPartition` when a table the page uses was written after the tables built from it."""
    from datetime import date as Date

    database = Path(database)
    if not database.exists():
        raise FileNotFoundError(f"{database}: no DuckDB file yet; run `kura-dagster run` first")
    when = Date.fromisoformat(day)
    names = ["summaries", "meta_clusters", "base_clusters", "projections", "topic_trends"] + (
        ["conversations"] if include_messages else []
    )
    with connect(database, read_only=True) as connection:
        # Of the summaries, only what the page shows (a million requests and tasks would be read for nothing).
        # base_clusters only when the tree is missing (its stage failed): then the leaves alone, as roots.
        columns = {name: REPORT_COLUMNS.get(name) for name in names}
        columns["base_clusters"] = ["cluster_id"]
        read, generations = read_partition_snapshot(connection, columns, dataset, when)
        tree = "meta_clusters"
        if read["meta_clusters"].num_rows == 0 and read["base_clusters"].num_rows:
            tree = "base_clusters"
            read, generations = read_partition_snapshot(
                connection, {**columns, "base_clusters": None}, dataset, when
            )
            read["meta_clusters"] = read["base_clusters"]
    _check_one_version(dataset, day, generations, tree)
    trends, lineage = (
        _window_trends(database, dataset, when, window_days)
        if read["topic_trends"].num_rows
        else (None, None)
    )
    return build_report_data(
        dataset,
        day,
        summaries=read["summaries"],
        meta_clusters=read["meta_clusters"],
        projections=read["projections"],
        conversations=read.get("conversations"),
        trends=trends,
        lineage=lineage,
        include_messages=include_messages,
        thresholds=thresholds,
    )


def _window_trends(database: Path, dataset: str, day, window_days: int):
    """The `topic_trends` of the `window_days` days ending on `day`, and the lineage of the taxonomy version in
    force on `day` (the window view)."""
    from datetime import timedelta

    from kura_dagster.core.storage.topic_store import LINEAGE, TRENDS, latest_version, read_days, read_version

    days = [day - timedelta(days=offset) for offset in range(window_days - 1, -1, -1)]
    trends = read_days(database, TRENDS, dataset, days)
    version = latest_version(database, dataset, on_or_before=day)
    lineage = read_version(database, LINEAGE, dataset, version) if version is not None else None
    return trends, lineage


def write_report(
    database: str | Path,
    dataset: str,
    day: str,
    out: str | Path,
    *,
    include_messages: bool = False,
    allow_empty: bool = False,
    thresholds: Thresholds | None = None,
    window_days: int = 28,
) -> ReportResult:
    """Write the explorer of (dataset, day) to `out`.

    A partition with nothing in it raises ValueError (a user asked for a report of a day that has not run),
    unless `allow_empty`: the pipeline writes a page that says the day was empty. With the privacy
    `thresholds` in force, the page says which setting would show the groups they hide.
    """
    started = time.perf_counter()
    data = load_report_data(
        database,
        dataset,
        day,
        include_messages=include_messages,
        thresholds=thresholds,
        window_days=window_days,
    )
    if not allow_empty and not data["totals"]["conversations"] and not data["totals"]["clusters"]:
        raise ValueError(
            f"nothing to report for dataset '{dataset}' on {day}: run `kura-dagster run "
            f"--dataset {dataset} --date {day}` first (or that day had no conversations)"
        )
    out = Path(out)
    size = write_atomically(out, report_html_chunks(data))
    return ReportResult(
        out,
        size,
        time.perf_counter() - started,
        data["totals"]["conversations"],
        data["totals"]["clusters"],
        data["trends"] is not None,
    )


def write_atomically(path: Path, chunks: Iterable[str]) -> int:
    """Write `chunks` to a new file beside `path` and put it in place of `path` only once complete
    (`os.replace`): a browser, a reader or a crash never sees half a page, and a failed write (disk full)
    leaves the previous page as it was. Returns the size written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("x", encoding="utf-8") as page:  # "x": a new file, with the usual permissions
            page.writelines(chunks)
            page.flush()
            os.fsync(page.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path.stat().st_size
