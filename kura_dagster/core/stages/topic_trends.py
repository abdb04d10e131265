"""Topics over time on the taxonomy's stable ids: each day's share of every topic and its status.

`compute_topic_trends` takes one day, the daily conversation counts of the taxonomy's leaves (from
`topic_assignments`) for the days up to it, the taxonomy in force that day and the lineage history, and
returns one row per (topic_id, level): the day's conversations and share of every topic at every level (a
parent's count is the sum of its leaves'), of `unassigned`, and of `hidden` (topics under the privacy
thresholds, folded into one row per level and never flagged), so that each level's shares sum to 1 (for a
day assigned with this version, as the daily assignment does).

Each row gets a status judged on that day from the days up to it, never from later days:
- `new`: born (lineage event `born`, not in the dataset's first version) within the window, and significantly
  above its share before its birth (a topic "born" only because the previous window happened to lack it is not
  new). A split or a rename is not new: its content was there.
- `emerging` / `fading`: the recent days' count against the baseline's share, with a quasi-binomial test
  (exact quasi-Poisson tails) whose over-dispersion is estimated on the baseline days only (day-to-day variation
  of the share beyond sampling noise), one-sided level `alpha`, and a minimum effect size: the share must also
  move by `min_ratio`, with `min_count` conversations on the side that is larger. A topic whose parent is
  flagged is also tested in the parent's direction at the laxer `alpha_within` (hierarchical testing): a
  theme the taxonomy spread over several small leaves is flagged on those leaves, not on their parent only.
  A steady leaf that grew at the laxer `concentration_gate` is `emerging` too when its recent conversations sit
  together among its members (`topic_novelty`, given the window's embeddings): a new theme inside an older
  topic, too small a part of it for the count alone.
- `gone`: died in the recent days (lineage) after at least `min_count` conversations' worth of baseline, or
  no conversation at all in the recent days where the baseline made that as unlikely as a fading flag needs.
- `insufficient`: too few conversations (both sides under `min_count`), fewer than `min_baseline_days` days
  with data before the recent ones, no data in the recent days, and the `hidden` row always.
- `steady`: everything else.

The recent days are the last `recent_days` days ending on the judged day; the baseline is the rest of the
`window_days` window before them: disjoint, and nothing is fitted on the days being judged (issue 16, where
the old method fitted its cut-offs on the reference day and 9 of 17 "emerging" flags were false). Missing days
are days without data: they count neither as zeros nor as days of baseline. Deterministic: no randomness.

Below this, `compute_reference_trends` is the previous method (one reference day's tree followed over the window
by nearest centroid), kept for the per-day explorer asset until it is rewired onto this one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
from scipy.special import gammainc, gammaincc

from kura_dagster.core.topics import UNASSIGNED
from kura_dagster.core.types import Cluster, is_unclustered
from kura_dagster.core.vectors import nearest_rows, unit_rows

HIDDEN = "hidden"
UNASSIGNED_NAME = "Unassigned (far from every topic)"
HIDDEN_NAME = "Hidden (below the privacy thresholds)"
STATUSES = ("new", "emerging", "steady", "fading", "gone", "insufficient")
FLAGS = ("new", "emerging", "fading", "gone")  # the statuses that are alerts

TRENDS_SCHEMA = pa.schema(
    [
        ("topic_id", pa.string()),
        ("parent_id", pa.string()),
        ("level", pa.int32()),
        ("name", pa.string()),
        ("conversations", pa.int64()),
        ("share", pa.float64()),
        ("status", pa.string()),
        ("baseline_share", pa.float64()),
        ("recent_share", pa.float64()),
        ("p_value", pa.float64()),
    ]
)

DailyCounts = Mapping[Date, Mapping[str, int]]


@dataclass(frozen=True)
class TrendOptions:
    """How a topic's status is judged; the defaults were tuned on the planted-topic benchmark (bench/trends.py)
    with days of 100-300 conversations, and hold there with ≤ 1 false flag per 7 days."""

    # Baseline + recent days (KURA_TRENDS_WINDOW_DAYS); also how long a birth stays "new".
    window_days: int = 28
    recent_days: int = 3  # the days judged against the rest of the window (KURA_TRENDS_RECENT_DAYS)
    min_baseline_days: int = 5  # days with data before the recent ones needed to call anything but new/gone
    min_count: int = 5  # conversations on the larger side of a change (KURA_TRENDS_MIN_COUNT)
    alpha: float = 0.001  # one-sided level of the test (KURA_TRENDS_ALPHA): dozens of topics x levels a day
    min_ratio: float = 1.5  # and the share must move by this factor, so big topics do not flag tiny shifts
    # True: each day's counts come from that day's own version (stored assignments), so a split restarts the
    # comparison of the piece and of the topic it left. False: every day was assigned to the judged day's
    # version (`counts_under`), whose series are comparable across splits already.
    daily_versions: bool = True
    # A topic whose parent (the row above it, one level up) is flagged is tested again at this one-sided level,
    # in the parent's direction only, with the same effect size: the parent's flag already says "something
    # under here moved", so its children are a handful of follow-up tests, not dozens of new ones (hierarchical
    # testing; about KURA_META_BRANCHING = 4 children a parent). Without it a theme the taxonomy spreads over
    # several leaves was flagged on its parent only: each piece alone was too small for `alpha` (a theme
    # gone from 10% of the day spread over 7 leaves of 1.3%). None: children are judged alone.
    alpha_within: float | None = 0.01
    # A steady leaf whose count grew at this laxer one-sided level (with `min_ratio` and `min_count`) is flagged
    # `emerging` when its recent conversations also sit together among its members at `alpha`
    # (`topic_novelty`: a new theme inside an older topic). Needs the window's embeddings
    # (`compute_topic_trends(concentration=...)`); None: not asked.
    concentration_gate: float | None = 0.05
    # Each leaf with this many nearest leaves (by centroid) is judged as one neighbourhood at `alpha`; the leaves
    # of a flagged one are tested in its direction at `alpha_within` (a theme cut into leaves under different
    # parents). None or 0: the taxonomy's own hierarchy only.
    neighbour_leaves: int | None = 3

    def __post_init__(self) -> None:
        if self.recent_days < 1 or self.window_days <= self.recent_days:
            raise ValueError(
                f"recent_days must be at least 1 and below window_days, got {self.recent_days} of {self.window_days}"
            )
        if self.min_ratio < 1 or not 0 < self.alpha < 1 or self.min_count < 1 or self.min_baseline_days < 1:
            raise ValueError("min_ratio must be ≥ 1, alpha in (0, 1), min_count and min_baseline_days ≥ 1")
        if self.alpha_within is not None and not self.alpha <= self.alpha_within < 1:
            raise ValueError(f"alpha_within must be in [alpha, 1) or None, got {self.alpha_within}")
        if self.neighbour_leaves is not None and self.neighbour_leaves < 0:
            raise ValueError(f"neighbour_leaves must be ≥ 0 or None, got {self.neighbour_leaves}")
        if self.concentration_gate is not None and not self.alpha <= self.concentration_gate < 1:
            raise ValueError(
                f"concentration_gate must be in [alpha, 1) or None, got {self.concentration_gate}"
            )

    @classmethod
    def from_settings(cls, settings: Any) -> TrendOptions:
        """The options a `Settings` chooses (KURA_TRENDS_WINDOW_DAYS, _RECENT_DAYS, _MIN_COUNT, _ALPHA)."""
        return cls(
            window_days=settings.trends_window_days,
            recent_days=settings.trends_recent_days,
            min_count=settings.trends_min_count,
            alpha=settings.trends_alpha,
        )


class TopicLike(Protocol):
    topic_id: str
    parent_id: str | None
    level: int
    name: str
    hidden: bool


class TaxonomyLike(Protocol):
    """What trends need of `taxonomy.Taxonomy`: its topics (any level)."""

    topics: Sequence[TopicLike]


@dataclass(frozen=True)
class PastTopic:
    """A topic as last seen in some version: what a `gone` row shows once it left the taxonomy."""

    topic_id: str
    parent_id: str | None
    level: int
    name: str


@dataclass(frozen=True)
class TrendHistory:
    """What trends need from earlier taxonomy versions: births, deaths, merges (from `topic_lineage`), and the
    last name and level of topics that are no longer in the taxonomy."""

    first_version: Date | None = None  # the dataset's first version: its topics are not "new"
    born: Mapping[str, Date] = field(default_factory=dict)
    died: Mapping[str, Date] = field(default_factory=dict)
    merged_into: Mapping[str, str] = field(default_factory=dict)
    past: Mapping[str, PastTopic] = field(default_factory=dict)
    splits: tuple[tuple[Date, str, str], ...] = ()  # (version, the new piece, the topic it split from)


def _as_date(value: Any) -> Date:
    return value.date() if isinstance(value, datetime) else value


def history_from_rows(
    lineage: Iterable[Mapping[str, Any]],
    taxonomy: Iterable[Mapping[str, Any]] = (),
    *,
    until: Date | None = None,
) -> TrendHistory:
    """The history from `topic_lineage` rows (version, topic_id, event, related_id) and optionally `taxonomy`
    rows (version, topic_id, parent_id, level, name) of earlier versions; versions after `until` are ignored.

    Pass the dataset's whole lineage up to the judged day (it is small: one row per topic and version): its
    earliest version is taken as the dataset's first, whose topics are never `new`."""
    rows = sorted(
        (r for r in lineage if until is None or _as_date(r["version"]) <= until),
        key=lambda r: (_as_date(r["version"]), r["topic_id"]),
    )
    first = _as_date(rows[0]["version"]) if rows else None
    born: dict[str, Date] = {}
    died: dict[str, Date] = {}
    merged: dict[str, str] = {}
    splits: list[tuple[Date, str, str]] = []
    for row in rows:
        version, topic, event = _as_date(row["version"]), row["topic_id"], row["event"]
        if event == "born":
            born.setdefault(topic, version)
            died.pop(topic, None)
        elif event == "died":
            died[topic] = version
        elif event == "merged" and row.get("related_id"):
            merged[topic] = row["related_id"]
            died.pop(topic, None)
        elif event == "split" and row.get("related_id"):
            splits.append((version, topic, row["related_id"]))
    past: dict[str, PastTopic] = {}
    for row in sorted(
        (r for r in taxonomy if until is None or _as_date(r["version"]) <= until),
        key=lambda r: _as_date(r["version"]),
    ):
        past[row["topic_id"]] = PastTopic(
            row["topic_id"], row.get("parent_id"), int(row["level"]), row["name"]
        )
    return TrendHistory(first, born, died, merged, past, tuple(splits))


def history_from_arrow(
    lineage: pa.Table, taxonomy: pa.Table | None = None, *, until: Date | None = None
) -> TrendHistory:
    """`history_from_rows` over the `topic_lineage` (and `taxonomy`) tables of a dataset."""
    columns = ["version", "topic_id", "parent_id", "level", "name"]
    topics = taxonomy.select(columns).to_pylist() if taxonomy is not None and taxonomy.num_rows else []
    return history_from_rows(lineage.to_pylist(), topics, until=until)


def history_from_taxonomies(versions: Iterable[Any], *, until: Date | None = None) -> TrendHistory:
    """`history_from_rows` over `taxonomy.Taxonomy` versions in memory (their lineage and topics)."""
    lineage, topics = [], []
    for taxonomy in versions:
        lineage += [
            {
                "version": taxonomy.version,
                "topic_id": e.topic_id,
                "event": e.event,
                "related_id": e.related_id,
            }
            for e in taxonomy.lineage
        ]
        topics += [
            {
                "version": taxonomy.version,
                "topic_id": t.topic_id,
                "parent_id": t.parent_id,
                "level": t.level,
                "name": t.name,
            }
            for t in taxonomy.topics
        ]
    return history_from_rows(lineage, topics, until=until)


def counts_under(
    taxonomy: Any, daily: Mapping[Date, tuple[Sequence[str], np.ndarray]]
) -> dict[Date, dict[str, int]]:
    """{date: {leaf or 'unassigned': n}}: every day's conversations (chat ids and embeddings, as
    `daily_embeddings_from_arrow` splits them) assigned to one taxonomy version, the judged day's, by one rule:
    the nearest leaf's centroid (the version's own members too, not their leaf of the build).

    The series compute_topic_trends reads can come from the stored daily assignments (each day under its own
    version) or from this: one version for the whole window, so that a topic's series never changes because
    the taxonomy was rebuilt (a leaf re-split, members moved between neighbours) while its content did not.
    One rule, because the build's leaves (k-means in the clustering space) and the nearest centroid (in the
    embedding space) agree at ARI ~0.87 only: a trends window longer than the taxonomy's counted its older
    days by the one and its newer by the other, a step that looked like growth. On the planted-topic
    benchmark's real path (bench/results/trends.md) one version cut false flags with nothing planted from
    ~8 to 1.1 per 7 days, and one rule to 0.44."""
    return counts_of(leaves_under(taxonomy, daily))


def leaves_under(
    taxonomy: Any, daily: Mapping[Date, tuple[Sequence[str], np.ndarray]]
) -> dict[Date, list[str]]:
    """{date: each conversation's leaf or 'unassigned', in the day's order}: `counts_under`'s rule, per row (for
    `topic_novelty.RecentConcentration`, which needs to know which conversations a leaf holds)."""
    from kura_dagster.core.stages.topic_assignments import assign_to_taxonomy

    leaves: dict[Date, list[str]] = {}
    for day, (chat_ids, vectors) in sorted(daily.items()):
        if len(chat_ids):
            assigned = assign_to_taxonomy(list(chat_ids), vectors, taxonomy, keep_members=False)
            leaves[day] = assigned.column("topic_id").to_pylist()
    return leaves


def counts_of(leaves: Mapping[Date, Sequence[str]]) -> dict[Date, dict[str, int]]:
    """{date: {leaf: conversations}} of `leaves_under`'s output."""
    counts: dict[Date, dict[str, int]] = {}
    for day, topic_ids in leaves.items():
        by_topic = counts.setdefault(day, {})
        for topic in topic_ids:
            by_topic[topic] = by_topic.get(topic, 0) + 1
    return counts


def daily_counts_from_arrow(assignments: pa.Table) -> dict[Date, dict[str, int]]:
    """{date: {topic_id: conversations}} from `topic_assignments` rows of several days (a `date` column)."""
    counts: dict[Date, dict[str, int]] = {}
    if assignments.num_rows == 0:
        return counts
    for day, topic in zip(assignments.column("date").to_pylist(), assignments.column("topic_id").to_pylist()):
        by_topic = counts.setdefault(_as_date(day), {})
        by_topic[topic] = by_topic.get(topic, 0) + 1
    return counts


@dataclass(frozen=True)
class _Row:
    """One output row before its counts: a topic of a level's cut, `unassigned`, `hidden`, or a gone topic."""

    key: str
    parent_id: str | None
    level: int
    name: str
    kind: str  # topic | unassigned | hidden | died


class _Tree:
    """The taxonomy's topics and, per level, where each id's conversations go."""

    def __init__(self, taxonomy: TaxonomyLike, history: TrendHistory, died: Mapping[str, PastTopic]) -> None:
        self.by_id = {topic.topic_id: topic for topic in taxonomy.topics}
        parents = {topic.parent_id for topic in taxonomy.topics}
        self.leaves = {tid for tid in self.by_id if tid not in parents}
        self.history, self.died = history, died
        deepest = max((t.level for t in taxonomy.topics), default=0)
        self.levels = sorted({t.level for t in taxonomy.topics} | {p.level for p in died.values()}) or [0]
        self.levels = list(range(0, max(max(self.levels), deepest) + 1))

    def in_cut(self, topic: TopicLike, level: int) -> bool:
        """The cut at `level`: its topics plus leaves that end above it, so every leaf is counted once."""
        return topic.level == level or (topic.level < level and topic.topic_id in self.leaves)

    def canonical(self, topic_id: str) -> str:
        """Follow merges (a merged topic's conversations count for the topic it merged into)."""
        seen = set()
        while topic_id in self.history.merged_into and topic_id not in self.by_id and topic_id not in seen:
            seen.add(topic_id)
            topic_id = self.history.merged_into[topic_id]
        return topic_id

    def key(self, topic_id: str, level: int) -> str | None:
        """The row of `level` that a conversation counted under `topic_id` belongs to."""
        if topic_id == UNASSIGNED:
            return UNASSIGNED
        topic_id = self.canonical(topic_id)
        if topic_id in self.died:
            return topic_id if self.died[topic_id].level == level else None
        topic = self.by_id.get(topic_id)
        seen = set()
        while topic is not None and topic.level > level and topic.topic_id not in seen:
            seen.add(topic.topic_id)
            topic = self.by_id.get(topic.parent_id) if topic.parent_id else None
        if topic is None or not self.in_cut(topic, level):
            # An id this taxonomy no longer has (nor its lineage), or a former leaf now above `level`: which
            # row of this level those conversations belong to is unknown. They stay in the day's total, in no
            # row (not in `unassigned`, whose series would then jump whenever the tree is reshaped).
            return None
        return HIDDEN if topic.hidden else topic.topic_id

    def rows(self, level: int) -> list[_Row]:
        rows = [
            _Row(t.topic_id, t.parent_id, level, t.name, "topic")
            for t in sorted(self.by_id.values(), key=lambda t: t.topic_id)
            if self.in_cut(t, level) and not t.hidden
        ]
        rows += [
            _Row(p.topic_id, p.parent_id, level, p.name, "died")
            for p in sorted(self.died.values(), key=lambda p: p.topic_id)
            if p.level == level
        ]
        rows.append(_Row(UNASSIGNED, None, level, UNASSIGNED_NAME, "unassigned"))
        if any(t.hidden and self.in_cut(t, level) for t in self.by_id.values()):
            rows.append(_Row(HIDDEN, None, level, HIDDEN_NAME, "hidden"))
        return rows


@dataclass(frozen=True)
class Judgement:
    status: str
    baseline_share: float | None = None
    recent_share: float | None = None
    p_value: float | None = None


def _tails(count: int, expected: float, dispersion: float) -> tuple[float, float]:
    """P(X ≥ count) and P(X ≤ count) for a quasi-Poisson X of mean `expected` and variance
    `dispersion` x `expected`: a Poisson in units of `dispersion` conversations (the regularised incomplete gamma
    is its tail, continuous in the count). Exact tails, not a normal approximation: most topics hold a few
    conversations a day, where the normal's right tail is far too thin and flagged steady small topics."""
    mean = expected / dispersion
    upper = float(gammainc(count / dispersion, mean)) if count > 0 else 1.0
    lower = float(gammaincc(count / dispersion + 1, mean))
    return upper, lower


CHI2_1_MEDIAN = 0.454936  # median of χ² with one degree of freedom


def overdispersion(counts: np.ndarray, totals: np.ndarray, share: float) -> float:
    """Day-to-day variance of a share beyond binomial sampling, at least 1: the median squared Pearson residual
    of the given days over χ²₁'s median. Estimated on baseline days only, so the days being judged never widen
    or narrow their own cut-off; a median, so that a step inside the baseline (a topic that grew a week ago)
    does not pass for noise and hide everything after it."""
    days = totals > 0
    if days.sum() < 3 or not 0 < share < 1:
        return 1.0
    expected = totals[days] * share
    residuals = ((counts[days] - expected) ** 2) / (expected * (1 - share))
    return max(1.0, float(np.median(residuals)) / CHI2_1_MEDIAN)


@dataclass(frozen=True)
class _Test:
    """The recent days' count against the baseline's share: both tails and the effect sizes."""

    count: int
    total: int
    baseline_share: float | None
    recent_share: float | None
    upper: float = 1.0
    lower: float = 1.0

    @property
    def p_value(self) -> float | None:
        return (
            min(1.0, 2 * min(self.upper, self.lower))
            if self.total and self.baseline_share is not None
            else None
        )

    def grows(self, options: TrendOptions, alpha: float | None = None) -> bool:
        return (
            self.upper <= (options.alpha if alpha is None else alpha)
            and self.count >= options.min_count
            and self.recent_share >= options.min_ratio * self.baseline_share
        )

    def shrinks(self, options: TrendOptions, alpha: float | None = None) -> bool:
        return (
            self.lower <= (options.alpha if alpha is None else alpha)
            and self.total * self.baseline_share >= options.min_count
            and self.recent_share * options.min_ratio <= self.baseline_share
        )


def _test(counts: np.ndarray, totals: np.ndarray, recent: int) -> _Test:
    base_c, base_n = counts[:-recent], totals[:-recent]
    c, n = int(counts[-recent:].sum()), int(totals[-recent:].sum())
    b, nb = int(base_c.sum()), int(base_n.sum())
    test = _Test(c, n, b / nb if nb else None, c / n if n else None)
    if n == 0 or nb == 0:
        return test
    share = max(b / nb, 0.5 / nb)  # a share never seen in the baseline is not known to be exactly 0
    # Quasi-binomial variance φ·n·p(1-p), φ from the baseline days, widened by the baseline's own uncertainty.
    dispersion = overdispersion(base_c, base_n, b / nb) * (1 - share) * (1 + n / nb)
    upper, lower = _tails(c, n * share, dispersion)
    return _Test(c, n, test.baseline_share, test.recent_share, upper, lower)


def judge(counts: np.ndarray, totals: np.ndarray, recent: int, options: TrendOptions) -> Judgement:
    """The status of one series (counts and day totals, oldest first, the last `recent` days judged)."""
    test = _test(counts, totals, recent)
    shares = (test.baseline_share, test.recent_share, test.p_value)
    if test.total == 0 or test.baseline_share is None:
        return Judgement("insufficient", *shares)
    if int((totals[:-recent] > 0).sum()) < options.min_baseline_days:
        return Judgement("insufficient", *shares)
    if test.count < options.min_count and test.total * test.baseline_share < options.min_count:
        return Judgement("insufficient", *shares)
    if test.grows(options):
        return Judgement("emerging", *shares)
    if test.shrinks(options):
        return Judgement("gone" if test.count == 0 else "fading", *shares)
    return Judgement("steady", *shares)


FLAG_DIRECTION = {"new": 1, "emerging": 1, "fading": -1, "gone": -1}


def judge_within(
    counts: np.ndarray,
    totals: np.ndarray,
    recent: int,
    options: TrendOptions,
    direction: int,
    alpha: float | None = None,
) -> Judgement | None:
    """The flag of a series whose parent is flagged in `direction` (1 up, -1 down): its own test in that
    direction at `alpha` (default `alpha_within`), with the same effect size and counts as any flag; None when
    it does not pass."""
    alpha = options.alpha_within if alpha is None else alpha
    if alpha is None or int((totals[:-recent] > 0).sum()) < options.min_baseline_days:
        return None
    test = _test(counts, totals, recent)
    if test.total == 0 or test.baseline_share is None:
        return None
    shares = (test.baseline_share, test.recent_share, test.p_value)
    if direction > 0 and test.grows(options, alpha):
        return Judgement("emerging", *shares)
    if direction < 0 and test.shrinks(options, alpha):
        return Judgement("gone" if test.count == 0 else "fading", *shares)
    return None


def judge_concentrated(
    counts: np.ndarray,
    totals: np.ndarray,
    recent: int,
    options: TrendOptions,
    concentration: Callable[[], float | None],
) -> Judgement | None:
    """`emerging` for a series that grew at `concentration_gate` (with the usual effect size and counts) and whose
    recent conversations sit together (`concentration()`, the p-value of `topic_novelty`, asked only then) at
    `alpha`; None otherwise."""
    if options.concentration_gate is None:
        return None
    grew = judge_within(counts, totals, recent, options, 1, alpha=options.concentration_gate)
    if grew is None:
        return None
    p = concentration()
    return grew if p is not None and p <= options.alpha else None


def judge_new(
    counts: np.ndarray, totals: np.ndarray, since_birth: int, options: TrendOptions
) -> Judgement | None:
    """`new` when a topic born `since_birth` days ago (the judged day included) is significantly above its share
    before its birth; None when it is not (it is then judged as any topic)."""
    if since_birth >= len(counts):
        return None
    test = _test(counts, totals, since_birth)
    if test.total and test.baseline_share is not None and test.grows(options):
        return Judgement("new", test.baseline_share, test.recent_share, test.p_value)
    return None


def compute_topic_trends(
    day: Date,
    daily_counts: DailyCounts,
    taxonomy: TaxonomyLike,
    history: TrendHistory | None = None,
    options: TrendOptions = TrendOptions(),
    concentration: Callable[[str], float | None] | None = None,
) -> pa.Table:
    """One row per (topic_id, level) for `day`: conversations, share and status (module docstring).

    `daily_counts` maps days to {leaf topic_id or 'unassigned': conversations}; days after `day` are ignored,
    days missing from it have no data (`counts_under` makes them under one version, the recommended source;
    `daily_counts_from_arrow` reads stored assignments). `taxonomy` is the version in force on `day`;
    `history` its lineage (`history_from_arrow`, `history_from_taxonomies`). `concentration`: a leaf's p-value
    that its recent conversations sit together (`topic_novelty.RecentConcentration` over the same window and
    assignments as `daily_counts`), for `TrendOptions.concentration_gate`; None: counts alone."""
    history = history or TrendHistory()
    days = window_days(day, options.window_days)
    start, recent_start = days[0], days[-options.recent_days]
    # A topic that died in the recent days gets a row (its last name and level): the alert. Older deaths
    # are no longer news, and the taxonomy no longer has them.
    died = {
        tid: history.past.get(tid) or PastTopic(tid, None, 0, tid)
        for tid, when in history.died.items()
        if recent_start <= when <= day and tid not in {t.topic_id for t in taxonomy.topics}
    }
    tree = _Tree(taxonomy, history, died)
    totals = np.array([sum(daily_counts.get(d, {}).values()) for d in days], dtype=np.int64)
    columns: dict[str, list] = {name: [] for name in TRENDS_SCHEMA.names}
    flagged: dict[tuple[str, int], int] = {}  # (row, level) → direction of its flag, for its children
    series_of = {level: _series(tree, level, days, daily_counts) for level in tree.levels}
    # every leaf is a row of the deepest level's cut
    nearby = _neighbourhood_directions(tree, series_of[tree.levels[-1]], totals, options)
    for level in tree.levels:
        series = series_of[level]
        since = _comparable_since(tree, level, start, day) if options.daily_versions else {}
        for row in tree.rows(level):
            counts = series.get(row.key, np.zeros(len(days), dtype=np.int64))
            judged_counts, judged_totals = counts, totals
            if row.key in since:  # days before a split are not comparable: no data for this row
                cut = (since[row.key] - start).days
                judged_counts, judged_totals = counts.copy(), totals.copy()
                judged_counts[:cut], judged_totals[:cut] = 0, 0
            judgement = _judge_row(row, judged_counts, judged_totals, day, history, options)
            if judgement.status == "steady" and row.kind == "topic":
                judgement = (
                    _within_parent(row, tree, flagged, judged_counts, judged_totals, options) or judgement
                )
            if judgement.status == "steady" and row.key in nearby:
                direction = nearby[row.key]
                judgement = (
                    judge_within(judged_counts, judged_totals, options.recent_days, options, direction)
                    or judgement
                )
            if judgement.status == "steady" and concentration is not None and row.key in tree.leaves:
                judgement = (
                    judge_concentrated(
                        judged_counts,
                        judged_totals,
                        options.recent_days,
                        options,
                        lambda key=row.key: concentration(key),
                    )
                    or judgement
                )
            if judgement.status in FLAG_DIRECTION:
                flagged[(row.key, level)] = FLAG_DIRECTION[judgement.status]
            columns["topic_id"].append(row.key)
            columns["parent_id"].append(row.parent_id)
            columns["level"].append(level)
            columns["name"].append(row.name)
            columns["conversations"].append(int(counts[-1]))
            columns["share"].append(float(counts[-1] / totals[-1]) if totals[-1] else None)
            columns["status"].append(judgement.status)
            columns["baseline_share"].append(judgement.baseline_share)
            columns["recent_share"].append(judgement.recent_share)
            columns["p_value"].append(judgement.p_value)
    return pa.Table.from_pydict(columns, schema=TRENDS_SCHEMA)


def _series(
    tree: _Tree, level: int, days: Sequence[Date], daily_counts: DailyCounts
) -> dict[str, np.ndarray]:
    """{row of `level`: its conversations on each of `days`}."""
    series: dict[str, np.ndarray] = {}
    for column, d in enumerate(days):
        for topic_id, n in daily_counts.get(d, {}).items():
            key = tree.key(topic_id, level)
            if key is not None:
                series.setdefault(key, np.zeros(len(days), dtype=np.int64))[column] += n
    return series


def _neighbourhood_directions(
    tree: _Tree, leaf_series: Mapping[str, np.ndarray], totals: np.ndarray, options: TrendOptions
) -> dict[str, int]:
    """{leaf: direction} for the leaves of a flagged neighbourhood: each visible leaf with its
    `neighbour_leaves` nearest visible leaves by centroid, their conversations summed and judged at `alpha`.

    A second, local hierarchy beside the taxonomy's: a theme the taxonomy cut into several small leaves that
    landed under different parents (the planted fading theme of banking77 in eight leaves of about 1% of the
    day under three parents, each leaf down 5x but each alone p ~0.01) moves its neighbourhood as a whole. Its
    leaves are then tested in that direction at `alpha_within`, as the children of a flagged parent are.
    Taxonomies without centroids (all zero) have no neighbourhoods."""
    if not options.neighbour_leaves:
        return {}
    leaves = sorted(
        (t for t in tree.by_id.values() if t.topic_id in tree.leaves and not t.hidden),
        key=lambda t: t.topic_id,
    )
    centroids = [getattr(t, "centroid", None) for t in leaves]
    if len(leaves) < 2 or any(c is None or not np.any(c) for c in centroids):
        return {}
    nearest = nearest_rows(
        np.vstack(centroids).astype(np.float64), min(options.neighbour_leaves, len(leaves) - 1)
    )
    empty = np.zeros(len(totals), dtype=np.int64)
    directions: dict[str, int] = {}
    for index, leaf in enumerate(leaves):
        group = [leaf.topic_id] + [leaves[j].topic_id for j in nearest[index]]
        status = judge(
            sum((leaf_series.get(g, empty) for g in group), empty), totals, options.recent_days, options
        ).status
        direction = FLAG_DIRECTION.get(status)
        for member in group if direction else ():
            # a leaf in neighbourhoods flagged both ways is left to its own test
            directions[member] = direction if directions.get(member, direction) == direction else 0
    return {leaf: direction for leaf, direction in directions.items() if direction}


def _within_parent(
    row: _Row,
    tree: _Tree,
    flagged: Mapping[tuple[str, int], int],
    counts: np.ndarray,
    totals: np.ndarray,
    options: TrendOptions,
) -> Judgement | None:
    """A steady row whose parent row (one level up, a different topic) is flagged: judged in the parent's
    direction at `alpha_within` (`judge_within`)."""
    if row.level == 0:
        return None
    parent = tree.key(row.key, row.level - 1)
    direction = flagged.get((parent, row.level - 1)) if parent not in (None, row.key) else None
    return judge_within(counts, totals, options.recent_days, options, direction) if direction else None


def _comparable_since(tree: _Tree, level: int, start: Date, day: Date) -> dict[str, Date]:
    """Per row of `level`, the last split inside the window that moved conversations into or out of it.

    A piece that split from a topic had its earlier conversations counted under that topic: before the split
    its own series is not zero but unknown, and the topic it left was larger than it is now. Comparing across
    the split would flag both (the piece emerging, the source fading) when nothing changed but the taxonomy, so
    each is judged on the days since. A split inside one row of a coarser level leaves that row alone."""
    since: dict[str, Date] = {}
    for version, piece, source in tree.history.splits:
        if not start < version <= day:
            continue
        keys = {tree.key(piece, level), tree.key(source, level)}
        if len(keys) > 1:
            for key in keys - {UNASSIGNED, HIDDEN, None}:
                since[key] = max(since.get(key, version), version)
    return since


def _judge_row(
    row: _Row, counts: np.ndarray, totals: np.ndarray, day: Date, history: TrendHistory, options: TrendOptions
) -> Judgement:
    if row.kind == "hidden":
        return Judgement("insufficient")  # under the privacy thresholds: never flagged
    judgement = judge(counts, totals, options.recent_days, options)
    if row.kind == "died":  # gone when the days before held enough of it for its absence to be news
        recent = int(totals[-options.recent_days :].sum())
        expected = recent * (judgement.baseline_share or 0.0)
        status = "gone" if expected >= options.min_count else "insufficient"
        return Judgement(status, judgement.baseline_share, judgement.recent_share)
    born = _born_within(row.key, day, history, options) if row.kind == "topic" else None
    if born is not None:
        new = judge_new(counts, totals, (day - born).days + 1, options)
        if new is not None:
            return new
    if row.kind == "unassigned" and judgement.status == "gone":
        # not a topic: it is never born and never dies; its share dropping to 0 is a decline
        return Judgement("fading", judgement.baseline_share, judgement.recent_share, judgement.p_value)
    return judgement


def _born_within(topic_id: str, day: Date, history: TrendHistory, options: TrendOptions) -> Date | None:
    """Its birth, when after the dataset's first version (whose topics are all "born") and within the window."""
    born = history.born.get(topic_id)
    if born is None or history.first_version is None or born <= history.first_version:
        return None
    return born if day - timedelta(days=options.window_days) < born <= day else None


# ---- The previous method: one reference day's tree followed over a window (per-day explorer asset) ----

OTHER_ID = "other"
OTHER_NAME = "Other (far from every reference topic)"
REFERENCE_STATUSES = ("emerging", "fading", "steady", "no_history", "not_flagged")

REFERENCE_TRENDS_SCHEMA = pa.schema(
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
class ReferenceTrendOptions:
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
    recent: int, recent_total: int, baseline: int, baseline_total: int, options: ReferenceTrendOptions
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


def compute_reference_trends(
    nodes: Sequence[Cluster],
    daily: DailyEmbeddings,
    end: Date,
    options: ReferenceTrendOptions = ReferenceTrendOptions(),
) -> pa.Table:
    """One row per (day of the window, topic) with volume, share and the topic's flag.

    `nodes` is the reference tree (the tree of `end`); `daily` maps each day to its chat ids and embedding
    matrix (rows aligned); days of the window missing from it count as days without conversations.
    """
    days = window_days(end, options.window_days)
    parts = [_trends_at_level(nodes, daily, days, level, options) for level in options.levels]
    return pa.concat_tables([REFERENCE_TRENDS_SCHEMA.empty_table(), *parts])


def _trends_at_level(
    nodes: Sequence[Cluster],
    daily: DailyEmbeddings,
    days: Sequence[Date],
    level: int,
    options: ReferenceTrendOptions,
) -> pa.Table:
    end = days[-1]
    reference_ids, reference_vectors = daily.get(end, ([], np.zeros((0, 0))))
    topics, centroids = topic_centroids(topics_at_level(nodes, level), reference_ids, reference_vectors)
    if not topics:
        return REFERENCE_TRENDS_SCHEMA.empty_table()
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
    topics: Sequence[Cluster],
    counts: np.ndarray,
    days: Sequence[Date],
    level: int,
    options: ReferenceTrendOptions,
) -> pa.Table:
    totals = counts.sum(axis=0)
    recent = min(options.recent, len(days))
    split = len(days) - recent
    labels = [(topic.id, topic.name) for topic in topics] + [(OTHER_ID, OTHER_NAME)]
    columns: dict[str, list] = {name: [] for name in REFERENCE_TRENDS_SCHEMA.names}
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
    return pa.Table.from_pydict(columns, schema=REFERENCE_TRENDS_SCHEMA)


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
