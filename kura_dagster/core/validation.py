"""Checks of a partition's results, as plain functions returning what is wrong (empty when all is well).

The Dagster asset checks call these; so can a notebook or a test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from kura_dagster.core.tree import leaves, tree_problems
from kura_dagster.core.types import Cluster


def missing_and_extra(expected: Sequence[str], found: Sequence[str]) -> tuple[list[str], list[str]]:
    """Ids in `expected` without a row in `found`, and rows in `found` that are not expected."""
    expected_set, found_set = set(expected), set(found)
    return sorted(expected_set - found_set), sorted(found_set - expected_set)


def duplicated(ids: Sequence[str]) -> list[str]:
    return sorted(value for value, count in Counter(ids).items() if count > 1)


def coverage_problems(embedded_chat_ids: Sequence[str], clusters: Sequence[Cluster]) -> list[str]:
    """Every embedded conversation in exactly one base cluster, and no stranger."""
    members = [chat for cluster in clusters for chat in cluster.chat_ids]
    missing, extra = missing_and_extra(embedded_chat_ids, members)
    problems = []
    if missing:
        problems.append(f"{len(missing)} conversations in no cluster (first: {missing[0]})")
    if extra:
        problems.append(f"{len(extra)} clustered ids without an embedding (first: {extra[0]})")
    twice = duplicated(members)
    if twice:
        problems.append(f"{len(twice)} conversations in more than one cluster (first: {twice[0]})")
    return problems


def hierarchy_problems(nodes: Sequence[Cluster], base: Sequence[Cluster]) -> list[str]:
    """A valid forest (see `tree_problems`) whose leaves are exactly the base clusters."""
    problems = tree_problems(nodes)
    leaf_ids, base_ids = {n.id for n in leaves(nodes)}, {c.id for c in base}
    if leaf_ids != base_ids:
        problems.append(
            f"leaves differ from the base clusters: {len(leaf_ids - base_ids)} extra, "
            f"{len(base_ids - leaf_ids)} missing"
        )
    return problems


def non_finite_points(xs: Sequence[float], ys: Sequence[float]) -> int:
    coordinates = np.array([xs, ys], dtype=np.float64)
    return int((~np.isfinite(coordinates)).any(axis=0).sum()) if coordinates.size else 0
