"""The local hierarchy: size-weighted Ward over base-cluster centroids, cut into nested levels."""

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage

from kura_dagster.core.stages.meta_clusters import (
    AgglomerativeMetaClusterModel,
    level_sizes,
    reduce_clusters_from_base_clusters,
    weighted_ward_linkage,
)
from kura_dagster.core.tree import children_of, depth_first, leaves, tree_problems
from kura_dagster.core.types import Cluster, ConversationSummary


def test_unit_weights_give_scipys_ward_exactly():
    points = np.random.default_rng(0).normal(size=(120, 6))
    assert np.allclose(weighted_ward_linkage(points, np.ones(120)), linkage(points, method="ward"))


def test_weights_act_as_repeated_points():
    """A centroid of weight w merges as w identical conversations would under Ward."""
    rng = np.random.default_rng(1)
    points = rng.normal(size=(80, 4))
    weights = rng.integers(1, 6, size=80)
    repeated = linkage(np.repeat(points, weights, axis=0), method="ward")
    # The repeated copies first merge among themselves at height 0; the last 79 merges are the centroids'.
    assert np.allclose(weighted_ward_linkage(points, weights)[:, 2], repeated[-79:, 2])


def test_a_tiny_topic_joins_a_big_one_before_two_big_ones_merge():
    """Ward over conversations: merging two topics of 100 costs far more than adding 1 conversation to one.
    Unweighted Ward on the centroids alone pairs the two big topics because they are closest."""
    points = np.array([[0.0], [1.0], [3.0]])
    weights = np.array([100.0, 100.0, 1.0])
    unweighted = fcluster(linkage(points, "ward"), t=2, criterion="maxclust")
    weighted = fcluster(weighted_ward_linkage(points, weights), t=2, criterion="maxclust")
    assert unweighted[0] == unweighted[1] != unweighted[2]
    assert weighted[1] == weighted[2] != weighted[0]


def _base(node_id: str, size: int, centre: float) -> tuple[Cluster, list[ConversationSummary]]:
    chat_ids = [f"{node_id}-{i:03d}" for i in range(size)]
    summaries = [
        ConversationSummary(chat_id=chat, summary=f"{node_id} words", request=f"{node_id} request")
        for chat in chat_ids
    ]
    cluster = Cluster(
        id=node_id, name=node_id, description="", slug=node_id, chat_ids=chat_ids, centroid=[centre, 0.0]
    )
    return cluster, summaries


def test_the_tree_groups_by_size_weighted_ward():
    """Big topics A (0) and B (1), two tiny ones C, D (3, 3.2): weighted, B joins C+D and A stays alone
    (unweighted Ward would pair A with B). A alone is a single-child group, so it becomes a root."""
    parts = [_base("a", 100, 0.0), _base("b", 100, 1.0), _base("c", 1, 3.0), _base("d", 1, 3.2)]
    clusters = [cluster for cluster, _ in parts]
    summaries = [summary for _, group in parts for summary in group]
    vectors = np.random.default_rng(0).normal(size=(len(summaries), 4)).astype(np.float32)
    tree = reduce_clusters_from_base_clusters(
        clusters, summaries, vectors, model=AgglomerativeMetaClusterModel(max_roots=2, branching=2.0)
    )
    assert tree_problems(tree) == []
    parent = {node.id: node.parent_id for node in tree}
    assert parent["a"] is None
    assert parent["b"] == parent["c"] == parent["d"] is not None
    assert sorted(leaf.id for leaf in leaves(tree)) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("max_roots,branching", [(10, 4.0), (3, 3.0), (2, 2.0)])
def test_levels_nest_and_roots_cover_everything(max_roots, branching):
    rng = np.random.default_rng(int(branching * 10))
    parts = [_base(f"t{i:02d}", int(rng.integers(1, 30)), float(rng.normal() * 5)) for i in range(40)]
    clusters = [cluster.model_copy(update={"centroid": rng.normal(size=3).tolist()}) for cluster, _ in parts]
    summaries = [summary for _, group in parts for summary in group]
    vectors = rng.normal(size=(len(summaries), 4)).astype(np.float32)
    tree = reduce_clusters_from_base_clusters(
        clusters,
        summaries,
        vectors,
        model=AgglomerativeMetaClusterModel(max_roots=max_roots, branching=branching),
    )
    assert tree_problems(tree) == []  # unique ids, parents exist, no single-child chain, members = union
    assert sorted(leaf.id for leaf in leaves(tree)) == sorted(c.id for c in clusters)
    roots = [node for node in tree if node.parent_id is None]
    assert 2 <= len(roots) <= max(max_roots, 2)
    assert sum(root.count for root in roots) == len(summaries)
    children = children_of(tree)
    assert all(len(children[node.id]) >= 2 for node in tree if node.id in children)
    expected_levels = len(level_sizes(len(clusters), max_roots=max_roots, branching=branching))
    assert max(level for _, level in depth_first(tree)) == expected_levels


def test_duplicate_centroids_and_ties_give_a_valid_linkage():
    """Identical centroids merge at height 0 in any order; the matrix must still list children first."""
    from scipy.cluster.hierarchy import is_valid_linkage

    points = np.array([[0.0, 0.0]] * 5 + [[1.0, 0.0]] * 4 + [[0.5, 0.8660254]] * 3)
    matrix = weighted_ward_linkage(points, np.arange(1, 13, dtype=float))
    assert is_valid_linkage(matrix)
    assert (np.diff(matrix[:, 2]) >= 0).all()
    assert len(set(fcluster(matrix, t=3, criterion="maxclust").tolist())) == 3


def test_a_root_holding_most_of_the_day_is_replaced_by_its_children():
    """Eight leaves, the way a day of 120 conversations comes out: Ward's cut into two roots would put seven
    of them under one root (85% of the day); that root says nothing, so its children become roots."""
    parts = [_base(f"t{i}", 15, float(i)) for i in range(7)] + [_base("far", 18, 40.0)]
    clusters = [cluster for cluster, _ in parts]
    summaries = [summary for _, group in parts for summary in group]
    vectors = np.random.default_rng(1).normal(size=(len(summaries), 4)).astype(np.float32)
    tree = reduce_clusters_from_base_clusters(
        clusters, summaries, vectors, model=AgglomerativeMetaClusterModel()
    )
    assert tree_problems(tree) == []
    roots = [node for node in tree if node.parent_id is None]
    total = sum(root.count for root in roots)
    assert total == len(summaries) and max(root.count for root in roots) <= 0.4 * total
    assert len(roots) <= 10
    # A setting that allows one root keeps the grouping: the top level never exceeds max_roots.
    capped = reduce_clusters_from_base_clusters(
        clusters, summaries, vectors, model=AgglomerativeMetaClusterModel(max_roots=2)
    )
    assert len([node for node in capped if node.parent_id is None]) <= 2
