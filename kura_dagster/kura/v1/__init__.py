"""Kura's `kura.v1` (the procedural API's earlier home, which the Quick Start imports from)."""

from kura_dagster.kura.cluster import generate_base_clusters_from_conversation_summaries
from kura_dagster.kura.dimensionality import reduce_dimensionality_from_clusters
from kura_dagster.kura.meta_cluster import reduce_clusters_from_base_clusters
from kura_dagster.kura.summarisation import summarise_conversations

__all__ = [
    "generate_base_clusters_from_conversation_summaries",
    "reduce_clusters_from_base_clusters",
    "reduce_dimensionality_from_clusters",
    "summarise_conversations",
]
