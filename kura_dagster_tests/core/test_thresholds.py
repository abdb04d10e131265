"""Aggregation thresholds: clusters too small (conversations or users) are never named, nor parents from them."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from kura_dagster.core.privacy.thresholds import (
    BELOW_THRESHOLD_NAME,
    PrivacyGuard,
    Thresholds,
    apply_thresholds,
    distinct_users,
    hide,
    is_hidden,
    threshold_problems,
)
from kura_dagster.core.stages.meta_clusters import (
    AgglomerativeMetaClusterModel,
    reduce_clusters_from_base_clusters,
)
from kura_dagster.core.stages.naming import cluster_id
from kura_dagster.core.stages.summaries import ExtractiveSummaryModel
from kura_dagster.core.tree import leaves, tree_problems
from kura_dagster.core.types import Cluster, Conversation, Message, user_ids_of
from kura_dagster.core.views.tree_view import render_tree, tree_markdown
from kura_dagster_tests.conftest import THEMES

SECRET_TOPIC = [
    "Can you get me a zanzibar visa for the quokka festival in Mwanza?",
    "How do I renew the zanzibar visa before the quokka festival?",
    "zanzibar visa refused twice, quokka festival is next week",
    "Is a zanzibar visa needed for the quokka festival trip?",
]
THEME_AXIS = {
    "pandas": 0,
    "refund": 1,
    "password": 2,
    "docker": 3,
    "secret": 1,
}  # the secret sits near refunds


def corpus(per_theme: int = 12, users_per_theme: int = 12, secret: int = 8):
    """Four named themes and one small 'secret' theme (`secret` conversations), with vectors by theme."""
    rng = np.random.default_rng(0)
    conversations, vectors = [], []
    themes = {**THEMES, "secret": SECRET_TOPIC}
    for theme, phrasings in themes.items():
        count = secret if theme == "secret" else per_theme
        for i in range(count):
            conversations.append(
                Conversation(
                    chat_id=f"{theme}-{i:03d}",
                    created_at=datetime(2026, 11, 1, tzinfo=timezone.utc),
                    messages=[Message(role="user", content=phrasings[i % len(phrasings)])],
                    metadata={"user_id": f"{theme}-u{i % users_per_theme}"},
                )
            )
            vector = np.zeros(8)
            vector[THEME_AXIS[theme]] = 1.0
            vector[4 + (theme == "secret")] = 0.3 if theme in ("secret", "refund") else 0.0
            vectors.append(vector + rng.normal(0, 0.02, 8))
    summaries = ExtractiveSummaryModel().summarise(conversations)
    clusters = []
    request_of = {s.chat_id: s.request for s in summaries}
    for theme in themes:
        chat_ids = sorted(c.chat_id for c in conversations if c.chat_id.startswith(f"{theme}-"))
        clusters.append(
            Cluster(
                id=cluster_id(chat_ids),
                name=f"{theme} requests",
                slug=theme,
                description=f"About {theme}: {request_of[chat_ids[0]]}",
                chat_ids=chat_ids,
            )
        )
    return summaries, np.asarray(vectors, dtype=np.float32), clusters


def test_a_cluster_below_either_threshold_is_hidden():
    summaries, _, clusters = corpus()
    users = user_ids_of(summaries)
    shown = apply_thresholds(clusters, users, Thresholds(min_conversations=10, min_users=5))
    assert [c.name for c in shown] == [
        "pandas requests",
        "refund requests",
        "password requests",
        "docker requests",
        BELOW_THRESHOLD_NAME,
    ]
    hidden = shown[-1]
    assert hidden.chat_ids == clusters[-1].chat_ids and hidden.id == clusters[-1].id  # kept, only unnamed
    assert "zanzibar" not in hidden.description + hidden.slug and hidden.slug.startswith("below_threshold_")
    # 12 conversations from only 3 people: enough conversations, too few users.
    few_users = apply_thresholds(clusters, user_ids_of(corpus(users_per_theme=3)[0]), Thresholds(10, 5))
    assert all(is_hidden(c) for c in few_users)
    assert apply_thresholds(shown, users, Thresholds(10, 5)) == shown  # idempotent


def test_users_are_counted_only_when_the_partition_has_user_ids():
    assert distinct_users(["a", "b"], {"a": None, "b": None}) is None  # no ids at all: size alone decides
    # Some ids present: the conversations without one count together as a single unknown user.
    assert distinct_users(["a", "b", "c"], {"a": "u1", "b": None, "c": None}) == 2
    cluster = Cluster(id="c_1", name="n", description="d", slug="s", chat_ids=[f"x{i}" for i in range(12)])
    assert Thresholds(10, 5).shortfall(cluster, {f"x{i}": None for i in range(12)}) is None
    assert "1 users < 5" in Thresholds(10, 5).shortfall(cluster, {"x0": None, "other": "u9"})


@pytest.mark.parametrize("hidden_leaves_in_structure", [True, False])
def test_no_parent_is_named_from_a_hidden_leaf(hidden_leaves_in_structure):
    summaries, vectors, clusters = corpus()
    guard = PrivacyGuard(Thresholds(10, 5), hidden_leaves_in_structure=hidden_leaves_in_structure)
    base = guard.protect_leaves(clusters, summaries)
    model = guard.protect_hierarchy(AgglomerativeMetaClusterModel(max_roots=2, branching=2.0))
    tree = reduce_clusters_from_base_clusters(base, summaries, vectors, model=model)
    assert tree_problems(tree) == []
    assert {leaf.id for leaf in leaves(tree)} == {c.id for c in clusters}  # the hidden leaf keeps its place
    assert threshold_problems(tree, user_ids_of(summaries), Thresholds(10, 5)) == []
    for node in tree:
        for word in ("zanzibar", "quokka", "mwanza", "festival", "visa"):
            assert word not in f"{node.name} {node.description} {node.slug}".lower(), (word, node)
    secret = next(node for node in tree if node.id == clusters[-1].id)
    parent = next(node for node in tree if node.id == secret.parent_id)
    assert set(secret.chat_ids) <= set(parent.chat_ids) and not is_hidden(parent)
    assert any(chat.startswith("refund-") for chat in parent.chat_ids)  # placed by its neighbourhood
    assert model.hiding["hidden_clusters"] == 1 and model.hiding["hidden_leaf_conversations"] == 8


def test_without_the_guard_the_small_topic_would_leak_into_a_parent():
    """The same tree without thresholds names a parent from the secret conversations: what the guard stops."""
    summaries, vectors, clusters = corpus()
    tree = reduce_clusters_from_base_clusters(
        clusters, summaries, vectors, model=AgglomerativeMetaClusterModel(max_roots=2, branching=2.0)
    )
    parents = [n for n in tree if n.id in {m.parent_id for m in tree}]
    assert any(
        word in f"{p.name} {p.description}".lower()
        for p in parents
        for word in ("zanzibar", "quokka", "visa")
    )


def test_a_parent_whose_leaves_are_all_hidden_is_hidden():
    leaf_a = Cluster(id="c_a", name="tiny a", description="a", slug="a", chat_ids=["1", "2"], parent_id="m_p")
    leaf_b = Cluster(id="c_b", name="tiny b", description="b", slug="b", chat_ids=["3", "4"], parent_id="m_p")
    parent = Cluster(
        id="m_p", name="from a and b", description="ab", slug="ab", chat_ids=["1", "2", "3", "4"]
    )
    thresholds = Thresholds(min_conversations=3, min_users=1)
    problems = threshold_problems([parent, hide(leaf_a), hide(leaf_b)], {}, thresholds)
    assert problems == ["m_p is named ('from a and b') but every leaf below it is hidden"]
    assert len(threshold_problems([parent, leaf_a, leaf_b], {}, thresholds)) == 2  # the leaves themselves


def test_views_fold_hidden_leaves_into_one_line_under_their_parent():
    summaries, vectors, clusters = corpus()
    extra = clusters[-1].model_copy(update={"id": "c_second_secret", "chat_ids": ["x1", "x2"]})
    guard = PrivacyGuard(Thresholds(10, 1))
    nodes = [
        c.model_copy(update={"parent_id": "m_root"})
        for c in guard.protect_leaves(clusters + [extra], summaries)
    ]
    root = Cluster(
        id="m_root",
        name="Everything",
        description="all",
        slug="all",
        chat_ids=sorted(chat for c in nodes for chat in c.chat_ids),
    )
    basic = render_tree([root, *nodes], "basic")
    assert f"{BELOW_THRESHOLD_NAME}: 2 small groups (10 conversations)" in basic
    assert basic.count(BELOW_THRESHOLD_NAME) == 1 and "zanzibar" not in basic
    assert f"**{BELOW_THRESHOLD_NAME}: 2 small groups** (10)" in tree_markdown([root, *nodes])
    for style in ("enhanced", "rich"):
        assert render_tree([root, *nodes], style, colour=False).count(BELOW_THRESHOLD_NAME) == 1


def test_privacy_settings_come_from_the_environment(monkeypatch):
    from kura_dagster.core.settings import Settings, SettingsError

    monkeypatch.setattr("kura_dagster.core.settings.load_dotenv_once", lambda path=None: None)
    for name in (
        "KURA_MIN_CLUSTER_SIZE",
        "KURA_MIN_CLUSTER_USERS",
        "KURA_PRIVACY_AUDIT",
        "KURA_PRIVACY_MIN_SCORE",
        "KURA_LLM",
        "KURA_EMBEDDINGS",
        "USE_AZURE_OPENAI",
    ):
        monkeypatch.delenv(name, raising=False)
    defaults = Settings.from_env()
    assert (
        defaults.min_cluster_size,
        defaults.min_cluster_users,
        defaults.privacy_audit,
        defaults.privacy_min_score,
    ) == (10, 5, False, 3)
    monkeypatch.setenv("KURA_MIN_CLUSTER_USERS", "3")
    monkeypatch.setenv("KURA_PRIVACY_MIN_SCORE", "4")
    monkeypatch.setenv("KURA_PRIVACY_AUDIT", "true")
    with pytest.raises(SettingsError, match="KURA_PRIVACY_AUDIT=true needs a hosted chat model"):
        Settings.from_env()  # the auditor is an LLM: on the local path asking for it is an error
    monkeypatch.setenv("KURA_LLM", "openai")
    hosted = Settings.from_env()
    assert (hosted.min_cluster_users, hosted.privacy_audit, hosted.privacy_min_score) == (3, True, 4)
    monkeypatch.setenv("KURA_PRIVACY_MIN_SCORE", "6")
    with pytest.raises(SettingsError, match="from 1 to 5"):
        Settings.from_env()
    monkeypatch.setenv("KURA_PRIVACY_MIN_SCORE", "3")
    monkeypatch.setenv("KURA_MIN_CLUSTER_USERS", "0")
    with pytest.raises(SettingsError, match="KURA_MIN_CLUSTER_USERS"):
        Settings.from_env()
