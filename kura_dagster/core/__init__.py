"""The procedural API: typed data, loaders and one function per stage, with no Dagster import.

from kura_dagster.core import (
    Conversation, summarise_conversations, embed_summaries,
    generate_base_clusters_from_conversation_summaries,
    reduce_clusters_from_base_clusters, reduce_dimensionality_from_clusters,
    visualise_pipeline_results,
)
"""

from __future__ import annotations

import importlib
from typing import Any

from kura_dagster.core.ingest.constructors import attach as _attach_kura_constructors

# Kura's spellings, `Conversation.from_jsonl(path)` and the like, whichever way `Conversation` is imported.
_attach_kura_constructors()

# Public name -> module. Imported on first use: `import kura_dagster.core.settings` (what loading the
# Dagster definitions needs) must not pay for scikit-learn, WordLlama or UMAP.
_EXPORTS = {
    "HDBSCANClusteringMethod": "stages.base_clusters",
    "KMeansClusteringMethod": "stages.base_clusters",
    "generate_base_clusters_from_conversation_summaries": "stages.base_clusters",
    "WordLlamaEmbeddingModel": "stages.embeddings",
    "embed_summaries": "stages.embeddings",
    "embedding_text": "stages.embeddings",
    "load_jsonl": "ingest.records",
    "load_kura_dump": "ingest.connectors",
    "AgglomerativeMetaClusterModel": "stages.meta_clusters",
    "reduce_clusters_from_base_clusters": "stages.meta_clusters",
    "UMAPProjection": "stages.projections",
    "reduce_dimensionality_from_clusters": "stages.projections",
    "ExtractiveSummaryModel": "stages.summaries",
    "summarise_conversations": "stages.summaries",
    "Cluster": "types",
    "Conversation": "types",
    "ConversationSummary": "types",
    "Message": "types",
    "ProjectedCluster": "types",
    "visualise_pipeline_results": "views.tree_view",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


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
