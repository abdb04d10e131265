"""Something new inside a topic: do a growing topic's recent conversations sit together, apart from its older ones?

A new theme the embedding does not separate well shares a leaf with older content, and at a few percent of the
day it moves that leaf's share too little for the count test of `topic_trends` alone (on the planted-topic
benchmark, banking77's `card_not_working` at 3% of the day lifts "declined card payment" from 2.7% to 4.4%,
p = 0.03 where `alpha` is 0.001). What does show is where the new conversations sit: near each other, among
the leaf's members. This module measures that, per leaf of the trends window:

    T = the number of (recent conversation, one of its k nearest members of the leaf) pairs whose neighbour is
        recent too,

against its exact mean and variance when the leaf's conversations are labelled recent at random (the same
number of them): Schilling's nearest-neighbour two-sample statistic, read as a one-sided normal z. When a
leaf's content did not change, which of its conversations came in the recent days is random and T sits at its
mean; a theme that is new in the recent days puts its conversations next to each other and lifts T.

The normal tail is lax for leaves of a few recent conversations (on the planted-topic benchmark's null days:
0.4% of leaves at p <= 0.001, where permutations of the recent labels give 0.03%); what is calibrated is the
flag as a whole, gate and all (bench/results/trends.md, whose false-flag rate counts it). Exact permutation
p-values keep about the same null rate there and flag one or two fewer judged days of the 3% themes.

`topic_trends` asks this only of leaves whose count already grew (a laxer gate than its own test) and that are
otherwise steady, so a topic is flagged `emerging` when it grew and its recent part is concentrated. It never
changes a fading or a steady-but-not-growing verdict. Deterministic: a leaf over `max_members` in the window is
judged on a seeded sample of them.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from datetime import date as Date
from datetime import timedelta

import numpy as np
from scipy.stats import norm

from kura_dagster.core.topics import UNASSIGNED
from kura_dagster.core.vectors import nearest_rows


def concentration_z(vectors: np.ndarray, recent: np.ndarray, neighbours: int = 10) -> float | None:
    """z of how often the `recent` rows' nearest rows (cosine, among `vectors`) are recent too, against random
    labelling; None when it cannot be computed (fewer than two rows of either kind)."""
    recent = np.asarray(recent, dtype=bool)
    m, r = len(recent), int(recent.sum())
    if r < 2 or m - r < 2:
        return None
    # row i's nearest rows: a directed graph
    nearest = nearest_rows(np.asarray(vectors, dtype=np.float32), min(neighbours, m - 1))
    labels = recent.astype(np.int64)
    statistic = float((labels * labels[nearest].sum(axis=1)).sum())
    mean, variance = _moments(nearest, m, r)
    return (statistic - mean) / np.sqrt(variance) if variance > 0 else None


def _moments(nearest: np.ndarray, m: int, r: int) -> tuple[float, float]:
    """Mean and variance of T = Σ over edges (i → j) of x_i x_j when x labels r of the m rows at random.

    E[x_i x_j ...] over q distinct rows is the falling factorial ratio r(r-1)..(r-q+1) / m(m-1)..(m-q+1); a
    pair of edges touches 2, 3 or 4 distinct rows: 2 when it is one edge twice or an edge and its reverse,
    3 when they share one row (counted from each row's in- plus out-degree), 4 otherwise."""
    edges = nearest.size

    def falling(q: int) -> float:
        return float(np.prod([(r - i) / (m - i) for i in range(q)]))

    sources = np.repeat(np.arange(m), nearest.shape[1])
    targets = nearest.ravel()
    as_set = set(zip(sources.tolist(), targets.tolist()))
    mutual = sum((j, i) in as_set for i, j in as_set)
    degree = np.bincount(sources, minlength=m) + np.bincount(targets, minlength=m)
    two = edges + mutual
    three = float((degree.astype(np.float64) ** 2).sum()) - 2 * two
    four = float(edges) ** 2 - two - three
    mean = edges * falling(2)
    variance = two * falling(2) + three * falling(3) + four * falling(4) - mean**2
    return mean, variance


class RecentConcentration:
    """Per leaf of the trends window, the one-sided p-value of `concentration_z` for its conversations of the
    last `recent_days` days ending on `day` against the rest of the window; None for a leaf with fewer than two
    conversations on either side. Computed when asked (only growing leaves are), once per leaf."""

    def __init__(
        self,
        daily: Mapping[Date, tuple[Sequence[str], np.ndarray]],
        leaves: Mapping[Date, Sequence[str]],
        day: Date,
        recent_days: int,
        *,
        neighbours: int = 10,
        max_members: int = 2000,
    ) -> None:
        """`daily`: {date: (chat_ids, embeddings)} of the window; `leaves`: {date: each row's leaf or
        'unassigned'} in the same order (`leaves_under`)."""
        days = [when for when in sorted(leaves) if when <= day and len(leaves[when])]
        self._daily, self._days = daily, days
        # every row of the window as (day index, row in its day), grouped by leaf once: a million rows are
        # sorted in numpy, not looped over in Python, and each asked leaf is a slice
        codes, self._leaf_ids = _factorize([leaves[when] for when in days])
        day_of_row = np.repeat(np.arange(len(days)), [len(leaves[when]) for when in days])
        row_in_day = np.concatenate([np.arange(len(leaves[when])) for when in days]) if days else day_of_row
        order = np.argsort(codes, kind="stable")
        self._day_of_row, self._row_in_day = day_of_row[order], row_in_day[order]
        self._bounds = np.searchsorted(codes[order], np.arange(len(self._leaf_ids) + 1))
        # the recent days as topic_trends counts them: calendar days, a missing one included
        first_recent = day - timedelta(days=recent_days - 1)
        self._recent_day = np.array([when >= first_recent for when in days], dtype=bool)
        self._neighbours, self._max_members = neighbours, max_members
        self._p: dict[str, float | None] = {}

    def __call__(self, leaf_id: str) -> float | None:
        if leaf_id not in self._p:
            self._p[leaf_id] = self._p_value(leaf_id)
        return self._p[leaf_id]

    def _p_value(self, leaf_id: str) -> float | None:
        code = self._leaf_ids.get(leaf_id)
        if code is None or leaf_id == UNASSIGNED:
            return None
        rows = np.arange(self._bounds[code], self._bounds[code + 1])
        if len(rows) > self._max_members:  # seeded by the leaf's id: the same leaf gets the same sample
            rng = np.random.default_rng(zlib.crc32(leaf_id.encode()))
            rows = np.sort(rng.choice(rows, self._max_members, replace=False))
        if len(rows) < 4:
            return None
        days, in_day = self._day_of_row[rows], self._row_in_day[rows]
        vectors = np.stack([self._daily[self._days[d]][1][r] for d, r in zip(days, in_day)])
        z = concentration_z(vectors, self._recent_day[days], self._neighbours)
        return None if z is None else float(norm.sf(z))


def _factorize(columns: Sequence[Sequence[str]]) -> tuple[np.ndarray, dict[str, int]]:
    """Integer codes of the concatenated `columns` and {value: code}."""
    if not columns:
        return np.zeros(0, dtype=np.int64), {}
    values, codes = np.unique(
        np.concatenate([np.asarray(c, dtype=object) for c in columns]), return_inverse=True
    )
    return codes.astype(np.int64), {value: code for code, value in enumerate(values.tolist())}
