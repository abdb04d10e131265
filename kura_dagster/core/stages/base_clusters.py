"""Stage 3: summaries + embeddings → base clusters
(`generate_base_clusters_from_conversation_summaries`).

Clustering methods implement `ClusteringMethod`: seeded k-means (the default, k from the data size and a
target cluster size) and HDBSCAN, whose noise becomes one explicit "Unclustered" node instead of a fake
topic. Names come from `naming` (c-TF-IDF keywords plus the most central request).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

import numpy as np

from kura_dagster.core.stages.embeddings import embedding_text
from kura_dagster.core.stages.features import (
    LARGE_INPUT_ROWS,
    clustering_features,
    large_input_features,
    manifold_view,
    seeded_sample,
)
from kura_dagster.core.stages.naming import (
    ClusterNamer,
    KeywordClusterNamer,
    cluster_id,
    slugify,
    unique_slugs,
)
from kura_dagster.core.types import UNCLUSTERED_NAME, Cluster, ConversationSummary

NOISE = -1


@runtime_checkable
class ClusteringMethod(Protocol):
    """Assigns a label to each row of a feature matrix; `NOISE` (-1) means "belongs to no cluster"."""

    name: str
    centre_features: bool  # cluster on centred features (`features.centred_rows`) rather than unit rows

    def fit_predict(self, features: np.ndarray) -> np.ndarray: ...


class KMeansClusteringMethod:
    """Seeded k-means with k = max(n / target_cluster_size, √(n/2)) rounded, or a fixed `n_clusters`, at most
    `max_clusters`.

    Above `large_input_rows` rows it switches to two-stage k-means (`two_stage_kmeans`): Lloyd's algorithm
    costs n·k per iteration, which for a million conversations and thousands of clusters is hours; splitting
    into √k coarse groups first and clustering inside each costs about n·2√k.

    Below it, on low-dimensional features (the UMAP output, at most `WARD_MAX_DIMS` columns), `init="ward"`
    starts Lloyd's iterations once from the centroids of a Ward tree cut at k (fit on at most `ward_rows`
    seeded rows): deterministic, and on Banking77/CLINC150 (seeds 0–4) +0.002 NMI on average over the best
    of 3 k-means++ starts at the same cost. Wider features, or `init="k-means++"`, use `n_init` seeded
    k-means++ starts.
    """

    name = "kmeans"
    centre_features = True  # measured: +0.003–0.005 NMI on Banking77/CLINC150 (features.centred_rows)
    # Ward's pairwise distances cost rows² × columns: 0.5 s for 4,500 rows at 10 columns, 2.8 s at 768.
    WARD_MAX_DIMS = 32

    def __init__(
        self,
        target_cluster_size: int = 30,
        n_clusters: int | None = None,
        random_state: int = 42,
        # 3 k-means++ starts: on the 10-dimensional UMAP output they reach the same NMI as 10 (Banking77,
        # CLINC150, seeds 0-4); the seeding, not Lloyd's iterations, was most of the k-means time.
        n_init: int = 3,
        max_clusters: int | None = None,
        large_input_rows: int = LARGE_INPUT_ROWS,
        init: str = "ward",
        # Ward's condensed distance matrix holds rows²/2 float64s: 100 MB at 5,000 rows.
        ward_rows: int = 5_000,
    ) -> None:
        self.target_cluster_size = target_cluster_size
        self.n_clusters = n_clusters
        self.random_state = random_state
        self.n_init = n_init
        self.max_clusters = max_clusters
        self.large_input_rows = large_input_rows
        if init not in ("ward", "k-means++"):
            raise ValueError(f"init={init!r}: expected 'ward' or 'k-means++'")
        self.init = init
        self.ward_rows = ward_rows

    def cluster_count(self, n_rows: int) -> int:
        # At least √(n/2) clusters (about √(2n) conversations each): a day of 120 conversations gets 8 topics,
        # not n / 30 = 4; from about 450 rows on (target 30) n / target is larger and rules.
        by_size = round(n_rows / max(self.target_cluster_size, 1))
        wanted = self.n_clusters or max(1, by_size, round(math.sqrt(n_rows / 2)))
        if self.max_clusters is not None:
            wanted = min(wanted, self.max_clusters)
        return max(1, min(wanted, n_rows))

    def fit_predict(self, features: np.ndarray) -> np.ndarray:
        n_rows = features.shape[0]
        if n_rows == 0:
            return np.zeros(0, dtype=np.int64)
        k = self.cluster_count(n_rows)
        if k == 1:
            return np.zeros(n_rows, dtype=np.int64)
        if n_rows > self.large_input_rows:
            return two_stage_kmeans(features, k, random_state=self.random_state)
        from sklearn.cluster import KMeans

        centres = self.ward_centres(features, k)
        if centres is not None:
            model = KMeans(n_clusters=k, init=centres, n_init=1, random_state=self.random_state)
        else:
            model = KMeans(n_clusters=k, random_state=self.random_state, n_init=self.n_init)
        with exact_kmeans_threads():
            return model.fit_predict(features).astype(np.int64)

    def fit_predict_from(
        self, features: np.ndarray, centres: np.ndarray, max_iter: int | None = None
    ) -> np.ndarray:
        """Labels of one k-means run whose Lloyd's iterations start at `centres` (k × d), renumbered densely.

        What a taxonomy rebuild uses (`core.stages.taxonomy`): started from the previous version's leaves,
        an unchanged window converges back to them, whatever the seed.
        """
        n_rows = features.shape[0]
        k = min(len(centres), n_rows)
        if k <= 1:
            return np.zeros(n_rows, dtype=np.int64)
        from sklearn.cluster import KMeans
        from sklearn.exceptions import ConvergenceWarning

        if max_iter is None:  # as two_stage_kmeans: a good start needs few of the n·k iterations at scale
            max_iter = 100 if n_rows <= self.large_input_rows else 25
        model = KMeans(
            n_clusters=k, init=centres[:k], n_init=1, random_state=self.random_state, max_iter=max_iter
        )
        with exact_kmeans_threads(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            labels = model.fit_predict(features)
        _, dense = np.unique(labels, return_inverse=True)
        return dense.astype(np.int64)

    def ward_centres(self, features: np.ndarray, k: int) -> np.ndarray | None:
        """k × d centroids of a Ward tree cut at k over a seeded sample, or None when Ward does not apply."""
        if self.init != "ward" or features.shape[1] > self.WARD_MAX_DIMS:
            return None
        sample = features[seeded_sample(features.shape[0], self.ward_rows, self.random_state)]
        if len(np.unique(sample, axis=0)) < k:  # fewer distinct rows than clusters: no k non-empty groups
            return None
        from sklearn.cluster import AgglomerativeClustering

        labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(sample)
        sums = np.zeros((k, sample.shape[1]), dtype=np.float64)
        np.add.at(sums, labels, sample)
        return (sums / np.bincount(labels, minlength=k)[:, None]).astype(features.dtype)


def exact_kmeans_threads() -> AbstractContextManager[object]:
    """A context in which scikit-learn's k-means gives bit-identical results: at most 2 OpenMP threads.

    Lloyd's iteration sums each thread's share of the new centres into the shared ones under a lock, in the
    order the threads finish. Two partial sums give a+b or b+a, the same float; three or more give
    (a+b)+c or (a+c)+b, which differ in the last bits. Measured on 20,000 rows × 10 dims (a bench day's
    features), k=667, one fixed start: 6 fits with 4 OpenMP threads gave 3 different sets of centres, with
    2 or 1 threads one. Centres a bit apart can move a row across a boundary or stop the iterations
    at another step (the labels happened to agree in that measurement; the centres did not).
    Costs nothing on a 2-core machine; larger ones cluster on 2 cores instead of all.
    """
    from sklearn.cluster import KMeans  # noqa: F401  (loads the OpenMP runtime, so it can be limited)
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    now = [pool.num_threads for pool in controller.select(user_api="openmp").lib_controllers]
    return controller.limit(limits=min([2, *now]), user_api="openmp")


def two_stage_kmeans(
    features: np.ndarray,
    k: int,
    *,
    random_state: int = 42,
    coarse_fit_rows: int = 50_000,
    n_init: int = 2,
    max_iter: int = 25,
) -> np.ndarray:
    """About `k` clusters: k-means into ⌈√k⌉ coarse groups (fit on a seeded sample, every row assigned),
    then k-means inside each group with a share of k proportional to its size. Labels are 0..k'-1 in
    coarse-group order; seeded, so the same input gives the same labels. `max_iter` bounds Lloyd's
    iterations: at thousands of small clusters the last iterations move a handful of points each."""
    with exact_kmeans_threads():
        return _two_stage_kmeans(
            features,
            k,
            random_state=random_state,
            coarse_fit_rows=coarse_fit_rows,
            n_init=n_init,
            max_iter=max_iter,
        )


def _two_stage_kmeans(
    features: np.ndarray, k: int, *, random_state: int, coarse_fit_rows: int, n_init: int, max_iter: int
) -> np.ndarray:
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    n_rows = features.shape[0]
    coarse_k = max(2, min(math.isqrt(k - 1) + 1, n_rows))
    sample = seeded_sample(n_rows, coarse_fit_rows, random_state)
    coarse = KMeans(n_clusters=coarse_k, random_state=random_state, n_init=n_init, max_iter=max_iter).fit(
        features[sample]
    )
    coarse_labels = coarse.predict(features)
    labels = np.empty(n_rows, dtype=np.int64)
    next_label = 0
    with warnings.catch_warnings():
        # Real traffic repeats itself ("hi", the same error message): a group can hold fewer distinct rows
        # than its share of k, which k-means reports as a warning per group; the unused labels are dropped below.
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        for group in range(coarse_k):
            rows = np.flatnonzero(coarse_labels == group)
            if len(rows) == 0:
                continue
            share = max(1, min(len(rows), round(k * len(rows) / n_rows)))
            if share == 1:
                labels[rows] = next_label
            else:
                fine = KMeans(
                    n_clusters=share, random_state=random_state + group, n_init=1, max_iter=max_iter
                )
                labels[rows] = next_label + fine.fit_predict(features[rows])
            next_label += share
    # A fine k-means can leave a label unused; renumber so labels stay dense.
    _, dense = np.unique(labels, return_inverse=True)
    return dense.astype(np.int64)


class HDBSCANClusteringMethod:
    """Density-based clusters (the `hdbscan` package); rows in no dense region are labelled NOISE."""

    name = "hdbscan"
    # Centring spreads topics apart, so an isolated conversation joins its nearest topic instead of the noise.
    centre_features = False

    def __init__(self, min_cluster_size: int = 5, min_samples: int | None = None) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples

    def fit_predict(self, features: np.ndarray) -> np.ndarray:
        n_rows = features.shape[0]
        if n_rows < max(self.min_cluster_size, 2):
            return np.full(n_rows, NOISE, dtype=np.int64)
        import hdbscan

        model = hdbscan.HDBSCAN(
            min_cluster_size=self.min_cluster_size,
            min_samples=self.min_samples,
            metric="euclidean",  # features are unit vectors: euclidean ranks like cosine
            core_dist_n_jobs=1,  # deterministic and polite on a 2-core machine
        )
        return model.fit_predict(features).astype(np.int64)


def groups_to_clusters(
    groups: Sequence[np.ndarray],
    summaries: Sequence[ConversationSummary],
    features: np.ndarray,
    *,
    namer: ClusterNamer,
    unclustered: np.ndarray | None = None,
) -> list[Cluster]:
    """Name each group of summary rows and make it a `Cluster`; noise rows become one "Unclustered" node."""
    names = namer.name_groups(groups, summaries, features) if groups else []
    clusters = []
    slugs = unique_slugs([slugify(name.keywords, f"cluster_{i}") for i, name in enumerate(names)])
    for rows, name, slug in zip(groups, names, slugs):
        chat_ids = sorted(summaries[i].chat_id for i in rows)
        clusters.append(
            Cluster(
                id=cluster_id(chat_ids),
                name=name.name,
                description=name.description,
                slug=slug,
                chat_ids=chat_ids,
            )
        )
    if unclustered is not None and len(unclustered):
        chat_ids = sorted(summaries[i].chat_id for i in unclustered)
        clusters.append(
            Cluster(
                id=cluster_id(chat_ids, prefix="noise"),
                name=UNCLUSTERED_NAME,
                description=f"{len(chat_ids)} conversations that fit no dense topic; kept together, not named.",
                slug="unclustered",
                chat_ids=chat_ids,
            )
        )
    return clusters


def rows_by_label(labels: np.ndarray) -> list[np.ndarray]:
    """Ascending row indices of each label except NOISE, labels in ascending order (one sort, not one
    scan of all rows per label: a million rows in thousands of clusters)."""
    if len(labels) == 0:
        return []
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    groups = np.split(order, starts[1:])
    return [rows for rows, label in zip(groups, sorted_labels[starts]) if label != NOISE]


def generate_base_clusters_from_conversation_summaries(
    summaries: Sequence[ConversationSummary],
    embeddings: np.ndarray,
    *,
    clustering_method: ClusteringMethod,
    namer: ClusterNamer | None = None,
    lexical_weight: float = 0.5,
    manifold: bool = True,
    random_state: int = 42,
    large_input_rows: int = LARGE_INPUT_ROWS,
) -> list[Cluster]:
    """Kura's stage of the same name: every summary lands in exactly one base cluster.

    Summaries with `error` set have no facets to cluster on; the caller leaves them out (they stay in
    the summaries table for a retry). Above `large_input_rows` summaries the features take the large-input
    path (`core.stages.features.large_input_features`).
    """
    if len(summaries) != embeddings.shape[0]:
        raise ValueError(f"{len(summaries)} summaries but {embeddings.shape[0]} embeddings")
    if not summaries:
        return []
    texts = [embedding_text(s) for s in summaries]
    if len(summaries) > large_input_rows:
        # Sampled fits and a linear projection instead of the manifold step (see core.stages.features).
        features = large_input_features(
            embeddings, texts, lexical_weight=lexical_weight, random_state=random_state
        )
        space = features
    else:
        features = clustering_features(
            embeddings,
            texts,
            lexical_weight=lexical_weight,
            random_state=random_state,
            centre=clustering_method.centre_features,
        )
        space = manifold_view(features, random_state=random_state) if manifold else features
    labels = clustering_method.fit_predict(space)
    groups = rows_by_label(labels)
    noise = np.flatnonzero(labels == NOISE)
    clusters = groups_to_clusters(
        groups, summaries, features, namer=namer or KeywordClusterNamer(), unclustered=noise
    )
    # Keep each topic's centroid in the clustering space: the hierarchy and the map group by it.
    centroids = [space[rows].mean(axis=0).astype(np.float32).tolist() for rows in groups]
    return [
        c.model_copy(update={"centroid": centroid}) for c, centroid in zip(clusters, centroids)
    ] + clusters[len(groups) :]
