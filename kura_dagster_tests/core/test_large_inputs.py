"""The large-input paths (sampled features, two-stage k-means, capped cluster count, sparse c-TF-IDF, sampled
naming, exact kNN for big maps), exercised on small data by lowering their thresholds.

Speed is measured in bench/scale.py, never asserted here: these tests check that the fast paths give
complete, deterministic, sensible results and, where they replace slower code, the same results.
"""

import importlib.util
import json
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np

from kura_dagster.core.stages.base_clusters import (
    NOISE,
    KMeansClusteringMethod,
    generate_base_clusters_from_conversation_summaries,
    rows_by_label,
    two_stage_kmeans,
)
from kura_dagster.core.stages.features import large_input_features, seeded_sample
from kura_dagster.core.stages.meta_clusters import (
    AgglomerativeMetaClusterModel,
    reduce_clusters_from_base_clusters,
)
from kura_dagster.core.stages.naming import KeywordClusterNamer, evenly_spaced
from kura_dagster.core.stages.projections import UMAPProjection
from kura_dagster.core.storage import tables
from kura_dagster.core.tree import cluster_centroids, tree_problems
from kura_dagster.core.types import Cluster, ConversationSummary

ROOT = Path(__file__).resolve().parents[2]


def blobs(
    n_per_blob: int = 300, centres: int = 6, dim: int = 8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=10.0, size=(centres, dim))
    truth = np.repeat(np.arange(centres), n_per_blob)
    return (means[truth] + rng.normal(size=(len(truth), dim))).astype(np.float32), truth


def test_two_stage_kmeans_labels_every_row_densely_and_deterministically():
    points, truth = blobs()
    labels = two_stage_kmeans(points, 30, random_state=3, coarse_fit_rows=500)
    assert labels.shape == (len(points),)
    assert set(labels.tolist()) == set(range(labels.max() + 1))  # dense 0..k'-1
    assert 20 <= labels.max() + 1 <= 40  # about k: each coarse group gets its share
    assert np.array_equal(labels, two_stage_kmeans(points, 30, random_state=3, coarse_fit_rows=500))
    # Fine clusters never straddle two well-separated blobs.
    for label in np.unique(labels):
        assert len(set(truth[labels == label].tolist())) == 1


def test_kmeans_cap_and_large_path_switch():
    points, _ = blobs(n_per_blob=100)
    method = KMeansClusteringMethod(
        target_cluster_size=5, max_clusters=12, large_input_rows=100, random_state=1
    )
    assert method.cluster_count(len(points)) == 12
    labels = method.fit_predict(points)  # 600 rows > 100: the two-stage path
    assert 8 <= len(set(labels.tolist())) <= 16
    assert KMeansClusteringMethod(target_cluster_size=5).cluster_count(600) == 120  # no cap by default


def test_rows_by_label_matches_a_scan_per_label():
    labels = np.random.default_rng(0).integers(-1, 40, 5000)
    expected = [np.flatnonzero(labels == label) for label in sorted(set(labels.tolist()) - {NOISE})]
    got = rows_by_label(labels)
    assert len(got) == len(expected) and all(np.array_equal(a, b) for a, b in zip(got, expected))
    assert rows_by_label(np.array([], dtype=np.int64)) == []


def test_large_input_features_are_finite_seeded_and_low_dimensional(stage_inputs):
    summaries, vectors = stage_inputs
    texts = [s.request or "" for s in summaries]
    first = large_input_features(vectors, texts, fit_rows=40, n_components=12, chunk_rows=17, random_state=5)
    again = large_input_features(vectors, texts, fit_rows=40, n_components=12, chunk_rows=50, random_state=5)
    assert first.shape == (len(summaries), 12) and first.dtype == np.float32
    assert np.isfinite(first).all()
    np.testing.assert_allclose(first, again, rtol=1e-5, atol=1e-6)  # chunking does not change the result
    assert np.array_equal(seeded_sample(10, 20, 0), np.arange(10))


def test_large_path_base_clusters_cover_everything_and_find_the_themes(stage_inputs):
    summaries, vectors = stage_inputs
    namer = KeywordClusterNamer(large_input_rows=20, text_budget=30, min_texts_per_group=3)

    def run():
        return generate_base_clusters_from_conversation_summaries(
            summaries,
            vectors,
            namer=namer,
            large_input_rows=20,
            clustering_method=KMeansClusteringMethod(n_clusters=4, large_input_rows=20, random_state=0),
        )

    clusters = run()
    assert sorted(chat for c in clusters for chat in c.chat_ids) == sorted(s.chat_id for s in summaries)
    assert [c.model_dump() for c in clusters] == [c.model_dump() for c in run()]  # seeded end to end
    purity = [
        Counter(chat.split("-")[0] for chat in c.chat_ids).most_common(1)[0][1] / c.count for c in clusters
    ]
    assert np.mean(purity) >= 0.8
    for cluster in clusters:
        # Named from a sample, but the description counts every member.
        assert cluster.description.startswith(f"{cluster.count} conversations")
        assert cluster.centroid is not None and len(cluster.centroid) <= 48
    nodes = reduce_clusters_from_base_clusters(
        clusters, summaries, vectors, model=AgglomerativeMetaClusterModel(max_roots=2, branching=2)
    )
    assert tree_problems(nodes) == []


def test_evenly_spaced_keeps_ends_and_order():
    rows = np.arange(100, 200)
    picked = evenly_spaced(rows, 5)
    assert picked.tolist() == [100, 125, 150, 174, 199] or picked.tolist() == [100, 125, 150, 175, 199]
    assert evenly_spaced(rows[:3], 5).tolist() == [100, 101, 102]


def test_centroids_computed_cluster_by_cluster_equal_those_of_the_whole_normalised_matrix():
    vectors = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
    ids = [f"c{i}" for i in range(300)]
    row_of_chat = {chat: i for i, chat in enumerate(ids)}
    clusters = [
        Cluster(id=f"k{j}", name="n", description="d", slug=f"s{j}", chat_ids=ids[j::7]) for j in range(7)
    ]
    whole = np.asarray(vectors, dtype=np.float64)
    whole = whole / np.linalg.norm(whole, axis=1, keepdims=True)
    expected = np.vstack(
        [whole[[row_of_chat[c] for c in cluster.chat_ids]].mean(axis=0) for cluster in clusters]
    )
    assert np.array_equal(cluster_centroids(clusters, row_of_chat, vectors), expected)


def test_map_of_many_points_uses_exact_neighbours_and_is_seeded():
    points, _ = blobs(n_per_blob=40, centres=5, dim=6)
    projection = UMAPProjection(random_state=4, exact_knn_from=100)  # 200 points: the precomputed-graph path
    first = projection.fit_transform(points)
    assert first.shape == (200, 2) and np.isfinite(first).all()
    assert np.array_equal(first, UMAPProjection(random_state=4, exact_knn_from=100).fit_transform(points))


def test_summaries_round_trip_through_arrow(stage_inputs):
    summaries, _ = stage_inputs
    errored = summaries[:2] + [summaries[2].model_copy(update={"error": "ValueError: x", "metadata": {}})]
    table = tables.summaries_to_arrow(errored, model="m")
    assert [s.model_dump() for s in tables.summaries_from_arrow(table)] == [s.model_dump() for s in errored]
    # The clustering stages read only some facets: those equal, every other one at its default.
    defaults = ConversationSummary(chat_id="x").model_dump()
    for partial, whole in zip(tables.summaries_from_arrow(table, tables.CLUSTERING_FIELDS), errored):
        expected = {
            name: getattr(whole, name) if name in tables.CLUSTERING_FIELDS else defaults[name]
            for name in defaults
        }
        assert partial.model_dump() == expected


def test_columnar_readers_equal_the_object_ones(stage_inputs):
    from kura_dagster.core.stages.embeddings import embedding_text, embedding_texts
    from kura_dagster.core.types import user_ids_of

    summaries, _ = stage_inputs
    varied = [
        summaries[0].model_copy(update={"request": None}),
        summaries[1].model_copy(update={"request": ""}),
        summaries[2].model_copy(update={"request": None, "summary": ""}),
        summaries[3].model_copy(update={"metadata": {"user_id": "u1", "note": "x"}}),
        summaries[4].model_copy(update={"metadata": {"user_id": ""}}),
        *summaries[5:],
    ]
    table = tables.summaries_to_arrow(varied, model="m")
    assert embedding_texts(table) == [embedding_text(s) for s in varied]
    assert tables.user_ids_from_arrow(table) == user_ids_of(varied)
    assert tables.user_ids_from_arrow(table)[varied[3].chat_id] == "u1"
    without = tables.summaries_to_arrow([s.model_copy(update={"metadata": {}}) for s in varied], model="m")
    assert (
        tables.user_ids_from_arrow(without)
        == {}
        == user_ids_of([s.model_copy(update={"metadata": {}}) for s in varied])
    )


def load_bench_generator():
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_generator_writes_an_exact_deterministic_valid_partition(tmp_path):
    from kura_dagster.core.ingest.landing_reader import load_landing_partition

    generate = load_bench_generator()
    path = generate.write_partition(tmp_path / "a", 300, date(2026, 11, 1), seed=3)
    again = generate.write_partition(tmp_path / "b", 300, date(2026, 11, 1), seed=3)
    assert path.read_bytes() == again.read_bytes()
    loaded = load_landing_partition(tmp_path / "a", "bench", "2026-11-01")
    assert len(loaded.conversations) == 300 and not loaded.rejected
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len({r["metadata"]["source"] for r in records}) == 2  # coding and support themes in one partition
    assert len({len(r["messages"]) for r in records}) >= 4  # multi-turn, varied lengths


def test_large_path_gives_identical_clusters_in_fresh_processes():
    """Above LARGE_INPUT_ROWS (lowered here) the same conversations give the same clusters, names and centroids,
    bit for bit, in two processes with different hash seeds and 4 OpenMP threads (a bigger machine's k-means)."""
    import os
    import subprocess
    import sys

    script = """
import json
from kura_dagster.core.stages.base_clusters import KMeansClusteringMethod, generate_base_clusters_from_conversation_summaries
from kura_dagster.core.stages.embeddings import WordLlamaEmbeddingModel, embed_summaries
from kura_dagster.core.stages.naming import KeywordClusterNamer
from kura_dagster.core.stages.summaries import ExtractiveSummaryModel
from kura_dagster_tests.conftest import make_conversations
summaries = ExtractiveSummaryModel().summarise(make_conversations(per_theme=200))
vectors = embed_summaries(summaries, model=WordLlamaEmbeddingModel())
clusters = generate_base_clusters_from_conversation_summaries(
    summaries, vectors, large_input_rows=100, namer=KeywordClusterNamer(large_input_rows=100),
    clustering_method=KMeansClusteringMethod(large_input_rows=100))
print(json.dumps([c.model_dump(mode="json") for c in clusters]))
"""
    runs = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, OMP_NUM_THREADS="4")
        child = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert child.returncode == 0, child.stderr
        runs.append(json.loads(child.stdout))
    assert len(runs[0]) >= 10 and sum(len(c["chat_ids"]) for c in runs[0]) == 800
    assert runs[0] == runs[1]
