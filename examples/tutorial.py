"""The procedural API without Dagster, like Kura's tutorial: load → summarise → embed → cluster → tree → map.

python examples/tutorial.py [data/support_bot/2026-11-01.jsonl]
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from kura_dagster.core import (
    AgglomerativeMetaClusterModel,
    ExtractiveSummaryModel,
    KMeansClusteringMethod,
    UMAPProjection,
    WordLlamaEmbeddingModel,
    embed_summaries,
    generate_base_clusters_from_conversation_summaries,
    load_jsonl,
    reduce_clusters_from_base_clusters,
    reduce_dimensionality_from_clusters,
    summarise_conversations,
    visualise_pipeline_results,
)

TIMINGS: list[tuple[str, float]] = []


@contextmanager
def timed(step: str):
    started = time.perf_counter()
    yield
    TIMINGS.append((step, time.perf_counter() - started))
    print(f"{step} took {TIMINGS[-1][1]:.2f} seconds")


def main(path: str) -> None:
    with timed("Loading conversations"):
        loaded = load_jsonl(path)
    print(f"Loaded {len(loaded.conversations)} conversations successfully! ({len(loaded.rejected)} rejected)")

    with timed("Step 1: summaries"):
        summaries = summarise_conversations(loaded.conversations, model=ExtractiveSummaryModel())
    print(f"Generated {len(summaries)} summaries")

    with timed("Step 2: embeddings"):
        embeddings = embed_summaries(summaries, model=WordLlamaEmbeddingModel())

    with timed("Step 3: base clusters"):
        clusters = generate_base_clusters_from_conversation_summaries(
            summaries, embeddings, clustering_method=KMeansClusteringMethod(random_state=42)
        )
    print(f"Generated {len(clusters)} clusters")

    with timed("Step 4: meta clusters"):
        tree = reduce_clusters_from_base_clusters(
            clusters, summaries, embeddings, model=AgglomerativeMetaClusterModel()
        )
    print(
        f"Reduced to {sum(1 for node in tree if node.parent_id is None)} root clusters ({len(tree)} tree nodes)"
    )

    with timed("Step 5: projection"):
        projected = reduce_dimensionality_from_clusters(tree, summaries, embeddings, model=UMAPProjection())
    print(f"Generated {len(projected)} projected clusters")

    visualise_pipeline_results(projected, style="enhanced")
    total = sum(seconds for _, seconds in TIMINGS)
    print("=" * 60 + f"\n{'TIMING SUMMARY':^60}\n" + "=" * 60)
    for step, seconds in TIMINGS:
        print(f"{step:<40} {seconds:>8.2f}s ({seconds / total * 100:>5.1f}%)")
    print(f"{'Total Time':<40} {total:>8.2f}s")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/support_bot/2026-11-01.jsonl")
