"""Stability of the taxonomy's ids (issue 16, points 2 and 3) on labelled data from ../shared/eval.

Each labelled text becomes a one-message conversation (bench/quality.py: extractive summaries, WordLlama
embeddings), shuffled with the seed into `days` + 1 days of equal size, so no theme changes over time. The
models are those the pipeline builds from the settings (KURA_TARGET_CLUSTER_SIZE, KURA_MIN_CLUSTER_SIZE, ...).
W1 is the window of the first `days` days, W2 the same window one day later. Measured per dataset and seed:

(a) the same window rebuilt with another seed and matched to the first version (A): the share of W1's
    conversations whose leaf id is unchanged — `warm`, as the pipeline rebuilds (starting from A), and
    `cold`, a from-scratch clustering that only the matching ties to A;
(b) W2 rebuilt from A (B, the next day's version): the share of the conversations of both windows whose leaf
    id is unchanged, the share of A's topics kept (kept or renamed), and the ARI of A's and B's leaf
    assignments of those conversations;
(c) every day of W2 assigned to B (`assign_to_taxonomy`, `unassigned` as a label of its own) against a full
    re-cluster of W2 from scratch with another seed: ARI over W2; and the last day of W2 assigned to A (the
    version before it, which never saw that day) against the same re-cluster, restricted to that day.

    python bench/taxonomy_stability.py                   # banking77 and clinc150, seeds 0..2
    python bench/taxonomy_stability.py --seeds 0 --datasets banking77 --days 14
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import DATASETS, EVAL_DIR, load_labelled, summaries_and_embeddings  # noqa: E402
from taxonomy_models import build_local_taxonomy  # noqa: E402

from kura_dagster.core.settings import Settings  # noqa: E402
from kura_dagster.core.stages.taxonomy import (  # noqa: E402
    UNASSIGNED,
    Taxonomy,
    nearest_leaves,
)
from kura_dagster.core.stages.topic_assignments import assign_to_taxonomy  # noqa: E402

PER_DAY = {"banking77": 100, "clinc150": 150}
TARGETS = {"a_warm": 0.9, "b_kept_conversations": 0.9, "c_ari_in_window": 0.8}
FIRST_DAY = date(2026, 1, 1)


def builder(
    settings: Settings, summaries, vectors, days: list[list[int]], hierarchy_on_embeddings: bool = True
):
    def build(which: range, previous: Taxonomy | None, seed: int, warm: bool = True) -> Taxonomy:
        rows = [r for d in which for r in days[d]]
        return build_local_taxonomy(
            settings,
            [summaries[r] for r in rows],
            vectors[rows],
            version=FIRST_DAY + timedelta(days=which[-1]),
            window_start=FIRST_DAY + timedelta(days=which[0]),
            previous=previous,
            seed=seed,
            window_days=len(which),
            warm_start=warm,
            hierarchy_on_embeddings=hierarchy_on_embeddings,
        )

    return build


def same_leaf(first: Taxonomy, second: Taxonomy, chats: list[str]) -> float:
    a, b = first.leaf_of_chat(), second.leaf_of_chat()
    return float(np.mean([a[c] == b[c] for c in chats]))


def same_root(first: Taxonomy, second: Taxonomy, chats: list[str]) -> float:
    """Share of `chats` under the same root id in both versions."""
    roots = []
    for taxonomy in (first, second):
        root_of = {}
        for leaf in taxonomy.leaves():
            above = taxonomy.ancestors(leaf.topic_id)
            root = above[-1] if above else leaf.topic_id
            root_of.update(dict.fromkeys(leaf.chat_ids, root))
        roots.append(root_of)
    return float(np.mean([roots[0][c] == roots[1][c] for c in chats]))


def ari(first: dict[str, str], second: dict[str, str], chats: list[str]) -> float:
    return float(adjusted_rand_score([first[c] for c in chats], [second[c] for c in chats]))


def evaluate_seed(
    name: str, seed: int, n_days: int, settings: Settings, prepared, hierarchy: bool = True
) -> dict:
    conversations, labels, summaries, vectors = prepared
    order = list(range(len(conversations)))
    random.Random(seed).shuffle(order)
    per_day = PER_DAY[name]
    days = [order[d * per_day : (d + 1) * per_day] for d in range(n_days + 1)]
    build = builder(settings, summaries, vectors, days, hierarchy)
    chat = [s.chat_id for s in summaries]
    label_of = {s.chat_id: label for s, label in zip(summaries, labels)}
    w1, w2 = range(0, n_days), range(1, n_days + 1)
    w1_chats = [chat[r] for d in w1 for r in days[d]]
    w2_chats = [chat[r] for d in w2 for r in days[d]]
    shared = [chat[r] for d in range(1, n_days) for r in days[d]]
    started = time.perf_counter()
    first = build(w1, None, seed)
    warm = build(w1, first, seed + 100)
    cold = build(w1, first, seed + 100, warm=False)
    following = build(w2, first, seed)
    recluster = build(w2, None, seed + 200, warm=False)
    assigned: dict[str, str] = {}
    for d in w2:
        rows = days[d]
        table = assign_to_taxonomy([chat[r] for r in rows], vectors[rows], following)
        assigned.update(zip(table.column("chat_id").to_pylist(), table.column("topic_id").to_pylist()))
    w2_rows = [r for d in w2 for r in days[d]]
    leaves, nearest, distance = nearest_leaves(vectors[w2_rows], following)
    by_centroid = {
        c: UNASSIGNED if distance[k] > leaves[nearest[k]].radius else leaves[nearest[k]].topic_id
        for k, c in enumerate(w2_chats)
    }
    last = days[n_days]
    last_chats = [chat[r] for r in last]
    early = assign_to_taxonomy(last_chats, vectors[last], first)
    early_assigned = dict(zip(early.column("chat_id").to_pylist(), early.column("topic_id").to_pylist()))
    events = Counter(e.event for e in following.lineage)
    first_ids = {t.topic_id for t in first.topics}
    first_leaves = {t.topic_id for t in first.leaves()}
    continued = {e.topic_id for e in following.lineage if e.event in ("kept", "renamed")}
    reclustered = recluster.leaf_of_chat()
    return {
        "dataset": name,
        "seed": seed,
        "window_conversations": len(w1_chats),
        "leaves": len(first.leaves()),
        "topics": len(first.topics),
        "a_warm": same_leaf(first, warm, w1_chats),
        "a_cold": same_leaf(first, cold, w1_chats),
        "b_kept_conversations": same_leaf(first, following, shared),
        "b_ari": ari(first.leaf_of_chat(), following.leaf_of_chat(), shared),
        "b_leaves_continued": len(first_leaves & continued) / len(first_leaves),
        "b_topics_continued": len(first_ids & continued) / len(first_ids),
        "b_parents_continued": len((first_ids - first_leaves) & continued)
        / max(len(first_ids - first_leaves), 1),
        "b_same_root": same_root(first, following, shared),
        "b_events": dict(sorted(events.items())),
        "b_repeated_names": repeated_names(following),
        "c_ari_in_window": ari(assigned, reclustered, w2_chats),
        "c_unassigned_share": sum(v == UNASSIGNED for v in assigned.values()) / len(assigned),
        "c_ari_in_window_by_centroid": ari(by_centroid, reclustered, w2_chats),
        "c_by_centroid_unassigned_share": sum(v == UNASSIGNED for v in by_centroid.values()) / len(w2_chats),
        "c_ari_next_day": ari(early_assigned, reclustered, last_chats),
        "c_next_day_unassigned_share": sum(v == "unassigned" for v in early_assigned.values()) / len(last),
        "nmi_leaves_vs_labels": float(
            normalized_mutual_info_score(
                [label_of[c] for c in w2_chats], [following.leaf_of_chat()[c] for c in w2_chats]
            )
        ),
        "seconds": time.perf_counter() - started,
    }


def repeated_names(taxonomy) -> int:
    """Shown topics (not hidden) whose name, case aside, another shown topic of the version also has."""
    names = Counter(t.name.lower() for t in taxonomy.topics if not t.hidden)
    return sum(count for count in names.values() if count > 1)


def summarise(rows: list[dict]) -> dict:
    keys = [k for k, v in rows[0].items() if isinstance(v, float) and k != "seconds"]
    return {
        key: {"median": statistics.median(r[key] for r in rows), "min": min(r[key] for r in rows)}
        for key in keys
    }


def markdown(results: dict, args) -> str:
    lines = [
        "# Taxonomy stability (issue 16, points 2 and 3)",
        "",
        f"Command: `python bench/taxonomy_stability.py --seeds {' '.join(map(str, args.seeds))} "
        f"--datasets {' '.join(args.datasets)} --days {args.days}"
        f"{' --hierarchy-on-clustering-space' if args.hierarchy_on_clustering_space else ''}` (local models: extractive summaries, "
        "WordLlama embeddings, k-means on UMAP, Ward hierarchy; default settings).",
        f"Data: labelled texts from ../shared/eval as one-message conversations, shuffled per seed into "
        f"{args.days + 1} days ({', '.join(f'{n}: {PER_DAY[n]}/day' for n in args.datasets)}); window = "
        f"{args.days} days; themes do not change over time. Targets: (a) warm ≥ 0.9, (b) ≥ 0.9, (c) ARI ≥ 0.8.",
        "",
        "| dataset | seed | window | leaves | (a) same leaf, warm | (a) cold | (b) same leaf | (b) ARI | "
        "(b) leaves kept | (b) parents kept | (b) same root | (c) ARI in window | unassigned | (c) by centroid only | "
        "unassigned | (c) ARI next day | unassigned | NMI vs labels |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['dataset']} | {row['seed']} | {row['window_conversations']} | {row['leaves']} | "
            f"{row['a_warm']:.3f} | {row['a_cold']:.3f} | {row['b_kept_conversations']:.3f} | "
            f"{row['b_ari']:.3f} | {row['b_leaves_continued']:.3f} | {row['b_parents_continued']:.3f} | "
            f"{row['b_same_root']:.3f} | "
            f"{row['c_ari_in_window']:.3f} | {row['c_unassigned_share']:.3f} | "
            f"{row['c_ari_in_window_by_centroid']:.3f} | {row['c_by_centroid_unassigned_share']:.3f} | "
            f"{row['c_ari_next_day']:.3f} | {row['c_next_day_unassigned_share']:.3f} | "
            f"{row['nmi_leaves_vs_labels']:.3f} |"
        )
    lines += ["", "Medians (min) over seeds:", ""]
    for name, summary in results["summary"].items():
        cells = ", ".join(f"{k} {v['median']:.3f} ({v['min']:.3f})" for k, v in summary.items())
        lines.append(f"- {name}: {cells}")
    lines += ["", "Lineage events of the one-day-later version (b):", ""]
    for row in results["rows"]:
        lines.append(
            f"- {row['dataset']} seed {row['seed']}: {row['b_events']}; shown names repeated in the "
            f"version: {row.get('b_repeated_names', '—')}"
        )
    lines += [
        "",
        "(a) cold is not a target: it shows what matching alone (no warm start) keeps when the clustering "
        "itself is redone from scratch. (c) in window: `assign_to_taxonomy` of each day of W2 to B (a "
        "conversation B holds keeps its leaf); by centroid only: every conversation of W2 to its nearest "
        "leaf of B, `unassigned` beyond the leaf's radius (its furthest member), counted as one label; next "
        "day: the day after W1 assigned to A, which never saw it (about 100-150 conversations over ~100 "
        "leaves, so a noisy ARI).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", choices=sorted(PER_DAY), default=sorted(PER_DAY))
    parser.add_argument("--days", type=int, default=28, help="window length (the data holds one day more)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/taxonomy_stability"))
    parser.add_argument(
        "--hierarchy-on-clustering-space",
        action="store_true",
        help="group leaves by their clustering-space centroids (as meta_clusters does per day), for comparison",
    )
    args = parser.parse_args(argv)
    if not EVAL_DIR.is_dir():
        print(f"no evaluation data at {EVAL_DIR}; nothing to measure", file=sys.stderr)
        return 0
    settings = Settings.from_env()
    settings.prepare_home()
    rows = []
    summary = {}
    for name in args.datasets:
        file, drop = DATASETS[name]
        conversations, labels = load_labelled(EVAL_DIR / file, drop)
        needed = PER_DAY[name] * (args.days + 1)
        if needed > len(conversations):
            print(f"{name}: {needed} conversations needed, {len(conversations)} available", file=sys.stderr)
            return 2
        summaries, vectors, _ = summaries_and_embeddings(conversations)
        prepared = (conversations, labels, summaries, vectors)
        hierarchy = not args.hierarchy_on_clustering_space
        found = [evaluate_seed(name, seed, args.days, settings, prepared, hierarchy) for seed in args.seeds]
        for row in found:
            print(json.dumps(row))
        rows += found
        summary[name] = summarise(found)
    results = {"rows": rows, "summary": summary, "targets": TARGETS}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    args.out.with_suffix(".md").write_text(markdown(results, args))
    print(markdown(results, args))
    missed = [
        f"{name} {key}"
        for name, s in summary.items()
        for key, floor in TARGETS.items()
        if s[key]["median"] < floor
    ]
    if missed:
        print("below target: " + ", ".join(missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
