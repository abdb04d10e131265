"""The taxonomy over a window: built with the per-day stages' models, ids that last across rebuilds, sampled
builds, missing days, determinism, and the window's topics for a day whose own clusters are too small."""

from collections import Counter
from datetime import date, timedelta

import numpy as np
import pytest

from kura_dagster.core.privacy.thresholds import BELOW_THRESHOLD_NAME, PrivacyGuard, Thresholds
from kura_dagster.core.stages.base_clusters import KMeansClusteringMethod
from kura_dagster.core.stages.embeddings import WordLlamaEmbeddingModel, embed_summaries
from kura_dagster.core.stages.meta_clusters import AgglomerativeMetaClusterModel
from kura_dagster.core.stages.naming import KeywordClusterNamer
from kura_dagster.core.stages.summaries import ExtractiveSummaryModel
from kura_dagster.core.stages.taxonomy import TaxonomyOptions, build_taxonomy, split_new_islands, window_days
from kura_dagster.core.stages.topic_assignments import assign_to_taxonomy
from kura_dagster.core.storage import tables
from kura_dagster.core.types import Conversation, Message
from kura_dagster_tests.conftest import make_conversations

FIRST = date(2026, 11, 1)
DAYS = 6


@pytest.fixture(scope="module")
def days():
    """day → (summaries, vectors): 6 days of 8 conversations per test theme, chat ids unique per day."""
    found = {}
    for offset in range(DAYS):
        day = FIRST + timedelta(days=offset)
        conversations = [
            c.model_copy(update={"chat_id": f"{day.isoformat()}-{c.chat_id}"})
            for c in make_conversations(per_theme=8, seed=offset, day=day.isoformat())
        ]
        summaries = ExtractiveSummaryModel().summarise(conversations)
        found[day] = (summaries, embed_summaries(summaries, model=WordLlamaEmbeddingModel()))
    return found


def build(days, which, previous=None, *, seed=0, sample_size=50_000, thresholds=Thresholds(3, 1), **kw):
    summaries = [s for day in which for s in days[day][0]]
    vectors = np.vstack([days[day][1] for day in which])
    return build_taxonomy(
        summaries,
        vectors,
        version=max(which),
        previous=previous,
        # One leaf per test theme: the themes' few phrasings repeat, so finer leaves would split duplicates.
        clustering_method=KMeansClusteringMethod(n_clusters=4, random_state=seed),
        namer=KeywordClusterNamer(),
        meta_model=AgglomerativeMetaClusterModel(max_roots=2, branching=2, max_root_share=1.0),
        privacy=PrivacyGuard(thresholds),
        options=TaxonomyOptions(window_days=4, sample_size=sample_size, random_state=seed, **kw),
    )


def span(first_offset, count):
    return [FIRST + timedelta(days=first_offset + i) for i in range(count)]


def root_of_chat(taxonomy):
    found = {}
    for leaf in taxonomy.leaves():
        above = taxonomy.ancestors(leaf.topic_id)
        found.update(dict.fromkeys(leaf.chat_ids, above[-1] if above else leaf.topic_id))
    return found


def assert_tree_partitions(taxonomy, chat_ids):
    """Every conversation of the window is in exactly one leaf, and each parent holds its children's."""
    leaf_members = [chat for leaf in taxonomy.leaves() for chat in leaf.chat_ids]
    assert sorted(leaf_members) == sorted(chat_ids)
    children = taxonomy.children()
    for topic in taxonomy.topics:
        kids = children.get(topic.topic_id, [])
        if kids:
            assert sorted(topic.chat_ids) == sorted(c for kid in kids for c in kid.chat_ids)
        assert topic.count == len(topic.chat_ids)
        assert abs(float(np.linalg.norm(topic.centroid)) - 1.0) < 1e-4


def test_first_version_names_a_tree_and_every_topic_is_born(days):
    taxonomy = build(days, span(0, 4))
    chats = [s.chat_id for day in span(0, 4) for s in days[day][0]]
    assert_tree_partitions(taxonomy, chats)
    assert taxonomy.version == FIRST + timedelta(days=3) and taxonomy.window_start == FIRST
    assert {e.event for e in taxonomy.lineage} == {"born"}
    assert [t.topic_id for t in taxonomy.topics] == [f"t{i:05d}" for i in range(1, len(taxonomy.topics) + 1)]
    assert all(t.name and t.name != BELOW_THRESHOLD_NAME for t in taxonomy.leaves())
    assert len({t.level for t in taxonomy.topics}) >= 2, "a hierarchy above the leaves"


def test_rebuild_one_day_later_keeps_the_ids_of_continuing_topics(days):
    first = build(days, span(0, 4))
    second = build(days, span(1, 4), first, seed=1)
    before, after = first.leaf_of_chat(), second.leaf_of_chat()
    shared = [chat for chat in before if chat in after]
    assert len(shared) == 3 * 32
    assert np.mean([before[c] == after[c] for c in shared]) >= 0.9
    events = Counter(e.event for e in second.lineage)
    assert events["kept"] + events["renamed"] >= 0.8 * len(first.topics)
    roots = [root_of_chat(version) for version in (first, second)]
    assert np.mean([roots[0][c] == roots[1][c] for c in shared]) >= 0.9, "the tree keeps its roots"
    leaf_ids = {t.topic_id for t in first.leaves()}
    parents = [e for e in second.lineage if e.topic_id not in leaf_ids and e.event in ("kept", "renamed")]
    assert parents, "parents keep their ids too"
    old_ids = {t.topic_id for t in first.topics}
    for event in second.lineage:
        if event.event in ("born", "split"):
            assert event.topic_id not in old_ids, "a new topic never takes an id that existed"
    kept = {e.topic_id for e in second.lineage if e.event == "kept"}
    by_id = first.by_id()
    for topic in second.topics:
        if topic.topic_id in kept:
            assert topic.name == by_id[topic.topic_id].name, "a kept topic keeps its name"


def test_same_input_and_settings_give_the_same_ids(days):
    first = build(days, span(0, 4))
    again = [build(days, span(1, 4), first, seed=3) for _ in range(2)]
    assert tables.taxonomy_to_arrow(again[0]).equals(tables.taxonomy_to_arrow(again[1]))
    assert tables.lineage_to_arrow(again[0]).equals(tables.lineage_to_arrow(again[1]))


PETS = (
    "Do you have any pets at home?",
    "What kind of pet do you have, a dog or a cat?",
    "Tell me about your pets, do you own a dog?",
    "Have you got a cat or any other pet?",
)


def test_a_new_theme_inside_a_leaf_becomes_a_topic_of_its_own(days):
    """Lloyd's iterations start from the previous leaves (4 here, and k = 4): twelve conversations of a new
    theme on the window's last day first join the nearest leaf; being an island of conversations new to the
    window they are split from it, a topic born or split in this version. Without the island split
    (island_min_size=None) they stay inside an old leaf."""
    first = build(days, span(0, 4))
    last = FIRST + timedelta(days=4)
    pets = [
        Conversation(
            chat_id=f"{last.isoformat()}-pets-{i:03d}",
            created_at=first.version,
            messages=[Message(role="user", content=PETS[i % len(PETS)])],
            metadata={"user_id": f"p{i:03d}"},
        )
        for i in range(12)
    ]
    summaries = ExtractiveSummaryModel().summarise(pets)
    with_pets = dict(days)
    with_pets[last] = (
        days[last][0] + summaries,
        np.vstack([days[last][1], embed_summaries(summaries, model=WordLlamaEmbeddingModel())]),
    )
    pet_ids = {s.chat_id for s in summaries}

    def pets_leaf(taxonomy):
        leaf_of = taxonomy.leaf_of_chat()
        (leaf,) = {leaf_of[chat] for chat in pet_ids}
        return taxonomy.by_id()[leaf]

    second = build(with_pets, span(1, 4), first)
    leaf = pets_leaf(second)
    assert set(leaf.chat_ids) == pet_ids
    assert {e.event for e in second.lineage if e.topic_id == leaf.topic_id} <= {"born", "split"}
    assert leaf.topic_id not in first.by_id()

    without = build(with_pets, span(1, 4), first, island_min_size=None)
    assert pet_ids < set(pets_leaf(without).chat_ids), "no new topic: they sit inside an old leaf"


def test_only_islands_of_new_conversations_are_split():
    """Two leaves 10 apart; leaf 0 holds a tight group of 12 rows 2.5 away from its other 40. The group is a
    leaf of its own when most of it is new to the window, not when the previous version held it."""
    rng = np.random.default_rng(0)
    old = rng.normal(0, 0.3, size=(40, 2))
    island = rng.normal(0, 0.02, size=(12, 2)) + [2.5, 0]
    other = rng.normal(0, 0.3, size=(40, 2)) + [10, 0]
    space = np.vstack([old, island, other])
    labels = np.array([0] * 52 + [1] * 40)
    fresh = np.zeros(len(space), dtype=bool)
    fresh[40:52] = True
    split = split_new_islands(space, labels, fresh, min_size=10, fresh_share=1 / 3)
    assert set(split[40:52]) == {2} and set(split[:40]) == {0} and set(split[52:]) == {1}
    fresh[40:52] = [True] * 3 + [False] * 9  # a quarter new: it was there before
    assert np.array_equal(split_new_islands(space, labels, fresh, min_size=10, fresh_share=1 / 3), labels)
    fresh[40:52] = True  # too small to be a topic
    assert np.array_equal(split_new_islands(space, labels, fresh, min_size=13, fresh_share=1 / 3), labels)


def test_window_with_missing_days(days):
    first = build(days, span(0, 4))
    gappy = [FIRST + timedelta(days=o) for o in (1, 4, 5)]  # days 2 and 3 have no data
    second = build(days, gappy, first)
    chats = [s.chat_id for day in gappy for s in days[day][0]]
    assert_tree_partitions(second, chats)
    before, after = first.leaf_of_chat(), second.leaf_of_chat()
    shared = [chat for chat in before if chat in after]
    assert np.mean([before[c] == after[c] for c in shared]) >= 0.9


def test_versions_without_a_shared_conversation_match_on_centroids(days):
    first = build(days, span(0, 2))
    later = build(days, span(3, 3), first)  # no conversation in common
    kept = [e for e in later.lineage if e.event in ("kept", "renamed")]
    assert kept, "topics of the same themes continue through their centroids"
    assert {e.topic_id for e in kept} <= {t.topic_id for t in first.topics}


def test_sampled_build_puts_every_conversation_in_a_leaf(days):
    which = span(0, 6)
    taxonomy = build(days, which, sample_size=60)
    chats = [s.chat_id for day in which for s in days[day][0]]
    assert len(chats) == 192
    assert_tree_partitions(taxonomy, chats)
    assert sum(t.count for t in taxonomy.leaves()) == 192


def test_empty_window_has_no_topic_and_the_previous_ones_die(days):
    first = build(days, span(0, 2))
    empty = build_taxonomy(
        [],
        np.zeros((0, 0)),
        version=FIRST + timedelta(days=10),
        previous=first,
        clustering_method=KMeansClusteringMethod(),
        namer=None,
        meta_model=AgglomerativeMetaClusterModel(),
        privacy=PrivacyGuard(Thresholds()),
    )
    assert empty.topics == ()
    assert {(e.topic_id, e.event) for e in empty.lineage} == {(t.topic_id, "died") for t in first.topics}
    assert tables.taxonomy_to_arrow(empty).num_rows == 0


def test_thresholds_count_the_window_so_a_small_day_shows_under_named_topics(days):
    """A day of 8 conversations per theme is below a 20-conversation threshold on its own; the window's
    topics are named, and that day's conversations are assigned to them."""
    thresholds = Thresholds(min_conversations=20, min_users=1)
    taxonomy = build(days, span(0, 6), thresholds=thresholds)
    named = {t.topic_id for t in taxonomy.leaves() if not t.hidden}
    assert named
    assert all(t.count >= 20 for t in taxonomy.topics if not t.hidden)
    day = FIRST + timedelta(days=5)
    summaries, vectors = days[day]
    assigned = assign_to_taxonomy([s.chat_id for s in summaries], vectors, taxonomy).to_pylist()
    assert sum(row["topic_id"] in named for row in assigned) >= 0.8 * len(assigned)


def test_window_days_are_oldest_first():
    assert window_days(date(2026, 11, 3), 3) == [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]
