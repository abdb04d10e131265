"""The taxonomy and its trends as people read them: the terminal (`kura-dagster topics`, `kura-dagster trends`)
and the Markdown of each taxonomy materialisation in the Dagster UI.

Everything here works on the stored tables (`taxonomy`, `topic_lineage`, `topic_trends`, as Arrow), so that
what the command prints is what a query of the DuckDB file gives.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date as Date
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from kura_dagster.core.storage.topic_store import (
    LINEAGE,
    TAXONOMY,
    TRENDS,
    latest_version,
    read_version,
    versions,
)
from kura_dagster.core.text import terminal_safe

if TYPE_CHECKING:
    from kura_dagster.core.stages.topic_trends import TrendOptions

FLAGGED = ("new", "emerging", "fading", "gone")
# What the terminal views read of a version: not its members nor centroids (a million ids in a large window).
VIEW_COLUMNS = ("topic_id", "parent_id", "level", "name", "count", "hidden", "window_start")
MARKDOWN_TOPICS = 200  # the UI's metadata stays readable (and small) for a taxonomy of thousands of topics


class NoTaxonomy(ValueError):
    """No version of the dataset's taxonomy holds on the day asked for; the message says which command makes one."""


@dataclass(frozen=True)
class TopicsView:
    """One version of a dataset's taxonomy with its lineage events and the trends of a day it holds for."""

    dataset: str
    version: Date
    day: Date
    taxonomy: list[dict]
    lineage: list[dict]
    trends: list[dict]
    # Names of the previous version's shown topics: what a topic merged, died or renamed was called.
    previous_names: dict[str, str] = field(default_factory=dict)


def load_topics_view(database: str | Path, dataset: str, day: Date | None = None) -> TopicsView:
    """The version in force on `day` (default: the latest version, and its own day), its lineage, and the
    `topic_trends` rows of `day`. `NoTaxonomy` when there is none."""
    version = latest_version(database, dataset, on_or_before=day)
    if version is None:
        built = versions(database, dataset)
        run = f"kura-dagster run --dataset {dataset}" + (f" --date {day}" if day else "")
        if built and day is not None:
            raise NoTaxonomy(
                f"no taxonomy of dataset '{dataset}' on or before {day}: its first version is {built[0]} "
                f"(or run `{run}`)"
            )
        raise NoTaxonomy(f"no taxonomy of dataset '{dataset}' yet: run `{run}` to build one")
    day = day or version
    trends = read_version(database, TRENDS, dataset, day)
    previous = latest_version(database, dataset, before=version)
    return TopicsView(
        dataset,
        version,
        day,
        read_version(database, TAXONOMY, dataset, version, VIEW_COLUMNS).to_pylist(),
        read_version(database, LINEAGE, dataset, version).to_pylist(),
        trends.to_pylist() if trends.num_rows else [],
        _shown_names(read_version(database, TAXONOMY, dataset, previous, VIEW_COLUMNS)) if previous else {},
    )


def _shown_names(taxonomy: pa.Table) -> dict[str, str]:
    """topic_id → name of the version's topics not hidden by the privacy thresholds."""
    return {row["topic_id"]: row["name"] for row in taxonomy.to_pylist() if not row["hidden"]}


def _event_text(event: dict | None, names: dict[str, str] | None = None) -> str:
    """A lineage event as words; with `names` (the previous version's), what a renamed topic was called."""
    if event is None:
        return ""
    related = event.get("related_id")
    if event["event"] == "split" and related:
        return f"split from {related}"
    if event["event"] == "merged" and related:
        return f"merged into {related}"
    was = (names or {}).get(event["topic_id"])
    if event["event"] == "renamed" and was:
        return f"renamed, was {terminal_safe(was)}"
    return event["event"]


def _depth_first(rows: list[dict]) -> Iterator[tuple[dict, int]]:
    """Topics parents first, children under them largest first; depth from the roots."""
    children: dict[str | None, list[dict]] = {}
    ids = {row["topic_id"] for row in rows}
    for row in rows:
        parent = row["parent_id"] if row["parent_id"] in ids else None
        children.setdefault(parent, []).append(row)
    stack = [(row, 0) for row in sorted(children.get(None, []), key=lambda r: (r["count"], r["topic_id"]))]
    while stack:
        row, depth = stack.pop()
        yield row, depth
        below = sorted(children.get(row["topic_id"], []), key=lambda r: (r["count"], r["topic_id"]))
        stack.extend((child, depth + 1) for child in below)


def _gone(taxonomy: list[dict], lineage: list[dict]) -> list[dict]:
    """The lineage events of topics that are no longer in the version (died, merged)."""
    present = {row["topic_id"] for row in taxonomy}
    return [event for event in lineage if event["topic_id"] not in present]


def _gone_text(event: dict, names: dict[str, str]) -> str:
    """A topic that left the version, by its id and former name ("t00029 File CSV (merged into t00035)")."""
    name = names.get(event["topic_id"])
    label = f"{event['topic_id']} {terminal_safe(name)}" if name else event["topic_id"]
    return f"{label} ({_event_text(event)})"


def render_topics(view: TopicsView) -> str:
    """The taxonomy tree, one topic a line: id, name, conversations in the window, status on the day, change."""
    events = {event["topic_id"]: event for event in view.lineage}
    status = {(row["topic_id"], row["level"]): row for row in view.trends}
    window_start = view.taxonomy[0]["window_start"] if view.taxonomy else view.version
    lines = [
        f"Taxonomy of '{view.dataset}', version {view.version} (window {window_start}..{view.version}, "
        f"{len(view.taxonomy)} topics)" + ("" if view.day == view.version else f"; status on {view.day}"),
    ]
    if not view.trends:
        lines.append(f"(no topic_trends for {view.day}: statuses are not shown)")
    for row, depth in _depth_first(view.taxonomy):
        trend = status.get((row["topic_id"], row["level"]))
        hidden = " [hidden]" if row["hidden"] else ""
        cells = [
            f"{'  ' * depth}{row['topic_id']} {terminal_safe(row['name'])}{hidden}",
            f"{row['count']} conv",
            trend["status"] if trend else "",
            _event_text(events.get(row["topic_id"]), view.previous_names),
        ]
        lines.append("  ·  ".join(cell for cell in cells if cell))
    gone = _gone(view.taxonomy, view.lineage)
    if gone:
        lines.append(
            "No longer in this version: " + ", ".join(_gone_text(e, view.previous_names) for e in gone)
        )
    return "\n".join(lines)


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def once_per_topic(trends: list[dict]) -> list[dict]:
    """Each topic's row at its shallowest level only. `topic_trends` repeats a leaf that ends above the deepest
    level in every level below it (each level's rows cover all conversations), and `unassigned` in every level:
    the same series, which a list of alerts would show two or three times."""
    seen: set[str] = set()
    rows = []
    for row in sorted(trends, key=lambda r: r["level"]):
        if row["topic_id"] not in seen:
            seen.add(row["topic_id"])
            rows.append(row)
    return rows


def render_trends(view: TopicsView, options: TrendOptions | None = None) -> str:
    """What is new, emerging, fading and gone on the day, with each topic's share before (baseline days) and
    after (recent days). With the `options` the trends were judged with, a day where nothing could be judged
    says what it takes."""
    lines = [f"Topic trends of '{view.dataset}' on {view.day} (taxonomy version {view.version})"]
    if not view.trends:
        lines.append(
            f"no topic_trends for {view.day}: run `kura-dagster run --dataset {view.dataset} --date {view.day}`"
        )
        return "\n".join(lines)
    trends = once_per_topic(view.trends)
    for status in FLAGGED:
        rows = sorted(
            (row for row in trends if row["status"] == status),
            key=lambda r: (r["level"], -(r["recent_share"] or 0), r["topic_id"]),
        )
        lines.append(f"{status.capitalize()} ({len(rows)})" + (":" if rows else ": none"))
        for row in rows:
            lines.append(
                f"  {row['topic_id']} {terminal_safe(row['name'] or '')} (level {row['level']}): "
                f"{_share(row['baseline_share'])} before → {_share(row['recent_share'])} after"
                f" ({row['conversations']} conversations on the day)"
            )
    steady = sum(1 for row in trends if row["status"] == "steady")
    insufficient = sum(1 for row in trends if row["status"] == "insufficient")
    lines.append(f"Steady: {steady}; too few conversations to judge: {insufficient}")
    if options is not None and insufficient == len(trends):
        # The demo's week of data is the common case: a first-time user should learn it is the days, not a fault.
        lines.append(
            f"Nothing could be judged: a status needs conversations on at least {options.min_baseline_days} days "
            f"before the last {options.recent_days} (KURA_TRENDS_RECENT_DAYS) of the {options.window_days}-day "
            f"window (KURA_TRENDS_WINDOW_DAYS), and at least {options.min_count} conversations "
            "(KURA_TRENDS_MIN_COUNT) on the larger side."
        )
    return "\n".join(lines)


def _markdown_cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def taxonomy_markdown(
    taxonomy: pa.Table, lineage: pa.Table, previous_names: dict[str, str] | None = None
) -> str:
    """The version's tree as a nested Markdown list, each topic with its id, size and change (`previous_names`:
    the previous version's shown names, for what a renamed topic was called)."""
    rows = taxonomy.to_pylist()
    if not rows:
        return "_No conversation in the window: no topic._"
    events = {event["topic_id"]: event for event in lineage.to_pylist()}
    lines = []
    for index, (row, depth) in enumerate(_depth_first(rows)):
        if index == MARKDOWN_TOPICS:
            lines.append(f"- … {len(rows) - MARKDOWN_TOPICS} more topics (query `kura.taxonomy`)")
            break
        hidden = " _(hidden)_" if row["hidden"] else ""
        change = _event_text(events.get(row["topic_id"]), previous_names)
        lines.append(
            f"{'  ' * depth}- **{_markdown_cell(row['name'])}** `{row['topic_id']}` "
            f"({row['count']}){hidden}" + (f" — {change}" if change else "")
        )
    return "\n".join(lines)


def lineage_markdown(
    taxonomy: pa.Table, lineage: pa.Table, previous_names: dict[str, str] | None = None
) -> str:
    """The version's lineage events as a table, the changes first (kept topics last); a topic that left the
    version by its name in `previous_names` (the previous version's shown names)."""
    names = {**(previous_names or {}), **{row["topic_id"]: row["name"] for row in taxonomy.to_pylist()}}
    order = {"born": 0, "split": 1, "merged": 2, "died": 3, "renamed": 4, "kept": 5}
    events = sorted(lineage.to_pylist(), key=lambda e: (order.get(e["event"], 9), e["topic_id"]))
    if not events:
        return "_No lineage event._"
    lines = ["| topic | name | event | related |", "|---|---|---|---|"]
    for event in events[:MARKDOWN_TOPICS]:
        lines.append(
            f"| `{event['topic_id']}` | {_markdown_cell(names.get(event['topic_id'], ''))} | {event['event']} "
            f"| {event['related_id'] or ''} |"
        )
    return "\n".join(lines)
