"""A synthetic partition of any size, written straight into a DuckDB file, for the explorer's tests and bench.

The pipeline would take many minutes to cluster 100,000 conversations on two cores; the explorer only reads the
tables, so this builds tables that follow the contract (a valid tree, projections of every node, summaries with
facets and metadata, optionally messages and a week of embeddings for topics over time). Seeded: the same
arguments give the same tables.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

from kura_dagster.core.stages.topic_trends import ReferenceTrendOptions as TrendOptions
from kura_dagster.core.stages.topic_trends import compute_reference_trends as compute_topic_trends
from kura_dagster.core.storage import tables
from kura_dagster.core.storage.store import connect, write_partition
from kura_dagster.core.types import Cluster

WORDS = (
    "refund",
    "password",
    "docker",
    "pandas",
    "invoice",
    "shipping",
    "login",
    "billing",
    "python",
    "sql",
    "upload",
    "email",
    "account",
    "delivery",
    "crash",
    "timeout",
    "export",
    "import",
    "api",
    "report",
)
LANGUAGES = ("english", "spanish", "portuguese", "german", "french", "python", "sql", "javascript")
CHANNELS = ("web", "mobile", "email", "api")
MODELS = ("gpt-4o-mini", "claude-haiku", "local")


@dataclass
class SyntheticPartition:
    tree: list[Cluster]
    levels: dict[str, int]
    summaries: pa.Table
    meta_clusters: pa.Table
    projections: pa.Table
    conversations: pa.Table
    chat_ids: list[str]
    root_of_chat: dict[str, str]


def _tree(leaf_members: list[list[str]], branching: int, names: list[str] | None):
    """Leaves, then parents grouping `branching` consecutive nodes, until at most 10 roots."""
    level_nodes = []
    for i, members in enumerate(leaf_members):
        name = names[i] if names else f"{WORDS[i % len(WORDS)]} {WORDS[(i * 7 + 3) % len(WORDS)]} issues #{i}"
        level_nodes.append(
            Cluster(
                id=f"leaf-{i:05d}",
                name=name,
                description=f"Users asking about {name}.",
                slug=f"leaf-{i}",
                chat_ids=members,
            )
        )
    nodes = list(level_nodes)
    depth = 0
    while len(level_nodes) > 10:
        depth += 1
        parents = []
        for g in range(0, len(level_nodes), branching):
            group = level_nodes[g : g + branching]
            if len(group) == 1:
                parents.append(group[0])
                continue
            parent = Cluster(
                id=f"meta-{depth}-{g // branching:05d}",
                name=f"{group[0].name.split(' #')[0]} and more (level {depth})",
                description=f"{len(group)} related topics.",
                slug=f"meta-{depth}-{g}",
                chat_ids=[c for kid in group for c in kid.chat_ids],
            )
            for kid in group:
                kid.parent_id = parent.id
            parents.append(parent)
            nodes.append(parent)
        level_nodes = parents
    return nodes


def synthetic_partition(
    n_conversations: int = 400,
    n_leaves: int = 20,
    *,
    day: str = "2026-11-07",
    seed: int = 0,
    branching: int = 4,
    leaf_names: list[str] | None = None,
    summaries_text: list[str] | None = None,
) -> SyntheticPartition:
    rng = np.random.default_rng(seed)
    chat_ids = [f"chat-{day}-{k:06d}" for k in range(n_conversations)]
    assignment = np.sort(rng.integers(0, n_leaves, n_conversations))
    assignment[:n_leaves] = np.arange(n_leaves)  # every leaf has a member
    leaf_members = [[] for _ in range(n_leaves)]
    for k, leaf in enumerate(assignment):
        leaf_members[leaf].append(chat_ids[k])
    nodes = _tree(leaf_members, branching, leaf_names)
    by_id = {n.id: n for n in nodes}
    levels = {}
    for node in nodes:
        depth, parent = 0, node.parent_id
        while parent is not None:
            depth, parent = depth + 1, by_id[parent].parent_id
        levels[node.id] = depth
    roots = [n for n in nodes if n.parent_id is None]
    root_of = {}
    for node in nodes:
        top = node
        while top.parent_id is not None:
            top = by_id[top.parent_id]
        for chat in node.chat_ids:
            root_of[chat] = top.id
    # Positions: roots on a circle, each leaf near its root, parents at their members' mean.
    angle = {root.id: 2 * math.pi * i / max(1, len(roots)) for i, root in enumerate(roots)}
    xy = {}
    for node in nodes:
        if node.id.startswith("leaf-"):
            top = root_of[node.chat_ids[0]]
            xy[node.id] = (
                8 * math.cos(angle[top]) + rng.normal(0, 2),
                8 * math.sin(angle[top]) + rng.normal(0, 2),
            )
    kids_of: dict[str, list[str]] = {}
    for node in nodes:
        if node.parent_id is not None:
            kids_of.setdefault(node.parent_id, []).append(node.id)
    for node in sorted(nodes, key=lambda n: -levels[n.id]):
        if node.id not in xy:
            xy[node.id] = tuple(np.mean([xy[kid] for kid in kids_of[node.id]], axis=0))
    meta = tables.meta_clusters_to_arrow(nodes, [levels[n.id] for n in nodes])
    projections = pa.Table.from_pydict(
        {
            "cluster_id": [n.id for n in nodes],
            "parent_id": [n.parent_id for n in nodes],
            "level": [levels[n.id] for n in nodes],
            "name": [n.name for n in nodes],
            "count": [n.count for n in nodes],
            "x": [float(xy[n.id][0]) for n in nodes],
            "y": [float(xy[n.id][1]) for n in nodes],
        },
        schema=tables.SCHEMAS["projections"],
    )
    leaf_name = {chat: node.name for node in nodes if node.id.startswith("leaf-") for chat in node.chat_ids}
    summary = summaries_text or [
        f"The user asks about {leaf_name[c]} and wants help with {WORDS[int(rng.integers(len(WORDS)))]} on "
        f"{CHANNELS[k % len(CHANNELS)]}."
        for k, c in enumerate(chat_ids)
    ]
    languages = [
        [LANGUAGES[int(rng.integers(3))]]
        + ([LANGUAGES[5 + int(rng.integers(3))]] if rng.random() < 0.3 else [])
        for _ in chat_ids
    ]
    metadata = [
        json.dumps({"channel": CHANNELS[k % 4], "model": MODELS[k % 3], "user_id": f"u{k:06d}"})
        for k in range(n_conversations)
    ]
    summaries = pa.Table.from_pydict(
        {
            "chat_id": chat_ids,
            "summary": summary,
            "request": summary,
            "topic": [leaf_name[c] for c in chat_ids],
            "task": ["help"] * n_conversations,
            "languages": languages,
            "concerning_score": rng.choice([1, 1, 1, 2, 3, 4, 5], n_conversations).astype(np.int8),
            "user_frustration": rng.choice([1, 1, 2, 3, 4, 5], n_conversations).astype(np.int8),
            "assistant_errors": [[] for _ in chat_ids],
            "error": [None] * n_conversations,
            "model": ["synthetic"] * n_conversations,
            "metadata": metadata,
            "custom_facets": ["{}"] * n_conversations,
            "truncated": [False] * n_conversations,
        },
        schema=tables.SCHEMAS["summaries"],
    )
    start = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
    conversations = pa.Table.from_pydict(
        {
            "chat_id": chat_ids,
            "created_at": [start + timedelta(seconds=k) for k in range(n_conversations)],
            "messages": [
                [{"role": "user", "content": s}, {"role": "assistant", "content": "Here is how."}]
                for s in summary
            ],
            "metadata": metadata,
        },
        schema=tables.SCHEMAS["conversations"],
    )
    return SyntheticPartition(nodes, levels, summaries, meta, projections, conversations, chat_ids, root_of)


def synthetic_week_of_embeddings(
    part: SyntheticPartition,
    day: str,
    *,
    days: int = 7,
    dims: int = 32,
    seed: int = 0,
    per_day: int | None = None,
    growing_root: int = 0,
) -> dict[Date, tuple[list[str], np.ndarray]]:
    """Embeddings for the partition's day and the days before it: one direction per root plus noise.

    The reference day uses the partition's own chat ids; earlier days draw the same roots in the same
    proportions, except `growing_root`, which is rarer earlier (so it should be flagged emerging).
    """
    rng = np.random.default_rng(seed)
    roots = sorted({r for r in part.root_of_chat.values()})
    directions = rng.normal(size=(len(roots), dims))
    end = Date.fromisoformat(day)
    reference_roots = np.array([roots.index(part.root_of_chat[c]) for c in part.chat_ids])

    def vectors(root_rows: np.ndarray) -> np.ndarray:
        return directions[root_rows] + rng.normal(0, 0.35, size=(len(root_rows), dims))

    daily = {end: (part.chat_ids, vectors(reference_roots))}
    weights = np.bincount(reference_roots, minlength=len(roots)).astype(float)
    earlier = weights.copy()
    earlier[growing_root] *= 0.25
    earlier /= earlier.sum()
    n = per_day or len(part.chat_ids)
    for offset in range(1, days):
        drawn = rng.choice(len(roots), size=n, p=earlier)
        daily[end - timedelta(days=offset)] = ([f"old-{offset}-{k}" for k in range(n)], vectors(drawn))
    return daily


def write_synthetic_partition(
    database: Path,
    dataset: str,
    day: str,
    part: SyntheticPartition,
    *,
    with_trends: bool = True,
    window_days: int = 7,
    seed: int = 0,
) -> pa.Table | None:
    """Write the partition's tables (and its topic_trends, computed by the real algorithm) into `database`."""
    when = Date.fromisoformat(day)
    trends = None
    if with_trends:
        daily = synthetic_week_of_embeddings(
            part, day, days=window_days, seed=seed, per_day=min(len(part.chat_ids), 5000)
        )
        trends = compute_topic_trends(part.tree, daily, when, TrendOptions(window_days=window_days))
    with connect(database) as connection:
        write_partition(connection, "summaries", dataset, when, part.summaries)
        write_partition(connection, "meta_clusters", dataset, when, part.meta_clusters)
        write_partition(connection, "projections", dataset, when, part.projections)
        write_partition(connection, "conversations", dataset, when, part.conversations)
        if trends is not None:
            for trend_day, rows in _as_stable_trends(trends).items():
                write_partition(connection, "topic_trends", dataset, trend_day, rows)
    return trends


def _as_stable_trends(trends: pa.Table) -> dict[Date, pa.Table]:
    """The reference trends of the window as the `topic_trends` table stores them: one partition per day, one
    row per (topic, level), each day carrying the window's status (enough for the explorer's window view)."""
    from kura_dagster.core.stages.topic_trends import TRENDS_SCHEMA

    by_day: dict[Date, list[dict]] = {}
    for row in trends.to_pylist():
        by_day.setdefault(row["day"], []).append(
            {
                "topic_id": row["topic_id"],
                "parent_id": None,
                "level": row["level"],
                "name": row["topic"],
                "conversations": row["conversations"],
                "share": row["share"],
                "status": {"no_history": "insufficient", "not_flagged": "steady"}.get(
                    row["status"], row["status"]
                ),
                "baseline_share": row["baseline_share"],
                "recent_share": row["recent_share"],
                "p_value": None,
            }
        )
    return {day: pa.Table.from_pylist(rows, schema=TRENDS_SCHEMA) for day, rows in by_day.items()}
