"""The vectors clustering works on.

1. Views of the same texts, each unit-normalised, then joined: the stored embeddings (centred: their shared
   mean direction removed), a word TF-IDF view reduced by truncated SVD (LSA), and a character n-gram LSA
   view. Static word embeddings such as WordLlama blur the words that separate intents ("card" vs "cash");
   the lexical views restore them, the character view also catches inflections and typos. `lexical_weight`
   says how much each lexical view counts (0.5 measured best of 0.3–0.8 on Banking77 and CLINC150).
2. Optionally a manifold step: UMAP to a few dimensions over the cosine k-nearest-neighbour graph, which
   k-means then partitions (as BERTopic does before HDBSCAN). On Banking77 and CLINC150 it lifts NMI from
   about 0.74/0.84 to 0.80/0.88 (bench/quality.py).

Tried and left out (bench/quality.py, seeds 0–2): IDF- or SIF-weighted pooling of WordLlama's token vectors
and removing the top principal components (both lower kNN label agreement), shared-nearest-neighbour
re-ranking of the kNN graph (better neighbours, worse clusters after UMAP), 5 or 20 UMAP dimensions,
n_neighbors 10 or 30, 500 epochs (all within ±0.005 NMI of the defaults). The wordllama wheel ships only
the 256-dimension l2_supercat weights, so no larger model was available offline.

Cost (CLINC150, 4,500 texts, cProfile of bench/quality.py's run on one core): the UMAP layout at 200 epochs
(2.2 s), the two randomized SVDs at scikit-learn's 5 power iterations (1.6 s), the exact kNN graph (0.5 s)
and k-means++ seeding with 10 starts (0.4 s) were most of it. 100 epochs, 2 power iterations and 3 starts
(base_clusters.py) keep NMI within seed noise (±0.003) and take it from about 5.1 s to 3.1 s. With a second
process on the machine, two OpenBLAS threads made the SVDs 5–10× slower (CLINC150: 9 s instead of 1 s),
so LSA and the kNN products run on one BLAS thread. Tried for speed and left out: min_df=2 for character
n-grams (−0.003 NMI on CLINC150), no character view (−0.004), UMAP negative_sample_rate 3 (−0.002),
50 or 75 epochs (−0.002 to −0.009 on Banking77). With k-means started from Ward centroids (base_clusters.py),
150 epochs or 8 or 15 UMAP dimensions stayed within ±0.003 of the defaults' mean NMI over seeds 0–4.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kura_dagster.core.vectors import unit_rows


def centred_rows(matrix: np.ndarray) -> np.ndarray:
    """Unit rows after removing the mean direction of the unit rows.

    Averaged word vectors all share a large common component (frequent words, the language itself), so
    cosines between any two texts are high and differences between intents are a small part of them;
    subtracting the mean spreads the texts out. Rows that equal the mean stay zero rather than noise.
    """
    rows = unit_rows(matrix)
    if rows.shape[0] < 2:
        return rows
    return unit_rows(rows - rows.mean(axis=0, keepdims=True))


def lsa_view(
    texts: Sequence[str],
    *,
    analyzer: str = "word",
    components: int = 256,
    n_iter: int = 2,
    random_state: int = 42,
) -> np.ndarray | None:
    """Unit rows of LSA over word 1–2-grams or character 2–5-grams; None when the texts are too few.

    `n_iter` power iterations of the randomized SVD: 2 instead of scikit-learn's 5 costs no NMI (the views
    are clustered, not reconstructed) and skips the LU re-normalisation sklearn runs from 3 iterations on.
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from threadpoolctl import threadpool_limits

    if len(texts) < 3:
        return None
    ngrams = (1, 2) if analyzer == "word" else (2, 5)
    try:
        tfidf = TfidfVectorizer(
            sublinear_tf=True, analyzer=analyzer, ngram_range=ngrams, dtype=np.float32
        ).fit_transform(texts)
    except ValueError:  # empty vocabulary
        return None
    n_components = min(components, tfidf.shape[0] - 1, tfidf.shape[1] - 1)
    if n_components < 2:
        return None
    # One BLAS thread: the SVD's products with a tall n × ~266 block gain little from a second thread, and
    # when another process holds a core OpenBLAS's waiting threads made it 5–10× slower (bench/quality.py).
    with threadpool_limits(limits=1, user_api="blas"):
        svd = TruncatedSVD(n_components=n_components, n_iter=n_iter, random_state=random_state)
        reduced = svd.fit_transform(tfidf)
    return unit_rows(reduced.astype(np.float32))


def clustering_features(
    embeddings: np.ndarray,
    texts: Sequence[str],
    *,
    lexical_weight: float = 0.5,
    char_view: bool = True,
    lsa_components: int = 256,
    lsa_n_iter: int = 2,
    random_state: int = 42,
    centre: bool = True,
) -> np.ndarray:
    """Unit-length rows: the (centred) embeddings joined with the weighted word (and character) LSA views."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    views = [centred_rows(embeddings) if centre else unit_rows(embeddings)]
    if lexical_weight > 0 and len(texts):
        for analyzer in ("word", "char_wb") if char_view else ("word",):
            view = lsa_view(
                texts,
                analyzer=analyzer,
                components=lsa_components,
                n_iter=lsa_n_iter,
                random_state=random_state,
            )
            if view is not None:
                views.append(lexical_weight * view)
    return unit_rows(np.hstack(views)) if len(views) > 1 else views[0]


def cosine_knn(features: np.ndarray, n_neighbors: int, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours by cosine (rows are unit vectors), each row's first neighbour itself.

    Blocked matrix products keep memory at `block × n`; exact neighbours keep UMAP deterministic.
    """
    n_rows = features.shape[0]
    indices = np.empty((n_rows, n_neighbors), dtype=np.int64)
    distances = np.empty((n_rows, n_neighbors), dtype=np.float32)
    for start in range(0, n_rows, block):
        similarity = features[start : start + block] @ features.T
        rows = np.arange(similarity.shape[0])
        similarity[rows, rows + start] = 2.0  # itself first, whatever ties exist
        nearest = np.argpartition(-similarity, n_neighbors - 1, axis=1)[:, :n_neighbors]
        scores = np.take_along_axis(similarity, nearest, axis=1)
        order = np.argsort(-scores, axis=1, kind="stable")
        indices[start : start + block] = np.take_along_axis(nearest, order, axis=1)
        scores = np.take_along_axis(scores, order, axis=1)
        scores[:, 0] = 1.0
        distances[start : start + block] = np.maximum(1.0 - scores, 0.0)
    return indices, distances


def manifold_view(
    features: np.ndarray,
    *,
    n_components: int = 10,
    n_neighbors: int = 15,
    random_state: int = 42,
    exact_knn_rows: int = 50_000,
    n_epochs: int = 100,
) -> np.ndarray:
    """UMAP to `n_components` dimensions; the input unchanged when it is too small for a neighbourhood graph.

    The layout's cost is proportional to `n_epochs`; k-means only needs the clusters separated, not a
    converged picture, and 100 epochs cluster as well as 200 or 500 (bench/quality.py).
    """
    n_rows = features.shape[0]
    if n_rows <= max(n_neighbors + 1, n_components + 2):
        return features
    import warnings

    from threadpoolctl import threadpool_limits

    from kura_dagster.core.stages.umap_loader import import_umap

    umap = import_umap()

    knn = None
    if n_rows <= exact_knn_rows:
        with threadpool_limits(limits=1, user_api="blas"):  # as in lsa_view: faster when a core is busy
            indices, distances = cosine_knn(features, n_neighbors)
        knn = (indices, distances, None)
    reducer = umap.UMAP(
        n_components=n_components,
        n_neighbors=n_neighbors,
        min_dist=0.0,
        metric="cosine",
        random_state=random_state,
        n_jobs=1,
        n_epochs=n_epochs,
        precomputed_knn=knn or (None, None, None),
    )
    with warnings.catch_warnings():
        # Our exact kNN has no search index, so UMAP warns that `transform` of new data is unavailable;
        # the pipeline never transforms new data with this reducer.
        warnings.filterwarnings("ignore", message="precomputed_knn")
        return np.asarray(reducer.fit_transform(features), dtype=np.float32)


# ----------------------------------------------------------------------------------------- large inputs
# Above LARGE_INPUT_ROWS rows the views above cost too much: TF-IDF/LSA over every text, the character
# view (Python n-grams of every text) and UMAP over a k-nearest-neighbour graph all grow at least linearly
# with a large constant, the exact graph quadratically. `large_input_features` keeps the same idea
# (embeddings joined with a weighted word-LSA view) but fits every model on a seeded sample and streams the
# other rows through `transform`, and replaces the manifold step by a linear one (PCA), so memory stays at
# one chunk of text plus an n × `n_components` float32 matrix.

LARGE_INPUT_ROWS = 20_000


def seeded_sample(n_rows: int, size: int, random_state: int) -> np.ndarray:
    """Sorted row indices of a seeded sample without replacement (every row when `size >= n_rows`)."""
    if size >= n_rows:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(random_state).choice(n_rows, size=size, replace=False))


def large_input_features(
    embeddings: np.ndarray,
    texts: Sequence[str],
    *,
    lexical_weight: float = 0.4,
    lsa_components: int = 128,
    n_components: int = 48,
    fit_rows: int = 10_000,
    chunk_rows: int = 50_000,
    random_state: int = 42,
) -> np.ndarray:
    """n × `n_components` float32 rows: PCA of [unit embeddings, weighted unit word LSA], all models fit on
    `fit_rows` sampled rows, every row transformed chunk by chunk."""
    from sklearn.decomposition import PCA, TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    embeddings = np.asarray(embeddings, dtype=np.float32)
    n_rows = embeddings.shape[0]
    sample = seeded_sample(n_rows, fit_rows, random_state)
    lexical = None
    if lexical_weight > 0:
        try:
            # min_df=2: a term seen once in the sample (an order number, a typo) cannot group anything.
            vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2, dtype=np.float32)
            sample_tfidf = vectorizer.fit_transform([texts[i] for i in sample])
            components = min(lsa_components, sample_tfidf.shape[0] - 1, sample_tfidf.shape[1] - 1)
            if components >= 2:
                svd = TruncatedSVD(n_components=components, n_iter=3, random_state=random_state)
                lexical = (vectorizer, svd.fit(sample_tfidf))
        except ValueError:  # empty vocabulary: the embeddings alone
            lexical = None

    def joined(rows: np.ndarray) -> np.ndarray:
        views = [unit_rows(embeddings[rows])]
        if lexical is not None:
            vectorizer, svd = lexical
            reduced = svd.transform(vectorizer.transform([texts[i] for i in rows])).astype(np.float32)
            views.append(lexical_weight * unit_rows(reduced))
        return unit_rows(np.hstack(views)) if len(views) > 1 else views[0]

    fitted = joined(sample)
    dims = min(n_components, fitted.shape[1], len(sample))
    pca = PCA(n_components=dims, svd_solver="randomized", random_state=random_state).fit(fitted)
    out = np.empty((n_rows, dims), dtype=np.float32)
    for start in range(0, n_rows, chunk_rows):
        rows = np.arange(start, min(start + chunk_rows, n_rows))
        out[rows] = pca.transform(joined(rows))
    return out
