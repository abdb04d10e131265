"""Stable ids and lineage on constructed versions: splits, merges, births, deaths, renames, parents, and ids
that are never given twice."""

from datetime import date

import numpy as np

from kura_dagster.core.privacy.thresholds import BELOW_THRESHOLD_NAME
from kura_dagster.core.stages.topic_matching import match_topics
from kura_dagster.core.topics import LineageEvent, Taxonomy, Topic

DIMS = 8


def topic(
    topic_id, members, *, direction=0, parent=None, level=None, name=None, hidden=False, description=None
):
    centroid = np.zeros(DIMS, dtype=np.float32)
    centroid[direction] = 1.0
    return Topic(
        topic_id=topic_id,
        parent_id=parent,
        level=level if level is not None else (0 if parent is None else 1),
        name=name or f"name of {topic_id}",
        description=description or f"about {topic_id}",
        slug=topic_id.lower(),
        count=len(members),
        hidden=hidden,
        centroid=centroid,
        radius=0.3,
        chat_ids=tuple(members),
    )


def chats(prefix, n, start=0):
    return [f"{prefix}{i}" for i in range(start, start + n)]


def version(*topics, lineage=()):
    return Taxonomy(date(2026, 11, 1), date(2026, 10, 5), tuple(topics), tuple(lineage))


def events(found):
    return {(e.topic_id, e.event, e.related_id) for e in found}


def test_first_version_numbers_topics_in_table_order():
    topics, lineage = match_topics(
        [topic("c_a", chats("a", 5)), topic("c_b", chats("b", 5), direction=1)], None
    )
    assert [t.topic_id for t in topics] == ["t00001", "t00002"]
    assert events(lineage) == {("t00001", "born", None), ("t00002", "born", None)}


def test_split_keeps_the_id_on_the_larger_part_and_the_other_splits_from_it():
    previous = version(topic("t00001", chats("a", 20)), topic("t00002", chats("b", 10), direction=1))
    new = [
        topic("c_x", chats("a", 12)),
        topic("c_y", chats("a", 8, start=12), direction=2),
        topic("c_b", chats("b", 10), direction=1),
    ]
    topics, lineage = match_topics(new, previous)
    assert [t.topic_id for t in topics] == ["t00001", "t00003", "t00002"]
    assert events(lineage) == {
        ("t00001", "kept", None),
        ("t00003", "split", "t00001"),
        ("t00002", "kept", None),
    }


def test_merge_keeps_one_id_and_the_other_merges_into_it():
    previous = version(
        topic("t00001", chats("a", 12)),
        topic("t00002", chats("b", 8), direction=1),
        topic("t00003", chats("c", 9), direction=2),
    )
    new = [topic("c_ab", chats("a", 12) + chats("b", 8)), topic("c_c", chats("c", 9), direction=2)]
    topics, lineage = match_topics(new, previous)
    assert [t.topic_id for t in topics] == ["t00001", "t00003"]
    assert events(lineage) == {
        ("t00001", "kept", None),
        ("t00002", "merged", "t00001"),
        ("t00003", "kept", None),
    }


def test_birth_and_death():
    """A topic whose members all left the window and that nothing resembles dies; a new one is born."""
    previous = version(topic("t00001", chats("a", 10)), topic("t00002", chats("old", 10), direction=1))
    new = [
        topic("c_a", chats("a", 10, start=2) + chats("a", 2, start=50)),
        topic("c_n", chats("new", 10), direction=3),
    ]
    topics, lineage = match_topics(new, previous)
    assert [t.topic_id for t in topics] == ["t00001", "t00003"]
    assert events(lineage) == {("t00001", "kept", None), ("t00003", "born", None), ("t00002", "died", None)}


def test_members_scattered_over_other_topics_die():
    previous = version(
        topic("t00001", chats("a", 10)),
        topic("t00002", chats("b", 10), direction=1),
        topic("t00003", chats("s", 12), direction=2),
    )
    # t00003's members go four ways, a quarter each: no new topic took enough of them to be its continuation.
    new = [
        topic("c_a", chats("a", 10) + chats("s", 3)),
        topic("c_b", chats("b", 10) + chats("s", 3, start=3), direction=1),
        topic("c_c", chats("c", 10) + chats("s", 3, start=6), direction=4),
        topic("c_d", chats("d", 10) + chats("s", 3, start=9), direction=5),
    ]
    _, lineage = match_topics(new, previous)
    assert ("t00003", "died", None) in events(lineage)


def test_kept_topic_keeps_its_name_unless_its_content_changed():
    previous = version(
        topic("t00001", chats("a", 10), name="Refunds"),
        topic("t00002", chats("b", 10), direction=1, name="Logins"),
    )
    new = [
        topic("c_a", chats("a", 10, start=1), name="Refund requests"),  # a day's shift: same content
        topic("c_b", chats("b", 4) + chats("z", 20), direction=1, name="Logins and passwords"),  # mostly new
    ]
    topics, lineage = match_topics(new, previous)
    assert [(t.topic_id, t.name) for t in topics] == [
        ("t00001", "Refunds"),
        ("t00002", "Logins and passwords"),
    ]
    assert events(lineage) == {("t00001", "kept", None), ("t00002", "renamed", None)}


def test_kept_topic_describes_its_members_of_this_version():
    previous = version(topic("t00001", chats("a", 10), name="Refunds", description="10 conversations."))
    new = [topic("c_a", chats("a", 14), name="Refund requests", description="14 conversations.")]
    topics, lineage = match_topics(new, previous)
    assert (topics[0].name, topics[0].description) == ("Refunds", "14 conversations.")
    assert events(lineage) == {("t00001", "kept", None)}


def test_a_version_shows_each_name_once_and_kept_names_win():
    previous = version(
        topic("t00001", chats("b", 10) + chats("c", 10) + chats("d", 10), name="Pandas", level=0),
        topic("t00002", chats("b", 10), direction=1, name="Pandas columns", parent="t00001"),
        topic("t00003", chats("c", 10), direction=2, name="Plots", parent="t00001"),
        topic("t00004", chats("d", 10), direction=4, name="Merges", parent="t00001"),
    )
    new = [
        # kept: "Pandas"
        topic(
            "c_p", chats("b", 6) + chats("y", 10) + chats("c", 10) + chats("d", 10) + chats("x", 5), name="P"
        ),
        # mostly new members: renamed, to the kept parent's name; it keeps the name it had instead
        topic("c_b", chats("b", 6) + chats("y", 10), direction=1, name="pandas", parent="c_p"),
        topic("c_c", chats("c", 10), direction=2, name="Plots", parent="c_p"),
        topic("c_d", chats("d", 10), direction=4, name="Merges", parent="c_p"),
        topic("c_n", chats("x", 5), direction=3, name="PANDAS", parent="c_p"),  # born, same name again
    ]
    topics, lineage = match_topics(new, previous)
    assert [(t.topic_id, t.name) for t in topics] == [
        ("t00001", "Pandas"),
        ("t00002", "Pandas columns"),
        ("t00003", "Plots"),
        ("t00004", "Merges"),
        ("t00005", "PANDAS (2)"),
    ]
    assert events(lineage) == {
        ("t00001", "kept", None),
        ("t00002", "kept", None),
        ("t00003", "kept", None),
        ("t00004", "kept", None),
        ("t00005", "born", None),
    }


def test_topic_that_falls_below_the_thresholds_shows_the_hidden_name():
    previous = version(topic("t00001", chats("a", 10), name="Refunds"))
    new = [topic("c_a", chats("a", 9), name=BELOW_THRESHOLD_NAME, hidden=True)]
    topics, lineage = match_topics(new, previous)
    assert (topics[0].topic_id, topics[0].name, topics[0].hidden) == ("t00001", BELOW_THRESHOLD_NAME, True)
    assert events(lineage) == {("t00001", "renamed", None)}


def test_parents_match_parents_and_children_point_to_stable_ids():
    previous = version(
        topic("t00001", chats("a", 10) + chats("b", 10)),
        topic("t00002", chats("a", 10), parent="t00001"),
        topic("t00003", chats("b", 10), parent="t00001", direction=1),
    )
    new = [
        topic("m_root", chats("a", 10, start=1) + chats("b", 10, start=1)),
        topic("c_a", chats("a", 10, start=1), parent="m_root"),
        topic("c_b", chats("b", 10, start=1), parent="m_root", direction=1),
    ]
    topics, lineage = match_topics(new, previous)
    assert [(t.topic_id, t.parent_id) for t in topics] == [
        ("t00001", None),
        ("t00002", "t00001"),
        ("t00003", "t00001"),
    ]
    assert {e.event for e in lineage} == {"kept"}


def test_without_shared_members_centroids_decide():
    previous = version(topic("t00001", chats("a", 10)), topic("t00002", chats("b", 10), direction=1))
    new = [topic("c_b", chats("y", 10), direction=1), topic("c_z", chats("z", 10), direction=5)]
    topics, lineage = match_topics(new, previous)
    assert [t.topic_id for t in topics] == ["t00002", "t00003"]
    assert events(lineage) == {("t00002", "kept", None), ("t00003", "born", None), ("t00001", "died", None)}


def test_ids_of_dead_topics_are_never_given_again():
    """t00005 died in an older version: the caller passes every id of the dataset's lineage."""
    previous = version(topic("t00002", chats("a", 10)), lineage=[LineageEvent("t00004", "died")])
    new = [topic("c_a", chats("a", 10)), topic("c_n", chats("n", 10), direction=2)]
    topics, _ = match_topics(new, previous, retired_ids=["t00005"])
    assert [t.topic_id for t in topics] == ["t00002", "t00006"]
    topics, _ = match_topics(new, previous)
    assert [t.topic_id for t in topics] == ["t00002", "t00005"]


def test_a_mid_level_parent_continues_its_predecessor_not_the_root_above_it():
    """The root shares more conversations with a level-1 parent than that parent's predecessor does; the
    parent still continues its predecessor (best match by Jaccard index, not by count)."""

    def tree(prefix, start):
        leaves = [
            topic(f"{prefix}{n}", chats(n, 10, start), parent=f"{prefix}p{n < 'c'}", level=2) for n in "abcd"
        ]
        parents = [
            topic(f"{prefix}pTrue", chats("a", 10, start) + chats("b", 10, start), parent=f"{prefix}r"),
            topic(f"{prefix}pFalse", chats("c", 10, start) + chats("d", 10, start), parent=f"{prefix}r"),
        ]
        root = topic(f"{prefix}r", [c for p in parents for c in p.chat_ids])
        return [root, *parents, *leaves]

    first, _ = match_topics(tree("c_", 0), None)
    previous = version(*first)
    second, lineage = match_topics(tree("n_", 2), previous)
    assert [t.topic_id for t in second] == [t.topic_id for t in first]
    assert {e.event for e in lineage} == {"kept"}
