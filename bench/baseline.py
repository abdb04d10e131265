"""A BERTopic-style baseline over the same embeddings: UMAP to 5 dimensions → HDBSCAN → c-TF-IDF topic words.

Written from BERTopic's published defaults (it is not a dependency): UMAP with n_neighbors=15, n_components=5,
min_dist=0.0 and the cosine metric; HDBSCAN with min_cluster_size=10, the euclidean metric and "eom" cluster
selection; topic words ranked by class-based TF-IDF over each topic's concatenated documents with BERTopic's
default CountVectorizer. HDBSCAN's noise keeps the label -1 (BERTopic's "outlier" topic); scoring in
bench/quality.py counts it as one label.

    python bench/baseline.py                        # Banking77 from ../shared/eval, seed 0
    python bench/baseline.py --dataset clinc150 --seed 1 --words 8
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence

import numpy as np

NOISE = -1


def bertopic_style(
    embeddings: np.ndarray,
    texts: Sequence[str],
    random_state: int = 42,
    *,
    n_neighbors: int = 15,
    n_components: int = 5,
    min_cluster_size: int = 10,
    top_words: int = 10,
) -> tuple[np.ndarray, dict[int, list[str]]]:
    """Cluster documents as BERTopic does by default; `embeddings` has one row per text.

    Returns a label per document (-1 = HDBSCAN noise) and the top c-TF-IDF words of each label.
    """
    if len(texts) != embeddings.shape[0]:
        raise ValueError(f"{len(texts)} texts but {embeddings.shape[0]} embeddings")
    reduced = _umap(np.asarray(embeddings, dtype=np.float32), n_neighbors, n_components, random_state)
    labels = _hdbscan(reduced, min_cluster_size)
    return labels, c_tf_idf_words(texts, labels, top_words)


def _umap(embeddings: np.ndarray, n_neighbors: int, n_components: int, random_state: int) -> np.ndarray:
    if embeddings.shape[0] <= n_neighbors + 1:
        return embeddings
    import umap

    reducer = umap.UMAP(
        n_neighbors=n_neighbors,
        n_components=n_components,
        min_dist=0.0,
        metric="cosine",
        random_state=random_state,
    )
    with warnings.catch_warnings():
        # A fixed random_state makes UMAP single-threaded; it says so on every call.
        warnings.filterwarnings("ignore", message="n_jobs value")
        return np.asarray(reducer.fit_transform(embeddings), dtype=np.float32)


def _hdbscan(reduced: np.ndarray, min_cluster_size: int) -> np.ndarray:
    if reduced.shape[0] < min_cluster_size:
        return np.full(reduced.shape[0], NOISE, dtype=np.int64)
    import hdbscan

    model = hdbscan.HDBSCAN(
        min_cluster_size=min_cluster_size, metric="euclidean", cluster_selection_method="eom"
    )
    return model.fit_predict(reduced).astype(np.int64)


def c_tf_idf_words(texts: Sequence[str], labels: np.ndarray, top_words: int = 10) -> dict[int, list[str]]:
    """BERTopic's class-based TF-IDF: each topic's documents joined into one, tf L1-normalised per topic,
    weighted by log(1 + average words per topic / the word's frequency over all topics)."""
    from sklearn.feature_extraction.text import CountVectorizer

    topics = sorted(set(labels.tolist()))
    joined = [" ".join(texts[i] for i in np.flatnonzero(labels == topic)) for topic in topics]
    try:
        vectorizer = CountVectorizer()
        counts = vectorizer.fit_transform(joined).toarray().astype(np.float64)
    except ValueError:  # no words at all
        return {topic: [] for topic in topics}
    words = vectorizer.get_feature_names_out()
    frequency = counts.sum(axis=0)
    average_words = counts.sum() / len(topics)
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    scores = tf * np.log(1.0 + average_words / np.maximum(frequency, 1.0))
    return {
        topic: [str(words[j]) for j in np.argsort(-row, kind="stable")[:top_words] if row[j] > 0]
        for topic, row in zip(topics, scores)
    }


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from quality import DATASETS, EVAL_DIR, load_labelled, scores, summaries_and_embeddings

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="banking77")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--words", type=int, default=6, help="topic words to print per topic")
    parser.add_argument("--show", type=int, default=15, help="how many of the largest topics to print")
    args = parser.parse_args(argv)
    file_name, drop = DATASETS[args.dataset]
    if not (EVAL_DIR / file_name).is_file():
        print(f"no evaluation data at {EVAL_DIR / file_name}", file=sys.stderr)
        return 1
    conversations, labels = load_labelled(EVAL_DIR / file_name, drop)
    summaries, vectors, texts = summaries_and_embeddings(conversations)
    started = time.perf_counter()
    predicted, topic_words = bertopic_style(vectors, texts, random_state=args.seed, top_words=args.words)
    seconds = time.perf_counter() - started
    noise = int((predicted == NOISE).sum())
    topics = len(set(predicted.tolist()) - {NOISE})
    print(
        f"{args.dataset}: {len(texts)} texts → {topics} topics + {noise} noise ({noise / len(texts):.1%}) "
        f"in {seconds:.1f} s"
    )
    print(
        "NMI {nmi:.4f}  ARI {ari:.4f}  purity {purity:.4f} (noise counted as one label)".format(
            **scores(labels, predicted)
        )
    )
    sizes = {topic: int((predicted == topic).sum()) for topic in topic_words}
    for topic in sorted(sizes, key=lambda t: (-sizes[t], t))[: args.show]:
        print(f"{topic:>4} {sizes[topic]:>5}  {', '.join(topic_words[topic])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
