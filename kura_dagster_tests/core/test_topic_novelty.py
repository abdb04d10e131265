"""Something new inside a topic (topic_novelty): do the recent conversations of a leaf sit together?"""

from datetime import date, timedelta
from itertools import combinations

import numpy as np
import pytest

from kura_dagster.core.stages.topic_novelty import RecentConcentration, concentration_z
from kura_dagster.core.topics import UNASSIGNED
from kura_dagster.core.vectors import nearest_rows

DAY = date(2026, 11, 28)


def blobs(rng, centres, n):
    """n rows around each of `centres` (unit-ish directions in 16 dimensions)."""
    return np.vstack([c + 0.15 * rng.normal(size=(n, c.size)) for c in centres])


def test_z_has_mean_zero_and_variance_one_over_every_labelling():
    # The moments are exact: averaged over all C(8, 3) ways of calling 3 of 8 rows recent, z is 0 ± 1.
    vectors = np.random.default_rng(3).normal(size=(8, 5))
    zs = []
    for chosen in combinations(range(8), 3):
        recent = np.zeros(8, dtype=bool)
        recent[list(chosen)] = True
        zs.append(concentration_z(vectors, recent, neighbours=3))
    assert np.mean(zs) == pytest.approx(0.0, abs=1e-9)
    assert np.var(zs) == pytest.approx(1.0, abs=1e-9)


def test_recent_rows_that_sit_together_score_high_and_random_ones_do_not():
    rng = np.random.default_rng(0)
    old = [rng.normal(size=16) for _ in range(4)]
    new = rng.normal(size=16)
    steady = blobs(rng, old, 60)  # 240 rows of four old themes
    recent_steady = blobs(rng, old, 6)  # 24 recent rows like them
    recent_new = blobs(rng, [new], 10)  # and 10 of a new theme
    vectors = np.vstack([steady, recent_steady, recent_new])
    recent = np.arange(len(vectors)) >= len(steady)
    assert concentration_z(vectors, recent) > 5
    # The same number of recent rows, all drawn like the old ones: nothing to see.
    like_old = np.vstack([steady, blobs(rng, old, 9)[:34]])
    assert abs(concentration_z(like_old, np.arange(len(like_old)) >= len(steady))) < 3
    assert concentration_z(vectors[:5], np.array([True, False, False, False, False])) is None


def test_recent_concentration_per_leaf_of_a_window():
    rng = np.random.default_rng(1)
    old = [rng.normal(size=16) for _ in range(3)]
    new = rng.normal(size=16)
    days = [DAY - timedelta(days=k) for k in range(13, -1, -1)]
    daily, leaves = {}, {}
    for index, day in enumerate(days):
        rows = [blobs(rng, old, 3)]  # leaf "a": three old themes every day
        names = ["a"] * 9
        if index >= len(days) - 3:  # the last three days: a new theme joins leaf "a"
            rows.append(blobs(rng, [new], 6))
            names += ["a"] * 6
        rows.append(blobs(rng, [old[0]], 2))  # leaf "b": one old theme, the same every day
        names += ["b"] * 2
        rows.append(rng.normal(size=(1, 16)))  # and one far from everything
        names.append(UNASSIGNED)
        daily[day] = ([f"{day}-{i}" for i in range(len(names))], np.vstack(rows))
        leaves[day] = names
    concentration = RecentConcentration(daily, leaves, DAY, recent_days=3)
    assert concentration("a") < 1e-4
    assert concentration("b") > 0.001
    assert concentration(UNASSIGNED) is None and concentration("zzz") is None
    # Judged on an earlier day, before the new theme came: nothing new in "a".
    assert RecentConcentration(daily, leaves, days[-4], recent_days=3)("a") > 0.001
    # A leaf over max_members is judged on a seeded sample: still concentrated, the same twice.
    sampled = [RecentConcentration(daily, leaves, DAY, 3, max_members=100)("a") for _ in range(2)]
    assert sampled[0] == sampled[1] < 1e-3


def test_nearest_rows_are_the_most_similar_other_rows_whatever_their_length():
    vectors = np.random.default_rng(7).normal(size=(40, 6))
    scaled = vectors * np.random.default_rng(8).uniform(0.1, 10, size=(40, 1))  # cosine ignores length
    nearest = nearest_rows(scaled, 4)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    for row in range(40):
        expected = [j for j in np.argsort(-similarity[row]) if j != row][:4]
        assert set(nearest[row]) == set(expected) and row not in nearest[row]
