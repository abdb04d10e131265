"""Clustering quality on labelled intent data (../shared/eval): NMI, ARI and purity of base clusters.

Each labelled text becomes a one-message conversation and goes through the real stages with the local
defaults: extractive summaries → WordLlama embeddings → seeded k-means with k set to the number of labels.

    python bench/quality.py                      # both datasets, seeds 0..2, results printed and saved
    python bench/quality.py --seeds 0 --json out.json

The data is read from ../shared/eval when it exists and is never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from kura_dagster.core.cluster import KMeansClusteringMethod, generate_base_clusters_from_conversation_summaries
from kura_dagster.core.embed import WordLlamaEmbeddingModel, embed_summaries
from kura_dagster.core.summarise import ExtractiveSummaryModel, summarise_conversations
from kura_dagster.core.types import Conversation, Message

EVAL_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
DATASETS = {
    # name: (file, label to drop)
    "banking77": ("banking77_test.jsonl", None),
    "clinc150": ("clinc150_test.jsonl", "oos"),
}
FLOORS = {"banking77": 0.74, "clinc150": 0.82}


def load_labelled(path: Path, drop: str | None) -> tuple[list[Conversation], list[str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [row for row in rows if row["label"] != drop]
    stamp = datetime(2026, 1, 1, tzinfo=timezone.utc)
    conversations = [
        Conversation(chat_id=row["id"], created_at=stamp, messages=[Message(role="user", content=row["text"])])
        for row in rows
    ]
    return conversations, [row["label"] for row in rows]


def purity(labels: list[str], predicted: np.ndarray) -> float:
    total = 0
    for cluster in set(predicted.tolist()):
        members = [labels[i] for i in np.flatnonzero(predicted == cluster)]
        total += Counter(members).most_common(1)[0][1]
    return total / len(labels)


def evaluate(name: str, seeds: list[int], lexical_weight: float, manifold: bool) -> dict:
    file_name, drop = DATASETS[name]
    conversations, labels = load_labelled(EVAL_DIR / file_name, drop)
    started = time.perf_counter()
    summaries = summarise_conversations(conversations, model=ExtractiveSummaryModel())
    vectors = embed_summaries(summaries, model=WordLlamaEmbeddingModel())
    prepare_s = time.perf_counter() - started
    label_of = {c.chat_id: label for c, label in zip(conversations, labels)}
    k = len(set(labels))
    runs = []
    for seed in seeds:
        started = time.perf_counter()
        clusters = generate_base_clusters_from_conversation_summaries(
            summaries, vectors, clustering_method=KMeansClusteringMethod(n_clusters=k, random_state=seed),
            lexical_weight=lexical_weight, manifold=manifold, random_state=seed,
        )
        cluster_s = time.perf_counter() - started
        assigned = {chat: index for index, cluster in enumerate(clusters) for chat in cluster.chat_ids}
        truth = [label_of[c.chat_id] for c in conversations]
        predicted = np.array([assigned[c.chat_id] for c in conversations])
        runs.append({
            "seed": seed,
            "nmi": normalized_mutual_info_score(truth, predicted),
            "ari": adjusted_rand_score(truth, predicted),
            "purity": purity(truth, predicted),
            "cluster_seconds": cluster_s,
        })
    return {
        "dataset": name, "items": len(conversations), "labels": k, "lexical_weight": lexical_weight, "manifold": manifold,
        "summarise_embed_seconds": prepare_s,
        "nmi_median": statistics.median(r["nmi"] for r in runs),
        "nmi_min": min(r["nmi"] for r in runs),
        "ari_median": statistics.median(r["ari"] for r in runs),
        "purity_median": statistics.median(r["purity"] for r in runs),
        "floor": FLOORS[name],
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--lexical-weight", type=float, default=0.4, help="weight of each LSA view (0 = off)")
    parser.add_argument("--no-manifold", action="store_true", help="k-means on the joined views, without UMAP")
    parser.add_argument("--json", type=Path, default=Path("bench/results/quality.json"))
    args = parser.parse_args(argv)
    if not EVAL_DIR.is_dir():
        print(f"no evaluation data at {EVAL_DIR}; nothing to measure", file=sys.stderr)
        return 0
    results = [evaluate(name, args.seeds, args.lexical_weight, not args.no_manifold) for name in DATASETS]
    print("| dataset | items | labels | NMI median | NMI min | ARI | purity | floor |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['dataset']} | {r['items']} | {r['labels']} | {r['nmi_median']:.4f} | {r['nmi_min']:.4f} | "
              f"{r['ari_median']:.4f} | {r['purity_median']:.4f} | {r['floor']} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    below = [r["dataset"] for r in results if r["nmi_min"] < r["floor"]]
    if below:
        print(f"below the quality floor: {', '.join(below)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
