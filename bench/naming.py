"""Does the topic tree say what users want? Clustering quality per tree level and name fidelity, on labelled sets.

One command measures, for each set, the local pipeline exactly as the assets run it (extractive summaries →
WordLlama embeddings → base clusters → privacy thresholds → hierarchy, settings from the environment):

- NMI / ARI / purity at every depth of the tree, and at the depth whose node count is nearest the number of
  labels (`bench/quality.py`'s rule);
- the largest root's share of the conversations (the issue's "no root holds more than 40% of a day");
- name fidelity: for every shown leaf (not hidden by the thresholds), does its name share a content word, after
  stemming (`core.text.stem`), with the name of its majority label? The share of the shown leaves'
  conversations whose leaf does; plus 20 example names per set with their majority label;
- parent coverage: of the conversations under shown parents (every level above the leaves), the share whose
  own label shares a stemmed content word with their parent's name (a parent holds several labels);
- names that repeat: siblings with the same name, a parent named like one of its children;
- names carrying a specific: a weekday or month, a digit, or a word written capitalised inside a sentence in
  most of its uses across the set's messages (a proper noun by the corpus' own casing, assistant turns included).

Sets: Banking77 and CLINC150 in-scope (one-message conversations), MultiWOZ 2.1 single-domain dialogues
(5 domains, multi-turn, many open with a greeting), all read from ../shared/eval and never copied into the
repository; and the committed sample (`data/`), each day of each dataset a partition of its own as the pipeline
runs it, labelled by the generator's themes (computed in memory by `scripts/generate_sample.py`'s own code and
checked against the committed files). On the sample it also reports how many non-English conversations sit in
a leaf whose majority theme is their own.

    python bench/naming.py                                  # every set, seeds 0 1 2
    python bench/naming.py --sets multiwoz sample --seeds 0 # while iterating
    python bench/naming.py --json /tmp/naming.json --examples 30
    python bench/naming.py --hosted --seeds 0               # Clio's naming against the loopback server

Results: a table on stdout and every figure in the JSON file (default bench/results/naming.json).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kura_dagster.core.privacy.thresholds import PrivacyGuard, Thresholds, is_content_free
from kura_dagster.core.settings import Settings
from kura_dagster.core.stages.base_clusters import (
    KMeansClusteringMethod,
    generate_base_clusters_from_conversation_summaries,
)
from kura_dagster.core.stages.embeddings import WordLlamaEmbeddingModel, embed_summaries
from kura_dagster.core.stages.meta_clusters import (
    AgglomerativeMetaClusterModel,
    reduce_clusters_from_base_clusters,
)
from kura_dagster.core.stages.summaries import ExtractiveSummaryModel, summarise_conversations
from kura_dagster.core.text import PROGRAMMING_LANGUAGES, STOP_WORDS, stem, tokens
from kura_dagster.core.tree import children_of, leaves
from kura_dagster.core.types import Cluster, Conversation, ConversationSummary, Message

REPO = Path(__file__).resolve().parents[1]


def find_eval_dir() -> Path:
    """`KURA_EVAL_DIR`, else the first `shared/eval` beside the repository or one of its parents (a git worktree
    under another folder finds the same data as the main checkout)."""
    if os.environ.get("KURA_EVAL_DIR"):
        return Path(os.environ["KURA_EVAL_DIR"])
    for parent in REPO.parents:
        if (parent / "shared" / "eval").is_dir():
            return parent / "shared" / "eval"
    return REPO.parent / "shared" / "eval"


EVAL_SETS = {
    # name: (file, label to drop)
    "banking77": ("banking77_test.jsonl", None),
    "clinc150": ("clinc150_test.jsonl", "oos"),
    "multiwoz": ("multiwoz21_single_domain.jsonl", None),
}
SETS = [*EVAL_SETS, "sample"]
STAMP = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass
class Partition:
    """One run of the pipeline: conversations with their labels (and languages, on the sample)."""

    name: str
    conversations: list[Conversation]
    labels: dict[str, str]
    languages: dict[str, str] = field(default_factory=dict)


def load_eval(name: str, eval_dir: Path) -> Partition:
    file_name, drop = EVAL_SETS[name]
    conversations, labels = [], {}
    for line in (eval_dir / file_name).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row["label"] == drop:
            continue
        messages = row.get("messages") or [{"role": "user", "content": row["text"]}]
        conversations.append(
            Conversation(chat_id=row["id"], created_at=STAMP, messages=[Message(**m) for m in messages])
        )
        labels[row["id"]] = row["label"]
    return Partition(name, conversations, labels)


def load_sample_generator():
    path = REPO / "scripts" / "generate_sample.py"
    spec = importlib.util.spec_from_file_location("generate_sample", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate_sample", module)
    spec.loader.exec_module(module)
    return module


def load_sample(
    seed: int = 7, start: str = "2026-11-01", days: int = 7, per_day: int = 120
) -> list[Partition]:
    """Each day of each committed sample dataset, labelled by the generator's own themes and languages.

    The generator is rerun in memory with the defaults the committed files were made with, and every record is
    compared with the committed line, so the labels are those of the data the demo runs on."""
    import datetime as dt

    gen = load_sample_generator()
    partitions = []
    for dataset in gen.DATASETS:
        pools = gen.user_pools(seed, dataset)
        for day_index in range(days):
            day = dt.date.fromisoformat(start) + dt.timedelta(days=day_index)
            rows = gen.generate_day(seed, dataset, day, day_index, pools, per_day)
            committed = (
                (REPO / "data" / dataset / f"{day.isoformat()}.jsonl")
                .read_text(encoding="utf-8")
                .splitlines()
            )
            if [json.dumps(r, ensure_ascii=False) for r, _, _ in rows] != committed:
                raise SystemExit(
                    f"data/{dataset}/{day}.jsonl differs from scripts/generate_sample.py's output: "
                    "regenerate the sample or fix the generator"
                )
            conversations = [
                Conversation(
                    chat_id=r["chat_id"],
                    created_at=r["created_at"],
                    messages=[Message(**m) for m in r["messages"]],
                    metadata=r["metadata"],
                )
                for r, _, _ in rows
            ]
            partitions.append(
                Partition(
                    f"{dataset}/{day}",
                    conversations,
                    {r["chat_id"]: t for r, t, _ in rows},
                    {r["chat_id"]: lang for r, _, lang in rows},
                )
            )
    return partitions


# ---------------------------------------------------------------------------------------------- the pipeline


def run_pipeline(
    summaries: Sequence[ConversationSummary], vectors: np.ndarray, settings: Settings, seed: int, client=None
) -> list[Cluster]:
    """base_clusters (with the privacy thresholds) and meta_clusters as the assets run them: locally, or with
    Clio's namer and hierarchy when an LLM `client` is given (the loopback server: `--hosted`)."""
    namer = meta = None
    if client is not None:
        from kura_dagster.core.llm.hierarchy import ClioMetaClusterModel
        from kura_dagster.core.llm.naming import ContrastiveClusterNamer

        namer = ContrastiveClusterNamer(client, seed=seed)
        meta = ClioMetaClusterModel(
            client, max_roots=settings.max_roots, branching=settings.meta_branching, seed=seed
        )
    base = generate_base_clusters_from_conversation_summaries(
        summaries,
        vectors,
        namer=namer,
        clustering_method=KMeansClusteringMethod(
            target_cluster_size=settings.target_cluster_size,
            random_state=seed,
            max_clusters=settings.max_base_clusters,
        ),
        lexical_weight=settings.lexical_weight,
        manifold=settings.manifold == "umap",
        random_state=seed,
    )
    guard = PrivacyGuard(
        Thresholds(settings.min_cluster_size, settings.min_cluster_users),
        hidden_leaves_in_structure=client is None,
    )
    base = guard.protect_leaves(base, summaries)
    model = guard.protect_hierarchy(
        meta or AgglomerativeMetaClusterModel(max_roots=settings.max_roots, branching=settings.meta_branching)
    )
    return reduce_clusters_from_base_clusters(base, summaries, vectors, model=model)


def loopback_client():
    """An `LLMClient` on the loopback OpenAI-compatible server the tests use (kura_dagster_tests/fake_openai.py):
    its names are made from the words of the prompt, so the figure checks the plumbing and Clio's prompts'
    inputs, not a model's judgement."""
    import contextlib

    import openai

    from kura_dagster.core.llm.client import LLMClient

    sys.path.insert(0, str(REPO))  # the tests' package is not installed: run from a checkout
    from kura_dagster_tests.fake_openai import FakeOpenAIServer

    stack = contextlib.ExitStack()
    server = stack.enter_context(FakeOpenAIServer())
    client = LLMClient(
        lambda: openai.AsyncOpenAI(base_url=server.base_url, api_key="loopback"),
        timeout_s=5.0,
        backoff_base_s=0.01,
    )
    return client, stack


# ---------------------------------------------------------------------------------------------- the measures


def purity(truth: Sequence[str], predicted: Sequence[str]) -> float:
    by_node: dict[str, Counter] = defaultdict(Counter)
    for label, node in zip(truth, predicted):
        by_node[node][label] += 1
    return sum(c.most_common(1)[0][1] for c in by_node.values()) / max(len(truth), 1)


def level_scores(nodes: Sequence[Cluster], labels: dict[str, str]) -> list[dict]:
    """NMI / ARI / purity and node count at every depth (a conversation scored by its leaf when shallower)."""
    from quality import level_cuts
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    out = []
    for depth, cut in enumerate(level_cuts(nodes)):
        chats = sorted(cut)
        truth, predicted = [labels[c] for c in chats], [cut[c] for c in chats]
        out.append(
            {
                "level": depth,
                "nodes": len(set(predicted)),
                "nmi": normalized_mutual_info_score(truth, predicted),
                "ari": adjusted_rand_score(truth, predicted),
                "purity": purity(truth, predicted),
            }
        )
    return out


def nearest_level(levels: list[dict], n_labels: int) -> dict:
    return min(levels, key=lambda s: (abs(s["nodes"] - n_labels), -s["nodes"]))


def content_stems(text: str) -> set[str]:
    return {stem(w) for w in tokens(text.replace("_", " ")) if w not in STOP_WORDS and len(w) > 2}


def shown_leaves(nodes: Sequence[Cluster]) -> list[Cluster]:
    return [n for n in leaves(nodes) if not is_content_free(n)]


def fidelity(
    nodes: Sequence[Cluster], labels: dict[str, str], judged: Sequence[Cluster] | None = None
) -> tuple[float, list[dict]]:
    """Share of shown leaves' conversations (or those of `judged` nodes) whose name shares a stemmed content
    word with their majority label; and every judged node as (name, majority label, hit, size), largest first."""
    rows = []
    for leaf in shown_leaves(nodes) if judged is None else [n for n in judged if not is_content_free(n)]:
        label, _ = Counter(labels[c] for c in leaf.chat_ids).most_common(1)[0]
        hit = bool(content_stems(leaf.name) & content_stems(label))
        rows.append({"name": leaf.name, "label": label, "hit": hit, "size": leaf.count})
    rows.sort(key=lambda r: (-r["size"], r["name"]))
    total = sum(r["size"] for r in rows)
    return (sum(r["size"] for r in rows if r["hit"]) / total if total else float("nan")), rows


def parent_coverage(nodes: Sequence[Cluster], labels: dict[str, str]) -> float:
    """How much of a parent its name says: of the conversations under shown parents (every level above the
    leaves), the share whose own label shares a stemmed content word with their parent's name, pooled by
    size. A parent holds several labels, so its majority label (`fidelity`) would judge one child's name."""
    parents = {n.parent_id for n in nodes}
    hits = total = 0
    for node in nodes:
        if node.id not in parents or is_content_free(node):
            continue
        name = content_stems(node.name)
        hits += sum(bool(name & content_stems(labels[c])) for c in node.chat_ids)
        total += len(node.chat_ids)
    return hits / total if total else float("nan")


def repeated_names(nodes: Sequence[Cluster]) -> dict[str, int]:
    """Sibling pairs with the same name and parents named like one of their children (content-free excluded)."""
    children = children_of(nodes)
    siblings = parent_child = 0
    by_id = {n.id: n for n in nodes}
    for parent_id, kids in children.items():
        named = [k.name.lower() for k in kids if not is_content_free(k)]
        siblings += sum(count - 1 for count in Counter(named).values() if count > 1)
        if parent_id is not None and not is_content_free(by_id[parent_id]):
            parent_child += by_id[parent_id].name.lower() in named
    return {"same_name_siblings": siblings, "parent_named_like_child": parent_child}


WEEKDAYS_MONTHS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april june july august "
    "september october november december".split()
)
CAPITALISED_INSIDE = re.compile(r"(?<=[a-z,;:] )([A-Z][a-z]+)")
ANY_WORD = re.compile(r"[A-Za-z]+")


def corpus_proper_nouns(conversations: Sequence[Conversation]) -> set[str]:
    """Lower-cased words written capitalised inside a sentence in most of their uses (every turn counted, but
    not German turns: German capitalises every noun)."""
    from kura_dagster.core.text import detect_natural_languages

    inside, seen = Counter(), Counter()
    for conversation in conversations:
        for message in conversation.messages:
            text = message.content
            if detect_natural_languages([text])[:1] == ["german"]:
                continue
            inside.update(w.lower() for w in CAPITALISED_INSIDE.findall(text))
            seen.update(w.lower() for w in re.findall(r"(?<=[a-z,;:] )([A-Za-z][a-z]+)", text))
    technical = {cue.strip() for cues in PROGRAMMING_LANGUAGES.values() for cue in cues} | set(
        PROGRAMMING_LANGUAGES
    )
    return {
        w
        for w, n in inside.items()
        if n >= 2 and n >= 0.5 * seen[w] and w not in STOP_WORDS and w not in technical
    }


NUMBER = re.compile(r"(?<![\w-])\d[\d.,:/-]*(?![A-Za-z])")  # 4, 15:15, 3.0.0, 2026-11-01; not k8s or W-2
OUR_FIGURES = re.compile(r"\b\d[\d,.]*\s*(?:%|conversations?|users?|people|of them)")


def specifics_in(text: str, proper: set[str]) -> list[str]:
    """Weekdays, months, corpus proper nouns and digits in `text` (counts the namer writes itself, such as
    "120 conversations" or "40%", are not specifics)."""
    text = OUR_FIGURES.sub(" ", text)
    words = [w.lower() for w in ANY_WORD.findall(text)]
    found = [w for w in words if w in WEEKDAYS_MONTHS or w in proper]
    return found + (["<digit>"] if NUMBER.search(text) else [])


def named_nodes(nodes: Sequence[Cluster]) -> list[Cluster]:
    return [n for n in nodes if not is_content_free(n)]


def measure(partition: Partition, nodes: Sequence[Cluster], proper: set[str]) -> dict:
    labels = partition.labels
    levels = level_scores(nodes, labels)
    present = len(set(labels.values()))
    total = sum(1 for _ in labels)
    roots = [n for n in nodes if n.parent_id is None]
    share, rows = fidelity(nodes, labels)
    from quality import level_cuts

    by_id = {node.id: node for node in nodes}
    cut_ids = set(level_cuts(nodes)[levels.index(nearest_level(levels, present))].values())
    nearest_share, _ = fidelity(nodes, labels, [by_id[i] for i in cut_ids])
    named = named_nodes(nodes)
    with_specifics = [(n.name, specifics_in(n.name, proper)) for n in named]
    described = [(n.description, specifics_in(n.description, proper)) for n in named]
    result = {
        "partition": partition.name,
        "items": total,
        "labels": present,
        "levels": levels,
        "nearest": nearest_level(levels, present),
        "leaf": levels[-1],
        "largest_root_share": max(r.count for r in roots) / total,
        "roots": len(roots),
        "fidelity": share,
        "nearest_fidelity": nearest_share,
        "parent_coverage": parent_coverage(nodes, labels),
        "shown_leaves": rows,
        "hidden_share": 1 - sum(r["size"] for r in rows) / total,
        **repeated_names(nodes),
        "keyword_list_names": sum(", " in n.name for n in named),
        "named_nodes": len(named),
        "names_with_specifics": [(name, found) for name, found in with_specifics if found],
        "descriptions_with_specifics": [(text, found) for text, found in described if found],
        "root_names": [r.name for r in sorted(roots, key=lambda r: -r.count)],
    }
    if partition.languages:
        result["non_english"] = non_english_with_theme(nodes, labels, partition.languages)
    return result


def non_english_with_theme(
    nodes: Sequence[Cluster], labels: dict[str, str], languages: dict[str, str]
) -> dict:
    """Non-English conversations in a leaf whose majority theme is their own (hidden leaves count too: the
    issue asks where they sit, not whether the leaf is shown)."""
    own = total = 0
    for leaf in leaves(nodes):
        majority, _ = Counter(labels[c] for c in leaf.chat_ids).most_common(1)[0]
        for chat in leaf.chat_ids:
            if languages.get(chat, "en") != "en":
                total += 1
                own += labels[chat] == majority
    return {"own_theme": own, "total": total}


# ---------------------------------------------------------------------------------------------- reporting


def prepared(partition: Partition):
    summaries = summarise_conversations(partition.conversations, model=ExtractiveSummaryModel())
    summaries = [s for s in summaries if s.error is None]
    vectors = embed_summaries(summaries, model=WordLlamaEmbeddingModel())
    return summaries, vectors


def evaluate_set(
    name: str, partitions: list[Partition], seeds: list[int], settings: Settings, client=None
) -> dict:
    runs = []
    started = time.perf_counter()
    for partition in partitions:
        proper = corpus_proper_nouns(partition.conversations)
        summaries, vectors = prepared(partition)
        for seed in seeds:
            nodes = run_pipeline(summaries, vectors, settings, seed, client)
            runs.append({"seed": seed, **measure(partition, nodes, proper)})
    return {
        "set": name,
        "runs": runs,
        "seconds": time.perf_counter() - started,
        **aggregate(runs, partitions),
    }


def aggregate(runs: list[dict], partitions: list[Partition]) -> dict:
    """Medians over seeds (and over days on the sample); fidelity and language shares pooled by size."""
    med = statistics.median
    out = {
        "nearest_nmi": med(r["nearest"]["nmi"] for r in runs),
        "nearest_ari": med(r["nearest"]["ari"] for r in runs),
        "nearest_purity": med(r["nearest"]["purity"] for r in runs),
        "nearest_nodes": sorted({r["nearest"]["nodes"] for r in runs}),
        "leaf_nmi": med(r["leaf"]["nmi"] for r in runs),
        "leaf_purity": med(r["leaf"]["purity"] for r in runs),
        "largest_root_share_median": med(r["largest_root_share"] for r in runs),
        "largest_root_share_max": max(r["largest_root_share"] for r in runs),
        "fidelity": med(r["fidelity"] for r in runs if r["fidelity"] == r["fidelity"]),
        "nearest_fidelity": med(
            r["nearest_fidelity"] for r in runs if r["nearest_fidelity"] == r["nearest_fidelity"]
        ),
        "parent_coverage": med(
            r["parent_coverage"] for r in runs if r["parent_coverage"] == r["parent_coverage"]
        ),
        "hidden_share": med(r["hidden_share"] for r in runs),
        "same_name_siblings": sum(r["same_name_siblings"] for r in runs),
        "parent_named_like_child": sum(r["parent_named_like_child"] for r in runs),
        "keyword_list_names": sum(r["keyword_list_names"] for r in runs),
        "named_nodes": sum(r["named_nodes"] for r in runs),
        "names_with_specifics": sum(len(r["names_with_specifics"]) for r in runs),
        "descriptions_with_specifics": sum(len(r["descriptions_with_specifics"]) for r in runs),
        "per_level": per_level(runs),
    }
    if all("non_english" in r for r in runs):
        own = sum(r["non_english"]["own_theme"] for r in runs)
        total = sum(r["non_english"]["total"] for r in runs)
        out["non_english_with_own_theme"] = own / total if total else float("nan")
    return out


def per_level(runs: list[dict]) -> list[dict]:
    """Median NMI / ARI / purity / node count at each depth, over the runs that have that depth."""
    depths = max(len(r["levels"]) for r in runs)
    table = []
    for depth in range(depths):
        at = [r["levels"][depth] for r in runs if len(r["levels"]) > depth]
        table.append(
            {
                "level": depth,
                "runs": len(at),
                **{k: statistics.median(s[k] for s in at) for k in ("nodes", "nmi", "ari", "purity")},
            }
        )
    return table


def examples(result: dict, count: int) -> list[dict]:
    """`count` shown leaves of the first seed's runs, spread over the size ranking (not only the largest)."""
    first_seed = result["runs"][0]["seed"]
    rows = [row for r in result["runs"] if r["seed"] == first_seed for row in r["shown_leaves"]]
    rows.sort(key=lambda r: (-r["size"], r["name"]))
    if len(rows) <= count:
        return rows
    return [rows[int(i)] for i in np.linspace(0, len(rows) - 1, count).round()]


def print_report(results: list[dict], example_count: int) -> None:
    print(
        "| set | items | labels | level nearest the label count (nodes) | NMI | ARI | purity | leaf NMI | "
        "leaf purity | largest root (median, max) | name fidelity (leaves; level nearest the labels) | hidden | same-name siblings / parent=child "
        "| keyword-list names | names / descriptions with specifics | non-English with own theme |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---|---|---|---|")
    for r in results:
        items = statistics.median(run["items"] for run in r["runs"])
        labels = statistics.median(run["labels"] for run in r["runs"])
        levels = ", ".join(
            sorted({f"{run['nearest']['level']} ({run['nearest']['nodes']})" for run in r["runs"]})
        )
        if len(levels) > 40:
            levels = f"{len(set(levels.split(', ')))} distinct"
        language = f"{r['non_english_with_own_theme']:.0%}" if "non_english_with_own_theme" in r else "—"
        print(
            f"| {r['set']} | {items:g} | {labels:g} | {levels} | {r['nearest_nmi']:.3f} | {r['nearest_ari']:.3f} | "
            f"{r['nearest_purity']:.3f} | {r['leaf_nmi']:.3f} | {r['leaf_purity']:.3f} | "
            f"{r['largest_root_share_median']:.0%}, {r['largest_root_share_max']:.0%} | {r['fidelity']:.0%}; "
            f"{r['nearest_fidelity']:.0%} | "
            f"{r['hidden_share']:.0%} | {r['same_name_siblings']} / {r['parent_named_like_child']} | "
            f"{r['keyword_list_names']}/{r['named_nodes']} | {r['names_with_specifics']} / {r['descriptions_with_specifics']} of {r['named_nodes']} | "
            f"{language} |"
        )
    for r in results:
        print(
            f"\n{r['set']}: per level (median over runs) "
            + "; ".join(
                f"L{s['level']} {s['nodes']:g} nodes NMI {s['nmi']:.3f} ARI {s['ari']:.3f} purity "
                f"{s['purity']:.3f}"
                for s in r["per_level"]
            )
        )
        print(
            f"{r['set']}: parents' names cover {r['parent_coverage']:.0%} of their conversations' labels "
            "(median over runs; `parent_coverage`)"
        )
        print(f"{r['set']}: roots of the first run: {r['runs'][0]['root_names']}")
        for kind in ("names", "descriptions"):
            specifics = [item for run in r["runs"] for item in run[f"{kind}_with_specifics"]][:4]
            if specifics:
                print(f"{r['set']}: {kind} with specifics, e.g. {specifics}")
        for row in examples(r, example_count):
            print(f"  {'✓' if row['hit'] else '✗'} {row['size']:4d}  {row['name']}   [{row['label']}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", nargs="+", choices=SETS, default=SETS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--examples", type=int, default=20, help="example names printed per set")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "naming.json")
    parser.add_argument(
        "--hosted",
        action="store_true",
        help="name with Clio's prompts (ContrastiveClusterNamer, ClioMetaClusterModel) against the "
        "loopback OpenAI-compatible server of the tests, summaries and embeddings still local",
    )
    args = parser.parse_args(argv)
    client, stack = loopback_client() if args.hosted else (None, None)
    eval_dir = find_eval_dir()
    settings = Settings.from_env()
    settings.prepare_home()  # numba's cache in KURA_HOME, as the pipeline does
    results = []
    for name in args.sets:
        if name == "sample":
            by_dataset: dict[str, list[Partition]] = defaultdict(list)
            for partition in load_sample():
                by_dataset[partition.name.split("/")[0]].append(partition)
            for dataset, partitions in by_dataset.items():
                results.append(evaluate_set(f"sample {dataset}", partitions, args.seeds, settings, client))
                print(f"sample {dataset}: {results[-1]['seconds']:.0f} s", file=sys.stderr)
            continue
        if (eval_dir / EVAL_SETS[name][0]).is_file():
            partitions = [load_eval(name, eval_dir)]
        else:
            print(f"no {EVAL_SETS[name][0]} in {eval_dir}: {name} skipped", file=sys.stderr)
            continue
        results.append(evaluate_set(name, partitions, args.seeds, settings, client))
        print(f"{name}: {results[-1]['seconds']:.0f} s", file=sys.stderr)
    if stack is not None:
        stack.close()
    print_report(results, args.examples)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"seeds": args.seeds, "results": results}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
