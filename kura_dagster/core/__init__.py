"""The procedural API: typed data, loaders and one function per stage, with no Dagster import.

    from kura_dagster.core import (
        Conversation, summarise_conversations, embed_summaries,
        generate_base_clusters_from_conversation_summaries,
        reduce_clusters_from_base_clusters, reduce_dimensionality_from_clusters,
        visualise_pipeline_results,
    )
"""

from kura_dagster.core.cluster import (
    HDBSCANClusteringMethod,
    KMeansClusteringMethod,
    generate_base_clusters_from_conversation_summaries,
)
from kura_dagster.core.embed import WordLlamaEmbeddingModel, embed_summaries, embedding_text
from kura_dagster.core.loaders import load_jsonl, load_kura_dump
from kura_dagster.core.meta_cluster import AgglomerativeMetaClusterModel, reduce_clusters_from_base_clusters
from kura_dagster.core.project import UMAPProjection, reduce_dimensionality_from_clusters
from kura_dagster.core.summarise import ExtractiveSummaryModel, summarise_conversations
from kura_dagster.core.types import Cluster, Conversation, ConversationSummary, Message, ProjectedCluster
from kura_dagster.core.visualise import visualise_pipeline_results

__all__ = [
    "AgglomerativeMetaClusterModel",
    "Cluster",
    "Conversation",
    "ConversationSummary",
    "ExtractiveSummaryModel",
    "HDBSCANClusteringMethod",
    "KMeansClusteringMethod",
    "Message",
    "ProjectedCluster",
    "UMAPProjection",
    "WordLlamaEmbeddingModel",
    "embed_summaries",
    "embedding_text",
    "generate_base_clusters_from_conversation_summaries",
    "load_jsonl",
    "load_kura_dump",
    "reduce_clusters_from_base_clusters",
    "reduce_dimensionality_from_clusters",
    "summarise_conversations",
    "visualise_pipeline_results",
]
