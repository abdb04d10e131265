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


def test_topics_names_what_a_topic_was_called_in_the_previous_version(tmp_path):
    """`kura-dagster topics` on stored versions: a renamed topic with its former name, a topic gone by its
    name; one that was hidden by the privacy thresholds stays an id."""
    import numpy as np

    from kura_dagster.core.storage.store import connect, write_partition
    from kura_dagster.core.storage.tables import lineage_to_arrow, taxonomy_to_arrow
    from kura_dagster.core.topics import LineageEvent, Taxonomy, Topic
    from kura_dagster.core.views.topic_view import load_topics_view, render_topics

    def topic(topic_id, name, hidden=False):
        return Topic(topic_id, None, 0, name, "", topic_id, 10, hidden, np.ones(4, np.float32) / 2, 0.3, ())

    first = Taxonomy(
        date(2026, 11, 6),
        date(2026, 10, 10),
        (topic("t00001", "Refunds"), topic("t00002", "Logins"), topic("t00003", "Small group", hidden=True)),
    )
    second = Taxonomy(
        DAY,
        date(2026, 10, 11),
        (topic("t00001", "Refunds and returns"),),
        (
            LineageEvent("t00001", "renamed"),
            LineageEvent("t00002", "merged", "t00001"),
            LineageEvent("t00003", "died"),
        ),
    )
    database = tmp_path / "kura.duckdb"
    with connect(database) as connection:
        for version in (first, second):
            write_partition(connection, "taxonomy", "shop", version.version, taxonomy_to_arrow(version))
            write_partition(connection, "topic_lineage", "shop", version.version, lineage_to_arrow(version))
    out = render_topics(load_topics_view(database, "shop"))
    assert "t00001 Refunds and returns  ·  10 conv  ·  renamed, was Refunds" in out
    assert "No longer in this version: t00002 Logins (merged into t00001), t00003 (died)" in out
    assert "Small group" not in out
