"""The previous, per-day topics over time (compute_reference_trends): nearest-centroid assignment across
days, volumes, shares and emerging/fading flags."""

from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pytest

from kura_dagster.core.stages.topic_trends import (
    OTHER_ID,
    daily_embeddings_from_arrow,
    flag_topic,
    topics_at_level,
    window_days,
)
from kura_dagster.core.stages.topic_trends import ReferenceTrendOptions as TrendOptions
from kura_dagster.core.stages.topic_trends import compute_reference_trends as compute_topic_trends
from kura_dagster.core.types import Cluster

END = date(2026, 11, 7)
DIMS = 16


def node(id_, members, parent=None, name=None):
    return Cluster(id=id_, name=name or id_, description="", slug=id_, chat_ids=members, parent_id=parent)


def make_day(rng, directions, counts, prefix):
    """Conversations of one day: `counts[t]` of them near direction t."""
    rows = np.concatenate([np.full(n, t) for t, n in enumerate(counts)]).astype(int)
    vectors = directions[rows] + rng.normal(0, 0.2, size=(len(rows), DIMS))
    return [f"{prefix}-{k}" for k in range(len(rows))], vectors, rows


@pytest.fixture
def week():
    """Three topics: A steady, B growing in the last two days, C fading; day 3 has no data."""
    rng = np.random.default_rng(0)
    directions = np.eye(DIMS)[:4] * 3
    plan = {
        0: (50, 5, 45),
        1: (50, 5, 45),
        2: (50, 6, 44),
        3: None,
        4: (50, 5, 45),
        5: (50, 40, 10),
        6: (50, 45, 5),
    }
    daily, reference_rows = {}, None
    for offset, counts in plan.items():
        if counts is None:
            continue
        day = END - timedelta(days=6 - offset)
        ids, vectors, rows = make_day(rng, directions, counts, f"d{offset}")
        daily[day] = (ids, vectors)
        if day == END:
            reference_rows = (ids, rows)
    ids, rows = reference_rows
    members = [[i for i, r in zip(ids, rows) if r == t] for t in range(3)]
    tree = [
        node("A", members[0][:25] + members[0][25:], name="Topic A"),
        node("B", members[1], name="Topic B"),
        node("C-parent", members[2], name="Topic C"),
        node("C1", members[2][:3], "C-parent"),
        node("C2", members[2][3:], "C-parent"),
    ]
    return tree, daily, directions


def by_topic(table: pa.Table) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for row in table.to_pylist():
        rows.setdefault(row["topic_id"], []).append(row)
    return rows


def test_volumes_shares_and_flags(week):
    tree, daily, _ = week
    table = compute_topic_trends(
        tree, daily, END, TrendOptions(window_days=7, levels=(0,), other_quantile=0.0)
    )
    topics = by_topic(table)
    assert set(topics) == {"A", "B", "C-parent"}  # the cut at level 0; no Other with quantile 0
    assert [row["day"] for row in topics["A"]] == window_days(END, 7)
    assert [row["conversations"] for row in topics["A"]] == [50, 50, 50, 0, 50, 50, 50]
    assert [row["conversations"] for row in topics["B"]] == [5, 5, 6, 0, 5, 40, 45]
    assert [row["conversations"] for row in topics["C-parent"]] == [45, 45, 44, 0, 45, 10, 5]
    # A day without conversations has no share; on the others shares add up to one.
    assert all(rows[3]["share"] is None for rows in topics.values())
    for column in (0, 1, 2, 4, 5, 6):
        assert sum(rows[column]["share"] for rows in topics.values()) == pytest.approx(1.0)
    status = {topic: rows[0]["status"] for topic, rows in topics.items()}
    assert status == {"A": "steady", "B": "emerging", "C-parent": "fading"}
    b = topics["B"][0]
    assert b["recent_share"] == pytest.approx(85 / 200) and b["baseline_share"] == pytest.approx(21 / 400)
    assert b["z"] > 1.96


def test_unfamiliar_conversations_go_to_other(week):
    tree, daily, directions = week
    rng = np.random.default_rng(1)
    day = END - timedelta(days=1)
    ids, vectors = daily[day]
    novel = directions[3] + rng.normal(0, 0.2, size=(30, DIMS))  # a fourth direction, absent from the tree
    daily = {**daily, day: (list(ids) + [f"new-{k}" for k in range(30)], np.vstack([vectors, novel]))}
    table = compute_topic_trends(
        tree, daily, END, TrendOptions(window_days=7, levels=(0,), other_quantile=0.05)
    )
    other = by_topic(table)[OTHER_ID]
    assert {row["status"] for row in other} == {
        "not_flagged"
    }  # better fit of the reference day by construction
    assert other[5]["conversations"] >= 30
    # On the reference day at most the quantile of each topic's conversations falls outside it.
    assert other[6]["conversations"] <= 0.05 * len(daily[END][0]) + 3


def test_a_diffuse_topic_does_not_make_other_follow_the_topic_mix():
    """Other's share stays near the quantile whatever the mix of a tight and a diffuse topic."""
    rng = np.random.default_rng(2)
    directions = np.eye(DIMS)[:2] * 3
    noise = np.array([0.1, 1.0])  # topic 0 tight, topic 1 diffuse

    def day(counts, prefix):
        rows = np.concatenate([np.full(n, t) for t, n in enumerate(counts)]).astype(int)
        vectors = directions[rows] + rng.normal(size=(len(rows), DIMS)) * noise[rows][:, None]
        return [f"{prefix}-{k}" for k in range(len(rows))], vectors, rows

    daily = {}
    for offset in range(1, 7):
        ids, vectors, _ = day((90, 10), f"d{offset}")
        daily[END - timedelta(days=offset)] = (ids, vectors)
    ids, vectors, rows = day((50, 50), "ref")
    daily[END] = (ids, vectors)
    tree = [node(f"T{t}", [i for i, r in zip(ids, rows) if r == t]) for t in range(2)]
    table = compute_topic_trends(
        tree, daily, END, TrendOptions(window_days=7, levels=(0,), other_quantile=0.05)
    )
    other = by_topic(table)[OTHER_ID]
    earlier = sum(row["conversations"] for row in other[:6]) / 600
    assert 0.025 <= earlier <= 0.085


def test_level_one_cut_keeps_leaves_that_end_above_it(week):
    tree, daily, _ = week
    assert [t.id for t in topics_at_level(tree, 1)] == ["A", "B", "C1", "C2"]
    table = compute_topic_trends(
        tree, daily, END, TrendOptions(window_days=7, levels=(1,), other_quantile=0.0)
    )
    assert set(table.column("topic_id").to_pylist()) == {"A", "B", "C1", "C2"}
    assert set(table.column("level").to_pylist()) == {1}
    # The default follows both cuts, each a partition of the same conversations.
    both = compute_topic_trends(tree, daily, END, TrendOptions(window_days=7, other_quantile=0.0)).to_pylist()
    assert {(row["level"], row["topic_id"]) for row in both} == {
        (0, "A"),
        (0, "B"),
        (0, "C-parent"),
        (1, "A"),
        (1, "B"),
        (1, "C1"),
        (1, "C2"),
    }
    for level in (0, 1):
        assert sum(row["conversations"] for row in both if row["level"] == level) == sum(
            len(i) for i, _ in daily.values()
        )


def test_deterministic_and_empty_inputs(week):
    tree, daily, _ = week
    first = compute_topic_trends(tree, daily, END)
    assert compute_topic_trends(tree, daily, END).equals(first)
    assert compute_topic_trends([], daily, END).num_rows == 0
    assert compute_topic_trends(tree, {}, END).num_rows == 0  # no reference embeddings: nothing to follow


def test_a_window_of_one_day_has_no_history(week):
    tree, daily, _ = week
    table = compute_topic_trends(tree, daily, END, TrendOptions(window_days=1))
    assert {row["status"] for row in table.to_pylist() if row["topic_id"] != OTHER_ID} == {"no_history"}
    assert set(table.column("day").to_pylist()) == {END}


def test_changed_embedding_model_inside_the_window_is_an_error(week):
    tree, daily, _ = week
    day = END - timedelta(days=2)
    daily = {**daily, day: (["x"], np.ones((1, DIMS + 1)))}
    with pytest.raises(ValueError, match=f"embeddings of {day}.*17 dimensions.*model changed"):
        compute_topic_trends(tree, daily, END)


def test_flags_need_significance_and_size():
    options = TrendOptions()
    assert flag_topic(30, 100, 30, 300, options).status == "emerging"
    assert flag_topic(3, 10, 3, 30, options).status == "steady"  # same ratio, too few to be significant
    assert flag_topic(10, 100, 40, 200, options).status == "fading"
    assert flag_topic(5, 100, 0, 0, options).status == "no_history"


def test_daily_embeddings_from_a_multi_day_table():
    table = pa.table(
        {
            "date": pa.array([date(2026, 11, 2), date(2026, 11, 1), date(2026, 11, 2)], type=pa.date32()),
            "chat_id": ["b1", "a1", "b2"],
            "embedding": pa.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], type=pa.list_(pa.float32())),
        }
    )
    daily = daily_embeddings_from_arrow(table)
    assert list(daily) == [date(2026, 11, 1), date(2026, 11, 2)]
    assert daily[date(2026, 11, 2)][0] == ["b1", "b2"]
    np.testing.assert_allclose(daily[date(2026, 11, 2)][1], [[1, 0], [1, 1]])
    with pytest.raises(ValueError, match="date"):
        daily_embeddings_from_arrow(table.drop_columns(["date"]))


def test_nearest_in_blocks_equals_one_pass(monkeypatch):
    import numpy as np

    from kura_dagster.core.stages import topic_trends as trends

    rng = np.random.default_rng(5)
    vectors, centroids = rng.normal(size=(50, 8)).astype(np.float32), trends._unit64(rng.normal(size=(4, 8)))
    whole = trends._nearest(vectors, centroids)
    monkeypatch.setattr(trends, "NEAREST_BLOCK", 7)
    blocked = trends._nearest(vectors, centroids)
    # Same nearest topic; the similarities may differ in the last bit (BLAS sums a block in another order).
    assert np.array_equal(whole[0], blocked[0]) and np.allclose(whole[1], blocked[1], rtol=0, atol=1e-12)
