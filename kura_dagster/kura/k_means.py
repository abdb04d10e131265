"""Kura's `kura.k_means`."""

from kura_dagster.kura.cluster import KmeansClusteringModel

__all__ = ["KmeansClusteringModel"]
