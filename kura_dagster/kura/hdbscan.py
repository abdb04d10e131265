"""Kura's `kura.hdbscan`."""

from kura_dagster.kura.cluster import HDBSCANClusteringModel

__all__ = ["HDBSCANClusteringModel"]
