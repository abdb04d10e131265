"""The explorer's data: one partition's tables turned into compact, columnar JSON-ready structures.

Compact because a partition can hold a million conversations and 5,000 clusters and the file must open fast:
- clusters are listed depth-first and conversations are ordered by their leaf in that order, so the members of
  every node are one contiguous range `[start, end)` of the conversation arrays: no list of chat ids per node;
- columns are arrays (one per field), never one object per row, so keys are not repeated 100,000 times;
- 1-5 scores are strings of digits ("0" when missing) and categorical values are indices into a vocabulary.
The browser derives everything else (facet breakdowns, counts under a filter) from these arrays.

Building it stays in Arrow and NumPy where rows are many: only the leaves' member lists are read (the tree's
upper levels repeat them), conversations are matched to their summaries with one vectorised lookup, and
metadata is parsed row by row without keeping a million dicts.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kura_dagster.core.privacy.thresholds import WITHHELD_NAME, Thresholds, hidden_conversations, unshown_ids
from kura_dagster.core.storage.tables import user_ids_from_arrow

FORMAT_VERSION = 1
MAX_META_KEYS = 16  # metadata keys offered as facets
MAX_META_VALUES = 64  # a key with more distinct values (ids, timestamps) is not a facet
COORD_DIGITS = 4


def _rows(table: pa.Table | None, columns: Sequence[str]) -> list[dict]:
    if table is None or table.num_rows == 0:
        return []
    present = [c for c in columns if c in table.column_names]
    return table.select(present).to_pylist()


def _columns(table: pa.Table | None, columns: Sequence[str]) -> dict[str, list]:
    """Each named column as a Python list (a missing column as Nones), rows in table order."""
    n_rows = 0 if table is None else table.num_rows
    return {
        name: table.column(name).to_pylist() if n_rows and name in table.column_names else [None] * n_rows
        for name in columns
    }


def _number(value: Any, digits: int = COORD_DIGITS) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def order_tree(nodes: Sequence[dict]) -> list[tuple[dict, int, int]]:
    """(node, parent position, depth) depth-first, children largest first as in the terminal tree.

    A parent missing from the table makes its child a root, and nodes caught in a cycle become roots too:
    the report shows what the tables hold rather than failing on it.
    """
    by_id = {node["cluster_id"]: node for node in nodes}
    children: dict[str | None, list[dict]] = {}
    for node in nodes:
        parent = node.get("parent_id")
        children.setdefault(parent if parent in by_id and parent != node["cluster_id"] else None, []).append(
            node
        )
    for siblings in children.values():
        siblings.sort(key=lambda n: (-(n.get("count") or 0), n.get("name") or "", n["cluster_id"]))
    ordered: list[tuple[dict, int, int]] = []
    seen: set[str] = set()

    def visit(roots: list[dict]) -> None:
        stack = [(root, -1, 0) for root in reversed(roots)]
        while stack:
            node, parent, depth = stack.pop()
            if node["cluster_id"] in seen:
                continue
            seen.add(node["cluster_id"])
            ordered.append((node, parent, depth))
            position = len(ordered) - 1
            stack.extend((kid, position, depth + 1) for kid in reversed(children.get(node["cluster_id"], [])))

    visit(children.get(None, []))
    visit([node for node in nodes if node["cluster_id"] not in seen])  # cycles: break them at any node
    return ordered


def _digits(scores: pa.ChunkedArray | None, n_rows: int) -> str:
    """1-5 scores as one character each; "0" stands for missing (or outside 1-9)."""
    if scores is None:
        return "0" * n_rows
    numbers = pc.fill_null(pc.cast(scores, pa.float64()), 0.0).to_numpy()
    digits = np.where((numbers >= 1) & (numbers <= 9), np.trunc(numbers), 0).astype(np.uint8)
    return (digits + ord("0")).tobytes().decode("ascii")


def _parse_metadata(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _metadata_facets(metadata_texts: Sequence[str | None]) -> dict[str, dict]:
    """Low-cardinality scalar metadata keys as categorical facets (ids and timestamps are not facets).

    Two passes over the texts rather than one list of parsed dicts: the first counts keys and, per key, its
    values until there are too many; the second writes the chosen keys' codes.
    """
    key_counts: Counter[str] = Counter()
    value_counts: dict[str, Counter[str] | None] = {}
    for text in metadata_texts:
        for key, value in _parse_metadata(text).items():
            key_counts[key] += 1
            counts = value_counts.setdefault(key, Counter())
            scalar = _scalar(value)
            if counts is not None and scalar is not None:
                counts[scalar] += 1
                if len(counts) > MAX_META_VALUES:
                    value_counts[key] = None  # too many distinct values: not a facet, stop counting
    chosen = [
        key
        for key, _ in sorted(key_counts.items(), key=lambda item: (-item[1], item[0]))
        if value_counts[key] is not None
    ][:MAX_META_KEYS]
    facets = {}
    for key in chosen:
        counts = value_counts[key]
        vocabulary = sorted(counts, key=lambda v: (-counts[v], v))
        facets[key] = {
            "values": vocabulary,
            "index": {value: i for i, value in enumerate(vocabulary)},
            "codes": [],
        }
    if facets:
        for text in metadata_texts:
            record = _parse_metadata(text)
            for key, facet in facets.items():
                facet["codes"].append(facet["index"].get(_scalar(record.get(key)), -1))
    return {key: {"values": facet["values"], "codes": facet["codes"]} for key, facet in facets.items()}


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _languages(per_row: Sequence[list | None]) -> dict:
    lists = [[str(v) for v in (languages or [])] for languages in per_row]
    counts = Counter(v for values in lists for v in values)
    vocabulary = sorted(counts, key=lambda v: (-counts[v], v))
    index = {value: i for i, value in enumerate(vocabulary)}
    return {"values": vocabulary, "codes": [[index[v] for v in values] for values in lists]}


def _messages(conversations: pa.Table | None, chat_ids: Sequence[str]) -> list[list[list[str]]]:
    by_chat = {
        row["chat_id"]: row.get("messages") or [] for row in _rows(conversations, ["chat_id", "messages"])
    }
    return [
        [[m.get("role") or "", m.get("content") or ""] for m in by_chat.get(chat, [])] for chat in chat_ids
    ]


def _trends(trends: pa.Table | None, lineage: pa.Table | None = None) -> dict | None:
    """The window view: each topic of the taxonomy in force on the page's day, its daily series over the days
    of `trends` (the `topic_trends` rows of the window, with their `date`), its status on the last day and
    its lineage event in that version. Topics are the taxonomy's stable ids (`topic_id`), so one series
    follows one topic from day to day; hidden topics are one `hidden` row per level, never flagged.

    The topics and their statuses are the last day's rows, as `kura-dagster trends` lists them: a topic of an
    earlier version that the day's version no longer holds is not shown, and a topic that moved level (a root
    regrouped under a new parent) keeps its whole series, since each day's rows give a topic the same share at
    every level they repeat it."""
    rows = _rows(
        trends,
        [
            "date",
            "topic_id",
            "level",
            "name",
            "conversations",
            "share",
            "status",
            "recent_share",
            "baseline_share",
            "p_value",
        ],
    )
    if not rows:
        return None
    days = sorted({row["date"] for row in rows})
    last = days[-1]
    events = {row["topic_id"]: row for row in _rows(lineage, ["topic_id", "event", "related_id"])}
    series = _daily_rows(rows)
    names = _lineage_names(rows, last, events)
    renamed = {topic_id for topic_id, e in events.items() if e["event"] == "renamed"}
    was = {k: v for k, v in _names_before(rows, last, renamed).items() if v != names.get(k)}
    topics: dict[tuple[int, str], dict] = {}
    for row in rows:
        if row["date"] != last:
            continue
        on = [series(day, row["topic_id"], row["level"]) for day in days]
        event = events.get(row["topic_id"])
        topics[(row["level"] or 0, row["topic_id"])] = {
            "id": row["topic_id"],
            "level": row["level"],
            "counts": [r["conversations"] if r else 0 for r in on],
            "shares": [_number(r["share"]) if r else None for r in on],
            "name": row["name"] or row["topic_id"],
            "status": row["status"],
            "recent_share": _number(row["recent_share"]),
            "baseline_share": _number(row["baseline_share"]),
            "p_value": _number(row["p_value"], 4),
            "event": event["event"] if event else None,
            "related_id": event["related_id"] if event else None,
            "related_name": names.get(event["related_id"]) if event else None,
        }
    special = ("unassigned", "hidden", "other")
    ordered = sorted(topics.values(), key=lambda t: (t["id"] in special, -sum(t["counts"]), t["name"]))
    top = min(t["level"] or 0 for t in ordered)
    # The chart follows the top level; of the finer levels, only topics flagged on the day.
    moving = [
        t for t in ordered if t["level"] != top and t["status"] in ("new", "emerging", "fading", "gone")
    ]
    return {
        "days": [day.isoformat() for day in days],
        "level": top,
        "topics": [t for t in ordered if t["level"] == top],
        "subtopics": moving,
        "lineage": [
            {
                "id": e["topic_id"],
                "name": names.get(e["topic_id"]),
                "previous_name": was.get(e["topic_id"]),
                "event": e["event"],
                "related_id": e["related_id"],
                "related_name": names.get(e["related_id"]),
            }
            for e in events.values()
            if e["event"] != "kept"
        ],
    }


def _lineage_names(rows: Sequence[dict], last: Any, events: dict[str, dict]) -> dict[str, str]:
    """Names for the lineage: a topic of the day's version by its name on the day; a topic the version no
    longer holds (merged, died) by its last name in the window. A topic of the version with no row of its
    own on the day is hidden by the privacy thresholds now and stays an id, whatever it was called before."""
    today = {row["topic_id"]: row["name"] for row in rows if row["date"] == last and row["name"]}
    gone = {topic_id for topic_id, e in events.items() if e["event"] in ("merged", "died")}
    return {**_names_before(rows, last, gone), **today}


def _names_before(rows: Sequence[dict], last: Any, topic_ids: set[str]) -> dict[str, str]:
    """The last name each of `topic_ids` had in the window before `last`."""
    return {
        row["topic_id"]: row["name"]
        for row in sorted(rows, key=lambda r: r["date"])
        if row["date"] != last and row["topic_id"] in topic_ids and row["name"]
    }


def _daily_rows(rows: Sequence[dict]) -> Callable[[Any, str, int | None], dict | None]:
    """A lookup of a topic's row on a day: at the given level, else at any level it had that day (a topic
    that changed level between versions; its rows repeat one share at every level). `hidden` and
    `unassigned` have a row per level every day, so they are always found at their own level."""
    at_level = {(row["date"], row["topic_id"], row["level"]): row for row in rows}
    anywhere: dict[tuple, dict] = {}
    for row in rows:
        anywhere.setdefault((row["date"], row["topic_id"]), row)

    def lookup(day: Any, topic_id: str, level: int | None) -> dict | None:
        return at_level.get((day, topic_id, level)) or anywhere.get((day, topic_id))

    return lookup


def _leaf_members(
    meta_clusters: pa.Table, leaf_rows: Sequence[int], chat_ids: pa.Array
) -> tuple[np.ndarray, np.ndarray]:
    """The summaries rows of the leaves' members, leaf after leaf in `leaf_rows` order, and how many each
    leaf keeps. A conversation is kept once (in its first leaf) and only when it has a summary."""
    if not leaf_rows or "chat_ids" not in meta_clusters.column_names:
        return np.empty(0, np.int64), np.zeros(len(leaf_rows), np.int64)
    lists = meta_clusters.column("chat_ids").take(pa.array(leaf_rows, pa.int64())).combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    flat = pc.cast(pc.list_flatten(lists), pa.string())
    found = (
        pc.fill_null(pc.index_in(flat, value_set=chat_ids), -1)
        .to_numpy(zero_copy_only=False)
        .astype(np.int64)
    )
    keep = found >= 0
    kept_at = np.flatnonzero(keep)
    _, first = np.unique(found[kept_at], return_index=True)  # a chat listed twice stays in its first leaf
    keep[:] = False
    keep[kept_at[first]] = True
    leaf_of = np.repeat(np.arange(len(leaf_rows)), lengths)
    return found[keep], np.bincount(leaf_of[keep], minlength=len(leaf_rows))


def _without_members_of(
    summaries: pa.Table, meta_clusters: pa.Table, rows: Sequence[int]
) -> tuple[pa.Table, int]:
    """The summaries without the members of the tree rows `rows` (the hidden groups), and how many were
    taken out: those conversations reach no range, facet or vocabulary of the page."""
    if not rows or not summaries.num_rows or "chat_ids" not in meta_clusters.column_names:
        return summaries, 0
    lists = meta_clusters.column("chat_ids").take(pa.array(rows, pa.int64())).combine_chunks()
    hidden_ids = pc.unique(pc.cast(pc.list_flatten(lists), pa.string()))
    hidden = pc.fill_null(
        pc.is_in(pc.cast(summaries.column("chat_id"), pa.string()), value_set=hidden_ids), False
    )
    taken = pc.count_distinct(pc.filter(summaries.column("chat_id"), hidden)).as_py()
    return summaries.filter(pc.invert(hidden)), taken


def _hidden_note(
    all_nodes: list[dict],
    unshown: set[str],
    meta_clusters: pa.Table,
    summaries: pa.Table,
    thresholds: Thresholds,
    rerun: str,
) -> str:
    """The privacy thresholds' sentence (`HiddenConversations.sentence`) for the hidden leaves of the tree:
    how many conversations, and which KURA_* setting would show them."""
    parents = {node.get("parent_id") for node in all_nodes}
    hidden = [n for n in all_nodes if n["cluster_id"] in unshown and n["cluster_id"] not in parents]
    if not hidden or "chat_ids" not in meta_clusters.column_names:
        return ""
    lists = meta_clusters.column("chat_ids").take(pa.array([n["_row"] for n in hidden], pa.int64()))
    leaves = [(n.get("name") or "", chats or []) for n, chats in zip(hidden, lists.to_pylist())]
    users = (
        user_ids_from_arrow(summaries.select(["chat_id", "metadata"]))
        if "metadata" in summaries.column_names
        else {}
    )
    total = pc.count_distinct(summaries.column("chat_id")).as_py() if summaries.num_rows else 0
    return hidden_conversations(leaves, users, thresholds, total=total).sentence(rerun)


def _column(table: pa.Table, name: str) -> pa.ChunkedArray | None:
    return table.column(name) if name in table.column_names else None


def build_report_data(
    dataset: str,
    day: str,
    *,
    summaries: pa.Table,
    meta_clusters: pa.Table,
    projections: pa.Table | None = None,
    conversations: pa.Table | None = None,
    trends: pa.Table | None = None,
    lineage: pa.Table | None = None,
    include_messages: bool = False,
    thresholds: Thresholds | None = None,
) -> dict:
    """Everything the explorer shows for one partition, as plain JSON-ready values.

    Groups hidden by the privacy thresholds are left out with everything derived from their members
    (summaries, languages, scores, metadata values, messages, positions, trends): the page only counts them,
    and with the `thresholds` in force says which setting would show them.
    """
    all_nodes = _rows(meta_clusters, ["cluster_id", "parent_id", "level", "name", "description", "count"])
    for row, node in enumerate(all_nodes):
        node["_row"] = row
    unshown = unshown_ids((node["cluster_id"], node.get("parent_id"), node.get("name")) for node in all_nodes)
    nodes = [node for node in all_nodes if node["cluster_id"] not in unshown]
    note = ""
    if thresholds is not None and unshown:
        rerun = f"kura-dagster run --dataset {dataset} --date {day}"
        note = _hidden_note(all_nodes, unshown, meta_clusters, summaries, thresholds, rerun)
    summaries, hidden = _without_members_of(
        summaries, meta_clusters, [n["_row"] for n in all_nodes if n["cluster_id"] in unshown]
    )
    ordered = order_tree(nodes)
    children_count = Counter(parent for _, parent, _ in ordered if parent >= 0)
    position = {row["cluster_id"]: row for row in _rows(projections, ["cluster_id", "x", "y"])}

    # Conversations in depth-first leaf order: each node's members become one range.
    summary_ids = (
        pc.cast(summaries.column("chat_id"), pa.string()).combine_chunks()
        if summaries.num_rows
        else pa.array([], pa.string())
    )
    leaves = [i for i in range(len(ordered)) if children_count[i] == 0]
    rows, kept = _leaf_members(meta_clusters, [ordered[i][0]["_row"] for i in leaves], summary_ids)
    # Leaves take their ranges in display order; every other node starts where its first descendant does.
    starts, ends = [0] * len(ordered), [0] * len(ordered)
    cursor = 0
    kept_of = dict(zip(leaves, kept.tolist()))
    for i in range(len(ordered)):
        starts[i] = cursor
        cursor += kept_of.get(i, 0)
        ends[i] = cursor
    for i in range(len(ordered) - 1, -1, -1):  # children follow their parent: fold ranges upwards
        parent = ordered[i][1]
        if parent >= 0:
            ends[parent] = max(ends[parent], ends[i])

    picked = summaries.take(pa.array(rows, pa.int64())) if summaries.num_rows else summaries
    members = picked.column("chat_id").to_pylist() if picked.num_rows else []
    shown = _columns(picked, ["summary", "languages", "metadata"])

    clusters = {
        "id": [node["cluster_id"] for node, _, _ in ordered],
        "parent": [parent for _, parent, _ in ordered],
        "depth": [depth for _, _, depth in ordered],
        "name": [node.get("name") or "" for node, _, _ in ordered],
        "description": [node.get("description") or "" for node, _, _ in ordered],
        "count": [int(node.get("count") or 0) for node, _, _ in ordered],
        "x": [_number(position.get(node["cluster_id"], {}).get("x")) for node, _, _ in ordered],
        "y": [_number(position.get(node["cluster_id"], {}).get("y")) for node, _, _ in ordered],
        "start": starts,
        "end": ends,
    }
    conversation_columns: dict[str, Any] = {
        "id": members,
        "summary": [summary or "" for summary in shown["summary"]],
        "frustration": _digits(_column(picked, "user_frustration"), len(members)),
        "concern": _digits(_column(picked, "concerning_score"), len(members)),
        "languages": _languages(shown["languages"]),
        "metadata": _metadata_facets(shown["metadata"]),
    }
    if include_messages:
        conversation_columns["messages"] = _messages(conversations, members)
    return {
        "version": FORMAT_VERSION,
        "dataset": dataset,
        "date": day,
        "totals": {
            "conversations": (pc.count_distinct(summary_ids).as_py() if len(summary_ids) else 0) + hidden,
            "clustered": len(members),
            "hidden": hidden,
            **({"hidden_note": note} if note else {}),  # with the thresholds: which setting would show them
            "hidden_withheld": any(
                node.get("name") == WITHHELD_NAME for node in all_nodes if node["cluster_id"] in unshown
            ),
            "failed_summaries": sum(1 for error in _columns(summaries, ["error"])["error"] if error),
            "clusters": len(ordered),
            "roots": sum(1 for _, parent, _ in ordered if parent < 0),
        },
        "include_messages": include_messages,
        "clusters": clusters,
        "conversations": conversation_columns,
        "trends": _trends(trends, lineage),
    }
