"""The HTML explorer of one partition: a single offline file with the map, the tree, details and trends.

    from kura_dagster.core.report import write_report
    write_report(".kura/kura.duckdb", "support_bot", "2026-11-07", "explorer.html")

`data` turns the DuckDB tables into the compact structure the page embeds; `html` renders the page; the
page's CSS and JavaScript live in `static/` (package data).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from kura_dagster.core.report.data import build_report_data
from kura_dagster.core.report.html import embed_json, render_report_html, report_html_chunks
from kura_dagster.core.store import connect, read_partition

__all__ = ["ReportResult", "build_report_data", "embed_json", "load_report_data", "render_report_html",
           "report_html_chunks", "report_path", "write_report"]


@dataclass(frozen=True)
class ReportResult:
    path: Path
    bytes: int
    seconds: float
    conversations: int
    clusters: int
    has_trends: bool


# The columns the explorer reads, where it does not need them all.
REPORT_COLUMNS = {"summaries": ["chat_id", "summary", "languages", "concerning_score", "user_frustration",
                                "metadata", "error"],
                  "conversations": ["chat_id", "messages"]}


def report_path(home: Path, dataset: str, day: str) -> Path:
    """Where the pipeline keeps a partition's explorer: `$KURA_HOME/reports/<dataset>/<date>.html`."""
    return Path(home) / "reports" / dataset / f"{day}.html"


def load_report_data(database: str | Path, dataset: str, day: str, *, include_messages: bool = False) -> dict:
    """Read one partition's tables (read-only) and build the explorer's data."""
    from datetime import date as Date

    database = Path(database)
    if not database.exists():
        raise FileNotFoundError(f"{database}: no DuckDB file yet; run `kura-dagster run` first")
    when = Date.fromisoformat(day)
    names = ["summaries", "meta_clusters", "projections", "topic_trends"] + (["conversations"] if include_messages else [])
    with connect(database, read_only=True) as connection:
        # Of the summaries, only what the page shows (a million requests and tasks would be read for nothing).
        read = {name: read_partition(connection, name, dataset, when, columns=REPORT_COLUMNS.get(name))
                for name in names}
        if read["meta_clusters"].num_rows == 0:  # no tree yet (its stage failed): the leaves alone, as roots
            read["meta_clusters"] = read_partition(connection, "base_clusters", dataset, when)
    return build_report_data(dataset, day, summaries=read["summaries"], meta_clusters=read["meta_clusters"],
                             projections=read["projections"], conversations=read.get("conversations"),
                             trends=read["topic_trends"], include_messages=include_messages)


def write_report(database: str | Path, dataset: str, day: str, out: str | Path, *,
                 include_messages: bool = False, allow_empty: bool = False) -> ReportResult:
    """Write the explorer of (dataset, day) to `out`.

    A partition with nothing in it raises ValueError (a user asked for a report of a day that has not run),
    unless `allow_empty`: the pipeline writes a page that says the day was empty.
    """
    started = time.perf_counter()
    data = load_report_data(database, dataset, day, include_messages=include_messages)
    if not allow_empty and not data["totals"]["conversations"] and not data["totals"]["clusters"]:
        raise ValueError(f"nothing to report for dataset '{dataset}' on {day}: run `kura-dagster run "
                         f"--dataset {dataset} --date {day}` first (or that day had no conversations)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as page:
        page.writelines(report_html_chunks(data))
    return ReportResult(out, out.stat().st_size, time.perf_counter() - started,
                        data["totals"]["conversations"], data["totals"]["clusters"], data["trends"] is not None)
