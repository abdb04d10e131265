"""Kura's `kura.v1.visualization`: the same functions as `kura_dagster.kura.visualization`."""

from kura_dagster.kura.visualization import (
    visualise_clusters,
    visualise_clusters_enhanced,
    visualise_clusters_rich,
    visualise_from_checkpoint_manager,
    visualise_pipeline_results,
)

__all__ = [
    "visualise_clusters",
    "visualise_clusters_enhanced",
    "visualise_clusters_rich",
    "visualise_from_checkpoint_manager",
    "visualise_pipeline_results",
]
