"""Base clusters, hierarchy and projection on themed conversations with a known answer."""

from collections import Counter

import numpy as np
import pytest

from kura_dagster.core.stages.base_clusters import (
    HDBSCANClusteringMethod,
    KMeansClusteringMethod,
    generate_base_clusters_from_conversation_summaries,
)
from kura_dagster.core.stages.embeddings import WordLlamaEmbeddingModel, embed_summaries
from kura_dagster.core.stages.meta_clusters import (
    AgglomerativeMetaClusterModel,
    level_sizes,
    reduce_clusters_from_base_clusters,
)
from kura_dagster.core.stages.projections import (
    UMAPProjection,
    fallback_layout,
    reduce_dimensionality_from_clusters,
)
from kura_dagster.core.stages.summaries import ExtractiveSummaryModel
from kura_dagster.core.tree import leaves, tree_problems
from kura_dagster.core.types import UNCLUSTERED_NAME, is_unclustered
from kura_dagster_tests.conftest import make_conversations


def theme(chat_id: str) -> str:
    return chat_id.split("-")[0]


def test_kmeans_puts_every_conversation_in_exactly_one_cluster(stage_inputs):
    summaries, vectors = stage_inputs
    clusters = generate_base_clusters_from_conversation_summaries(
        summaries, vectors, clustering_method=KMeansClusteringMethod(target_cluster_size=10)
    )
    members = [chat for cluster in clusters for chat in cluster.chat_ids]
    assert sorted(members) == sorted(s.chat_id for s in summaries)
    assert len(clusters) == round(len(summaries) / 10)
    # Each cluster is dominated by one theme: the clustering found the structure.
    for cluster in clusters:
        top = Counter(theme(c) for c in cluster.chat_ids).most_common(1)[0][1]
        assert top / cluster.count >= 0.8, cluster
    assert len({c.slug for c in clusters}) == len(clusters)


def test_cluster_count_follows_the_target_size_with_a_floor_for_small_inputs():
    method = KMeansClusteringMethod(target_cluster_size=30)
    assert method.cluster_count(4500) == 150  # n / 30
    assert method.cluster_count(120) == 8  # √(120 / 2) ≈ 7.7: a small day still shows its topics
    assert method.cluster_count(1) == 1
    assert KMeansClusteringMethod(n_clusters=5).cluster_count(4500) == 5


def test_names_come_from_member_words(stage_inputs):
    summaries, vectors = stage_inputs
    clusters = generate_base_clusters_from_conversation_summaries(
        summaries, vectors, clustering_method=KMeansClusteringMethod(n_clusters=4)
    )
    expected_words = {"pandas": "pandas", "refund": "refund", "password": "password", "docker": "docker"}
    for cluster in clusters:
        dominant = Counter(theme(c) for c in cluster.chat_ids).most_common(1)[0][0]
        assert expected_words[dominant] in (cluster.name + cluster.description).lower(), cluster.name
        # A phrase, not a keyword list; a generated description, not a member's request quoted.
        assert ", " not in cluster.name and "Phrases they share" in cluster.description
        assert not [s.request for s in summaries if s.request in cluster.description]


def test_same_input_same_clusters(stage_inputs):
    summaries, vectors = stage_inputs
    method = KMeansClusteringMethod(random_state=7)
    first = generate_base_clusters_from_conversation_summaries(summaries, vectors, clustering_method=method)
    second = generate_base_clusters_from_conversation_summaries(summaries, vectors, clustering_method=method)
    assert [c.model_dump() for c in first] == [c.model_dump() for c in second]


def test_hdbscan_noise_is_an_explicit_unclustered_node(stage_inputs):
    summaries, vectors = stage_inputs
    odd = ExtractiveSummaryModel().summarise(make_conversations(per_theme=1, seed=3))[:1]
    odd[0] = odd[0].model_copy(
        update={"chat_id": "odd-1", "request": "Write a sonnet about autumn leaves and tea"}
    )
    all_summaries = list(summaries) + odd
    all_vectors = np.vstack([vectors, embed_summaries(odd, model=WordLlamaEmbeddingModel())])
    clusters = generate_base_clusters_from_conversation_summaries(
        all_summaries,
        all_vectors,
        clustering_method=HDBSCANClusteringMethod(min_cluster_size=5),
        manifold=False,  # on the raw views the odd one out is clearly noise
    )
    noise = [c for c in clusters if is_unclustered(c)]
    assert len(noise) == 1 and noise[0].name == UNCLUSTERED_NAME
    assert "odd-1" in noise[0].chat_ids
    assert sorted(chat for c in clusters for chat in c.chat_ids) == sorted(s.chat_id for s in all_summaries)
    tree = reduce_clusters_from_base_clusters(
        clusters, all_summaries, all_vectors, model=AgglomerativeMetaClusterModel(max_roots=3, branching=2)
    )
    noise_node = next(n for n in tree if is_unclustered(n))
    assert noise_node.parent_id is None  # noise is never merged into a topic
    assert tree_problems(tree) == []


@pytest.mark.parametrize("max_roots,branching", [(10, 4.0), (2, 2.0), (1, 3.0)])
def test_hierarchy_is_a_valid_forest_over_the_base_clusters(stage_inputs, max_roots, branching):
    summaries, vectors = stage_inputs
    base = generate_base_clusters_from_conversation_summaries(
        summaries, vectors, clustering_method=KMeansClusteringMethod(target_cluster_size=4)
    )
    tree = reduce_clusters_from_base_clusters(
        base,
        summaries,
        vectors,
        model=AgglomerativeMetaClusterModel(max_roots=max_roots, branching=branching),
    )
    assert tree_problems(tree) == []
    assert sorted(c.id for c in leaves(tree)) == sorted(c.id for c in base)
    roots = [n for n in tree if n.parent_id is None]
    assert 1 <= len(roots) <= max(max_roots, 2)
    assert sum(r.count for r in roots) == len(summaries)
    assert len(tree) > len(base)  # there is at least one level above the leaves


def test_level_sizes_shrink_strictly():
    assert level_sizes(400, max_roots=10, branching=4) == [100, 25, 7]
    assert level_sizes(12, max_roots=10, branching=4) == [3]
    assert level_sizes(3, max_roots=10, branching=4) == []
    for n in range(2, 300):
        sizes = [n] + level_sizes(n, max_roots=5, branching=3)
        assert all(a > b for a, b in zip(sizes, sizes[1:]))


def test_projection_places_every_node_with_finite_coordinates(stage_inputs):
    summaries, vectors = stage_inputs
    base = generate_base_clusters_from_conversation_summaries(
        summaries, vectors, clustering_method=KMeansClusteringMethod(target_cluster_size=4)
    )
    tree = reduce_clusters_from_base_clusters(base, summaries, vectors, model=AgglomerativeMetaClusterModel())
    projected = reduce_dimensionality_from_clusters(tree, summaries, vectors, model=UMAPProjection())
    assert [p.id for p in projected] == [n.id for n in tree]
    coordinates = np.array([[p.x_coord, p.y_coord] for p in projected])
    assert np.isfinite(coordinates).all()
    assert len({(round(x, 6), round(y, 6)) for x, y in coordinates}) > len(base) // 2
    assert all(p.level == 0 for p in projected if p.parent_id is None)
    again = reduce_dimensionality_from_clusters(tree, summaries, vectors, model=UMAPProjection())
    assert [(p.x_coord, p.y_coord) for p in again] == [(p.x_coord, p.y_coord) for p in projected]


@pytest.mark.parametrize("n_points", [0, 1, 2, 3, 5])
def test_fallback_layout_for_very_few_nodes(n_points):
    points = np.random.default_rng(0).normal(size=(n_points, 8))
    layout = fallback_layout(points)
    assert layout.shape == (n_points, 2) and np.isfinite(layout).all()


def test_kmeans_starts_from_ward_centres_on_narrow_features_only():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(6, 4)) * 10
    points = np.vstack([centre + rng.normal(size=(40, 4)) for centre in centres]).astype(np.float32)
    method = KMeansClusteringMethod(n_clusters=6, random_state=1)
    start = method.ward_centres(points, 6)
    assert start.shape == (6, 4) and start.dtype == np.float32
    # Well separated blobs: each Ward centre lies next to one true centre, every true centre is found.
    nearest = np.argmin(((start[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    assert sorted(nearest) == list(range(6))
    labels = method.fit_predict(points)
    assert np.array_equal(labels, method.fit_predict(points))  # deterministic
    assert all(len(set(labels[i * 40 : (i + 1) * 40])) == 1 for i in range(6))
    wide = np.hstack([points] * 9)  # 36 columns: above WARD_MAX_DIMS, k-means++ starts instead
    assert method.ward_centres(wide, 6) is None
    assert KMeansClusteringMethod(init="k-means++").ward_centres(points, 6) is None
    assert method.ward_centres(np.zeros((50, 4), dtype=np.float32), 6) is None  # fewer distinct rows than k
    with pytest.raises(ValueError, match="init"):
        KMeansClusteringMethod(init="random")


def test_manifold_is_bit_identical_between_fits_with_a_block_of_identical_conversations():
    """24 identical rows (the same "hi" from 24 users) are a component of UMAP's neighbour graph on which its
    spectral start used to draw unseeded restart vectors: 4 fits gave 4 different manifolds."""
    from kura_dagster.core.stages.features import manifold_view
    from kura_dagster.core.vectors import unit_rows

    rng = np.random.default_rng(0)
    topics = rng.normal(size=(4, 32))
    themed = topics[rng.integers(0, 4, 48)] + 0.3 * rng.normal(size=(48, 32))
    greeting = np.tile(rng.normal(size=(1, 32)), (24, 1))
    features = unit_rows(np.vstack([themed, greeting]).astype(np.float32))
    assert len({manifold_view(features).tobytes() for _ in range(4)}) == 1


def test_kmeans_centres_are_bit_identical_with_more_than_two_openmp_threads():
    """scikit-learn adds its threads' partial centres in the order they finish: with 4 threads, 8 fits gave
    3-4 different sets of centres. `exact_kmeans_threads` keeps k-means to 2 threads, whose order cannot
    matter. Run in a child process: OpenMP reads OMP_NUM_THREADS when it starts."""
    import os
    import subprocess
    import sys

    script = """
import numpy as np
from sklearn.cluster import KMeans
from kura_dagster.core.stages.base_clusters import exact_kmeans_threads
rng = np.random.default_rng(0)
points = (rng.normal(size=(30, 10))[rng.integers(0, 30, 2000)] + rng.normal(size=(2000, 10))).astype(np.float32)
centres = set()
for _ in range(8):
    with exact_kmeans_threads():
        fitted = KMeans(n_clusters=20, init=points[:20], n_init=1, max_iter=10).fit(points)
    centres.add(fitted.cluster_centers_.tobytes())
print(len(centres))
"""
    child = subprocess.run(
        [sys.executable, "-c", script],
        env=dict(os.environ, OMP_NUM_THREADS="4"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["1"]
