"""Kura's `kura.dimensionality`: `HDBUMAP` and `async reduce_dimensionality_from_clusters`, over
`core.stages.projections` (seeded UMAP over the leaves' centroids; a parent sits at its leaves' mean)."""

from __future__ import annotations

import asyncio
from typing import Any

from kura_dagster.kura import _backend
from kura_dagster.kura.meta_cluster import members_of
from kura_dagster.kura.types import Cluster, ProjectedCluster


class HDBUMAP:
    """Kura's `HDBUMAP(embedding_model, n_components, min_dist, metric, n_neighbors)`, seeded
    (`random_state`) so the same tree gives the same map. Two components only: the map is 2D."""

    def __init__(
        self,
        embedding_model: Any = None,
        n_components: int = 2,
        min_dist: float = 0.1,
        metric: str = "cosine",
        n_neighbors: int | None = None,
        random_state: int = 42,
    ) -> None:
        if n_components != 2:
            raise ValueError(f"HDBUMAP: n_components={n_components}; the map has 2 components")
        self.embedding_model = embedding_model
        self.n_components = n_components
        self.min_dist = min_dist
        self.metric = metric
        self.n_neighbors = n_neighbors
        self.random_state = random_state

    @property
    def checkpoint_filename(self) -> str:
        return "dimensionality"

    def core_model(self):
        from kura_dagster.core.stages.projections import UMAPProjection

        return UMAPProjection(
            n_neighbors=self.n_neighbors or 15, min_dist=self.min_dist, random_state=self.random_state
        )


async def reduce_dimensionality_from_clusters(
    clusters: list[Cluster], *, model: HDBUMAP, checkpoint_manager: Any = None
) -> list[ProjectedCluster]:
    """Kura's stage: every node of the tree with `x_coord`, `y_coord` and `level`; read from the checkpoint
    when it exists."""
    from kura_dagster.core.stages.projections import reduce_dimensionality_from_clusters as core_stage

    if checkpoint_manager is not None:
        cached = checkpoint_manager.load_checkpoint(model.checkpoint_filename, ProjectedCluster)
        if cached:
            return cached
    summaries, vectors = await members_of(clusters, checkpoint_manager, model.embedding_model)
    projected = await asyncio.to_thread(core_stage, clusters, summaries, vectors, model=model.core_model())
    _backend.say(getattr(model, "console", None), f"Placed {len(projected)} clusters on the map")
    if checkpoint_manager is not None:
        checkpoint_manager.save_checkpoint(model.checkpoint_filename, projected)
    return projected


__all__ = ["HDBUMAP", "reduce_dimensionality_from_clusters"]
