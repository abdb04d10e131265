"""The quality benchmark's own logic: which tree level it scores, and the BERTopic-style baseline."""

import numpy as np
import pytest

from kura_dagster.core.types import Cluster
from kura_dagster_tests.bench import load_bench


@pytest.fixture(scope="module")
def quality():
    return load_bench("quality")


@pytest.fixture(scope="module")
def baseline():
    return load_bench("baseline")


def node(node_id, chats, parent=None):
    return Cluster(id=node_id, name=node_id, description="", slug=node_id, chat_ids=chats, parent_id=parent)


def small_tree():
    """Two roots; r1 has two meta children over four leaves; r2 is a leaf-parent of two leaves."""
    return [
        node("r1", ["a", "b", "c", "d", "e"]),
        node("r2", ["f", "g"]),
        node("m1", ["a", "b"], "r1"),
        node("m2", ["c", "d", "e"], "r1"),
        node("l1", ["a"], "m1"),
        node("l2", ["b"], "m1"),
        node("l3", ["c", "d"], "m2"),
        node("l4", ["e"], "m2"),
        node("l5", ["f"], "r2"),
        node("l6", ["g"], "r2"),
    ]


def test_each_depth_scores_conversations_by_their_ancestor_or_shallower_leaf(quality):
    cuts = quality.level_cuts(small_tree())
    assert cuts[0] == {"a": "r1", "b": "r1", "c": "r1", "d": "r1", "e": "r1", "f": "r2", "g": "r2"}
    assert cuts[1] == {"a": "m1", "b": "m1", "c": "m2", "d": "m2", "e": "m2", "f": "l5", "g": "l6"}
    assert cuts[2]["c"] == "l3" and cuts[2]["f"] == "l5"
    assert [len(set(cut.values())) for cut in cuts] == [2, 4, 6]


def test_the_level_closest_to_the_label_count_is_chosen(quality):
    assert quality.closest_level(small_tree(), 2)[:2] == (0, 2)
    assert quality.closest_level(small_tree(), 5)[:2] == (
        2,
        6,
    )  # a tie between 4 and 6 goes to the finer level
    assert quality.closest_level(small_tree(), 100)[:2] == (2, 6)


def test_scores_are_perfect_for_a_perfect_clustering(quality):
    result = quality.scores(["x", "x", "y", "y"], np.array([3, 3, 1, 1]))
    assert result == {"nmi": pytest.approx(1.0), "ari": pytest.approx(1.0), "purity": 1.0}
    assert quality.purity(["x", "x", "y", "y"], np.array([0, 0, 0, 0])) == 0.5


def test_c_tf_idf_ranks_each_topics_own_words_first(baseline):
    texts = ["refund my order", "refund the money", "reset my password", "password reset link", "noise here"]
    words = baseline.c_tf_idf_words(texts, np.array([0, 0, 1, 1, -1]), top_words=2)
    assert words[0][0] == "refund"
    assert set(words[1]) == {"reset", "password"}
    assert set(words) == {-1, 0, 1}


def test_bertopic_style_finds_separated_topics_and_is_seeded(baseline):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 32)) * 5
    truth = np.repeat(np.arange(4), 40)
    embeddings = (centres[truth] + rng.normal(size=(160, 32))).astype(np.float32)
    themes = ["refund order", "password reset", "docker build", "pandas merge"]
    texts = [f"{themes[t]} request {i}" for i, t in enumerate(truth)]
    labels, words = baseline.bertopic_style(embeddings, texts, random_state=3)
    assert len(set(labels.tolist()) - {baseline.NOISE}) == 4
    from sklearn.metrics import normalized_mutual_info_score

    assert normalized_mutual_info_score(truth, labels) > 0.9
    again, _ = baseline.bertopic_style(embeddings, texts, random_state=3)
    assert (again == labels).all()
    topic_of_first = labels[0]
    assert {"refund", "order"} <= set(words[topic_of_first][:2])


def test_bertopic_style_rejects_mismatched_inputs(baseline):
    with pytest.raises(ValueError, match="3 texts but 2 embeddings"):
        baseline.bertopic_style(np.zeros((2, 4), dtype=np.float32), ["a", "b", "c"], random_state=0)
