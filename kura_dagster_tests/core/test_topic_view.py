"""What `kura-dagster trends` prints from `topic_trends` rows: each topic once."""

from datetime import date

from kura_dagster.core.views.topic_view import TopicsView, render_trends

DAY = date(2026, 11, 7)


def row(topic_id, level, status, name="Topic"):
    return {
        "topic_id": topic_id,
        "level": level,
        "name": name,
        "status": status,
        "baseline_share": 0.02,
        "recent_share": 0.05,
        "conversations": 9,
    }


def test_a_topic_repeated_in_deeper_levels_is_listed_once():
    """Leaf t00003 ends at level 1, so the level-2 rows repeat it; `unassigned` is a row of every level."""
    trends = [
        row("t00001", 0, "steady", "Billing"),
        row("t00003", 1, "emerging", "Pets"),
        row("t00003", 2, "emerging", "Pets"),
        row("t00004", 2, "steady"),
        *(row("unassigned", level, "fading", "Unassigned") for level in (0, 1, 2)),
    ]
    out = render_trends(TopicsView("shop", DAY, DAY, [], [], trends))
    assert out.count("t00003 Pets") == 1 and "t00003 Pets (level 1)" in out
    assert out.count("unassigned Unassigned") == 1 and "unassigned Unassigned (level 0)" in out
    assert "Emerging (1):" in out and "Fading (1):" in out
    assert "Steady: 2; too few conversations to judge: 0" in out
