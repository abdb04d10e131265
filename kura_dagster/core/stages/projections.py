"""Stage 5: the tree → 2D positions (`reduce_dimensionality_from_clusters`).

Leaves are placed by UMAP of their centroids (cluster level, so a million conversations cost the same as
their few thousand clusters); a parent sits at the size-weighted mean of its leaves. Too few leaves for
UMAP's neighbourhood graph fall back to PCA, and one or two leaves to fixed positions.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from kura_dagster.core.tree import cluster_centroids, depth_first, leaves
from kura_dagster.core.types import Cluster, ConversationSummary, ProjectedCluster


@runtime_checkable
class DimensionalityReduction(Protocol):
    """Maps rows of a matrix to 2D points."""

    name: str

    def fit_transform(self, centroids: np.ndarray) -> np.ndarray: ...


class UMAPProjection:
    """Seeded UMAP; below `min_points_for_umap` points, PCA (UMAP needs a neighbourhood to work with)."""

    name = "umap"

    def __init__(
        self,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        random_state: int = 42,
        min_points_for_umap: int = 8,
        exact_knn_from: int = 256,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.random_state = random_state
        self.min_points_for_umap = min_points_for_umap
        # From this many points the neighbour graph is computed here, exactly, by blocked matrix products.
        # UMAP itself would, below 4,096 points, fill a full distance matrix calling its numba metric once
        # per pair from Python (minutes for 4,000 centroids), and above it compile and run NN-descent.
        self.exact_knn_from = exact_knn_from

    def fit_transform(self, centroids: np.ndarray) -> np.ndarray:
        n_points = centroids.shape[0]
        if n_points < self.min_points_for_umap:
            return fallback_layout(centroids)
        from kura_dagster.core.stages.umap_loader import import_umap

        umap = import_umap()

        n_neighbors = min(self.n_neighbors, n_points - 1)
        knn = (None, None, None)
        if n_points >= self.exact_knn_from:
            from kura_dagster.core.stages.features import cosine_knn
            from kura_dagster.core.vectors import unit_rows

            indices, distances = cosine_knn(unit_rows(np.asarray(centroids, dtype=np.float32)), n_neighbors)
            knn = (indices, distances, None)
        reducer = umap.UMAP(
            n_components=2,
            n_neighbors=n_neighbors,
            min_dist=self.min_dist,
            metric="cosine",
            random_state=self.random_state,
            n_jobs=1,  # a seeded UMAP is single-threaded anyway: same input, same map
            init="spectral" if n_points > 16 else "random",
            precomputed_knn=knn,
            # Without this UMAP ignores the precomputed graph below 4,096 points.
            force_approximation_algorithm=knn[0] is not None,
        )
        with warnings.catch_warnings():
            # A precomputed graph has no search index, so UMAP warns that `transform` is unavailable;
            # the map never transforms new points.
            warnings.filterwarnings("ignore", message="precomputed_knn")
            return np.asarray(reducer.fit_transform(centroids), dtype=np.float64)


def fallback_layout(points: np.ndarray) -> np.ndarray:
    """PCA to 2D for a handful of points; fixed spots for one or two."""
    n_points = points.shape[0]
    if n_points == 0:
        return np.zeros((0, 2))
    if n_points == 1:
        return np.zeros((1, 2))
    if n_points == 2:
        return np.array([[-1.0, 0.0], [1.0, 0.0]])
    from sklearn.decomposition import PCA

    layout = PCA(n_components=2, random_state=0).fit_transform(points)
    # PCA's sign is arbitrary; fix it so the same input always draws the same map.
    signs = np.sign(layout[np.argmax(np.abs(layout), axis=0), [0, 1]])
    return layout * np.where(signs == 0, 1.0, signs)


def reduce_dimensionality_from_clusters(
    clusters: Sequence[Cluster],
    summaries: Sequence[ConversationSummary],
    embeddings: np.ndarray,
    *,
    model: DimensionalityReduction,
) -> list[ProjectedCluster]:
    """Kura's stage of the same name: every tree node with x, y and its level, in depth-first order."""
    return project_tree(clusters, [summary.chat_id for summary in summaries], embeddings, model=model)


def project_tree(
    clusters: Sequence[Cluster],
    chat_ids: Sequence[str],
    embeddings: np.ndarray,
    *,
    model: DimensionalityReduction,
) -> list[ProjectedCluster]:
    """`reduce_dimensionality_from_clusters` given only the chat id of each embedding row: the map needs
    no facet, so the pipeline does not build a million summaries for it."""
    if not clusters:
        return []
    leaf_nodes = leaves(clusters)
    row_of_chat = {chat_id: row for row, chat_id in enumerate(chat_ids)}
    positions = model.fit_transform(cluster_centroids(leaf_nodes, row_of_chat, embeddings))
    leaf_position = {leaf.id: positions[i] for i, leaf in enumerate(leaf_nodes)}
    leaf_ids_under = _leaf_ids_under(clusters, {leaf.id for leaf in leaf_nodes})
    by_id = {c.id: c for c in clusters}
    projected = []
    for node, level in depth_first(clusters):
        under = leaf_ids_under[node.id]
        weights = np.array([by_id[leaf_id].count for leaf_id in under], dtype=np.float64)
        point = np.average(np.vstack([leaf_position[leaf_id] for leaf_id in under]), axis=0, weights=weights)
        projected.append(
            ProjectedCluster(
                **node.model_dump(exclude={"centroid"}),
                x_coord=float(point[0]),
                y_coord=float(point[1]),
                level=level,
            )
        )
    return projected


def _leaf_ids_under(clusters: Sequence[Cluster], leaf_ids: set[str]) -> dict[str, list[str]]:
    under: dict[str, list[str]] = {c.id: [] for c in clusters}
    parent = {c.id: c.parent_id for c in clusters}
    for leaf_id in sorted(leaf_ids):
        node_id: str | None = leaf_id
        while node_id is not None:
            under[node_id].append(leaf_id)
            node_id = parent[node_id]
    return under
