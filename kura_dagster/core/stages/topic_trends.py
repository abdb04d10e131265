"""Topics over time: follow one reference tree's topics across a window of days.

Each day is clustered on its own, so its cluster ids and even its clustering space (a per-day UMAP) are not
comparable with another day's. What is comparable is the embedding model's space. So the reference day's
tree (the last day of the window) is cut at a level, each topic gets the centroid of its members' unit
embeddings, and every conversation of every day in the window goes to its nearest centroid by cosine
similarity. A conversation further from its nearest topic than almost all of the reference day's conversations
of that topic (below the `other_quantile` of their similarities) goes to "Other": where something new shows
up first.

The same rule is applied to every day, the reference day included, so a topic's volume never jumps because
the method changed between days (the reference day's volumes are therefore close to, not exactly, the tree's
counts). A topic is *emerging* when its share of the last `recent_days` days is significantly higher than its
share of the earlier days of the window (a two-proportion z-test) and at least `min_ratio` times it; *fading*
is the mirror image. "Other" is never flagged: the tree was built from the reference day, so that day's
conversations fit it better than earlier days' do by construction, and Other would always look like fading.

Trends are computed for the cut at each of `levels` (default the roots and the level below them): new
themes are usually small and merge into a large root, where they barely move its share, while their own
level-1 topic stands out. Deterministic: no randomness at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from kura_dagster.core.types import Cluster, is_unclustered
from kura_dagster.core.vectors import unit_rows

OTHER_ID = "other"
OTHER_NAME = "Other (far from every reference topic)"
STATUSES = ("emerging", "fading", "steady", "no_history", "not_flagged")

TRENDS_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("topic_id", pa.string()),
        ("topic", pa.string()),
        ("level", pa.int32()),
        ("conversations", pa.int64()),
        ("share", pa.float64()),
        ("status", pa.string()),
        ("recent_share", pa.float64()),
        ("baseline_share", pa.float64()),
        ("z", pa.float64()),
    ]
)

DailyEmbeddings = Mapping[Date, tuple[Sequence[str], np.ndarray]]


@dataclass(frozen=True)
class TrendOptions:
    """How topics are followed and flagged; the defaults suit daily partitions of a few hundred chats."""

    window_days: int = 7
    levels: tuple[int, ...] = (0, 1)  # cuts of the reference tree to follow (0 = its roots)
    recent_days: int | None = None  # None: a third of the window, at least one day
    other_quantile: float = 0.05  # share of the reference day's members allowed to fall into "Other"
    min_z: float = 1.96  # two-sided 5% for the change in share
    min_ratio: float = 1.5  # and at least this relative change, so big days do not flag tiny shifts
    min_count: int = 5  # conversations on the growing (or shrinking) side

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise ValueError(f"window_days must be at least 1, got {self.window_days}")
        if not 0 <= self.other_quantile < 1:
            raise ValueError(f"other_quantile must be in [0, 1), got {self.other_quantile}")

    @property
    def recent(self) -> int:
        return self.recent_days if self.recent_days is not None else max(1, self.window_days // 3)


def window_days(end: Date, days: int) -> list[Date]:
    """The `days` days ending with `end`, oldest first."""
    return [end - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def topics_at_level(nodes: Sequence[Cluster], level: int) -> list[Cluster]:
    """The cut of the tree at `level`: nodes at that depth, plus leaves that end above it.

    Every conversation of the tree is in exactly one topic of the cut. HDBSCAN's "Unclustered" node is left
    out: it is not a topic and has no meaningful centroid.
    """
    by_id = {node.id: node for node in nodes}
    children: dict[str | None, list[Cluster]] = {}
    for node in nodes:
        parent = node.parent_id if node.parent_id in by_id else None
        children.setdefault(parent, []).append(node)
    cut: list[Cluster] = []
    frontier = [(root, 0) for root in children.get(None, [])]
    while frontier:
        node, depth = frontier.pop(0)
        kids = children.get(node.id, [])
        if depth == level or not kids:
            cut.append(node)
        else:
            frontier.extend((kid, depth + 1) for kid in kids)
    return sorted((node for node in cut if not is_unclustered(node)), key=lambda n: (-n.count, n.name, n.id))


def _unit64(vectors: np.ndarray) -> np.ndarray:
    """Unit rows in float64: shares and thresholds are compared across days, in full precision."""
    return unit_rows(np.asarray(vectors, dtype=np.float64))


def topic_centroids(
    topics: Sequence[Cluster], chat_ids: Sequence[str], vectors: np.ndarray
) -> tuple[list[Cluster], np.ndarray]:
    """Unit centroid of each topic's embedded members; topics without one embedded member are dropped."""
    row_of = {chat: row for row, chat in enumerate(chat_ids)}
    kept, centroids = [], []
    for topic in topics:
        rows = [row_of[chat] for chat in topic.chat_ids if chat in row_of]
        if rows:
            kept.append(topic)
            centroids.append(_mean_unit_row(vectors, rows))
    if not kept:
        return [], np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0))
    return kept, _unit64(np.vstack(centroids))


NEAREST_BLOCK = 65_536


def _mean_unit_row(vectors: np.ndarray, rows: Sequence[int]) -> np.ndarray:
    """Mean of the unit-normalised `vectors[rows]`, summed block by block: a top-level topic of a million
    conversations holds hundreds of thousands of rows, and their float64 copy at once was gigabytes."""
    total = np.zeros(vectors.shape[1])
    for start in range(0, len(rows), NEAREST_BLOCK):
        total += _unit64(vectors[rows[start : start + NEAREST_BLOCK]]).sum(axis=0)
    return total / len(rows)


def _nearest(vectors: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest centroid by cosine similarity, and that similarity."""
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    best = np.empty(len(vectors), dtype=np.int64)
    nearest = np.empty(len(vectors))
    for start in range(0, len(vectors), NEAREST_BLOCK):  # blocks: row-wise results, bounded float64 copies
        similarity = _unit64(vectors[start : start + NEAREST_BLOCK]) @ centroids.T
        best[start : start + NEAREST_BLOCK] = similarity.argmax(axis=1)
        nearest[start : start + NEAREST_BLOCK] = similarity[
            np.arange(len(similarity)), best[start : start + NEAREST_BLOCK]
        ]
    return best, nearest


def nearest_topics(vectors: np.ndarray, centroids: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Index of each row's nearest centroid, -1 ("Other") when less similar than that topic's threshold."""
    best, similarity = _nearest(vectors, centroids)
    return np.where(similarity >= thresholds[best], best, -1) if len(best) else best


def other_thresholds(vectors: np.ndarray, centroids: np.ndarray, quantile: float) -> np.ndarray:
    """Per topic, the similarity below which a conversation is further from it than almost all of the
    reference day's conversations that it attracts. Per topic, not global: a diffuse topic would otherwise
    feed "Other" more than a tight one, and Other's share would follow the mix of topics, not novelty."""
    thresholds = np.full(len(centroids), -math.inf)
    if quantile <= 0:
        return thresholds
    best, similarity = _nearest(vectors, centroids)
    for topic in range(len(centroids)):
        own = similarity[best == topic]
        if len(own):
            thresholds[topic] = float(np.quantile(own, quantile, method="lower"))
    return thresholds


@dataclass(frozen=True)
class TopicFlag:
    status: str
    recent_share: float | None
    baseline_share: float | None
    z: float | None


def flag_topic(
    recent: int, recent_total: int, baseline: int, baseline_total: int, options: TrendOptions
) -> TopicFlag:
    """Emerging, fading or steady, from pooled counts of the recent days and of the days before them."""
    p_recent = recent / recent_total if recent_total else None
    p_base = baseline / baseline_total if baseline_total else None
    if p_recent is None or p_base is None:
        return TopicFlag("no_history", p_recent, p_base, None)
    pooled = (recent + baseline) / (recent_total + baseline_total)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / recent_total + 1 / baseline_total))
    z = (p_recent - p_base) / spread if spread > 0 else 0.0
    status = "steady"
    if z >= options.min_z and recent >= options.min_count and p_recent >= options.min_ratio * p_base:
        status = "emerging"
    elif z <= -options.min_z and baseline >= options.min_count and p_base >= options.min_ratio * p_recent:
        status = "fading"
    return TopicFlag(status, p_recent, p_base, z)


def compute_topic_trends(
    nodes: Sequence[Cluster], daily: DailyEmbeddings, end: Date, options: TrendOptions = TrendOptions()
) -> pa.Table:
    """One row per (day of the window, topic) with volume, share and the topic's flag.

    `nodes` is the reference tree (the tree of `end`); `daily` maps each day to its chat ids and embedding
    matrix (rows aligned); days of the window missing from it count as days without conversations.
    """
    days = window_days(end, options.window_days)
    parts = [_trends_at_level(nodes, daily, days, level, options) for level in options.levels]
    return pa.concat_tables([TRENDS_SCHEMA.empty_table(), *parts])


def _trends_at_level(
    nodes: Sequence[Cluster], daily: DailyEmbeddings, days: Sequence[Date], level: int, options: TrendOptions
) -> pa.Table:
    end = days[-1]
    reference_ids, reference_vectors = daily.get(end, ([], np.zeros((0, 0))))
    topics, centroids = topic_centroids(topics_at_level(nodes, level), reference_ids, reference_vectors)
    if not topics:
        return TRENDS_SCHEMA.empty_table()
    thresholds = other_thresholds(reference_vectors, centroids, options.other_quantile)
    counts = np.zeros((len(topics) + 1, len(days)), dtype=np.int64)  # last row: Other
    for column, day in enumerate(days):
        chat_ids, vectors = daily.get(day, ([], np.zeros((0, centroids.shape[1]))))
        if len(chat_ids) == 0:
            continue
        if vectors.shape[1] != centroids.shape[1]:
            raise ValueError(
                f"embeddings of {day} have {vectors.shape[1]} dimensions, the reference day "
                f"{end} has {centroids.shape[1]}: the embedding model changed inside the window"
            )
        assigned = nearest_topics(vectors, centroids, thresholds)
        counts[:, column] = np.bincount(
            np.where(assigned < 0, len(topics), assigned), minlength=len(topics) + 1
        )
    return _trend_rows(topics, counts, days, level, options)


def _trend_rows(
    topics: Sequence[Cluster], counts: np.ndarray, days: Sequence[Date], level: int, options: TrendOptions
) -> pa.Table:
    totals = counts.sum(axis=0)
    recent = min(options.recent, len(days))
    split = len(days) - recent
    labels = [(topic.id, topic.name) for topic in topics] + [(OTHER_ID, OTHER_NAME)]
    columns: dict[str, list] = {name: [] for name in TRENDS_SCHEMA.names}
    for row, (topic_id, name) in enumerate(labels):
        if row == len(topics) and counts[row].sum() == 0:
            continue  # no "Other" row when nothing fell outside the topics
        flag = flag_topic(
            int(counts[row, split:].sum()),
            int(totals[split:].sum()),
            int(counts[row, :split].sum()),
            int(totals[:split].sum()),
            options,
        )
        if topic_id == OTHER_ID:
            flag = TopicFlag("not_flagged", flag.recent_share, flag.baseline_share, flag.z)
        for column, day in enumerate(days):
            columns["day"].append(day)
            columns["topic_id"].append(topic_id)
            columns["topic"].append(name)
            columns["level"].append(level)
            columns["conversations"].append(int(counts[row, column]))
            columns["share"].append(float(counts[row, column] / totals[column]) if totals[column] else None)
            columns["status"].append(flag.status)
            columns["recent_share"].append(flag.recent_share)
            columns["baseline_share"].append(flag.baseline_share)
            columns["z"].append(flag.z)
    return pa.Table.from_pydict(columns, schema=TRENDS_SCHEMA)


def daily_embeddings_from_arrow(table: pa.Table) -> dict[Date, tuple[list[str], np.ndarray]]:
    """Split an embeddings table that spans several days (it has a `date` column) into one entry per day."""
    if table.num_rows == 0:
        return {}
    if "date" not in table.column_names:
        raise ValueError("embeddings spanning several days need their `date` column")
    from kura_dagster.core.storage.tables import embeddings_from_arrow

    chat_ids, vectors = embeddings_from_arrow(table)
    dates = table.column("date").to_pylist()
    by_day: dict[Date, list[int]] = {}
    for row, day in enumerate(dates):
        day = day.date() if isinstance(day, datetime) else day
        by_day.setdefault(day, []).append(row)
    return {
        day: ([chat_ids[r] for r in rows], _rows_of(vectors, rows)) for day, rows in sorted(by_day.items())
    }


def _rows_of(vectors: np.ndarray, rows: list[int]) -> np.ndarray:
    """`vectors[rows]`, as a view when the rows are consecutive (a day's rows are: no GB-sized copy)."""
    if rows and rows[-1] - rows[0] + 1 == len(rows):
        return vectors[rows[0] : rows[-1] + 1]
    return vectors[rows]
