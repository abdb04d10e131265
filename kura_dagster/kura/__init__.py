"""A Kura-shaped facade over `kura_dagster.core`: Kura 0.5.4's module tree and call shapes, so that Kura's
Quick Start runs with `kura` replaced by `kura_dagster.kura` in its imports (README, "Coming from Kura").

    from kura_dagster.kura import summarise_conversations, CheckpointManager
    from kura_dagster.kura.summarisation import SummaryModel
    from kura_dagster.kura.types import Conversation

Submodules: `types`, `summarisation`, `embedding`, `cluster`, `meta_cluster`, `dimensionality`, `checkpoint`,
`checkpoints`, `visualization`, `v1`, `k_means`, `hdbscan`. Every model calls core's code (the hosted
client with its cache, retries, spending cap and cost counts, or the local models); nothing is
reimplemented here. Names are imported on first use, as in Kura: importing the package loads nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import Any

SUBMODULES = (
    "checkpoint",
    "checkpoints",
    "cluster",
    "dimensionality",
    "embedding",
    "hdbscan",
    "k_means",
    "meta_cluster",
    "summarisation",
    "types",
    "v1",
    "visualization",
)
_EXPORTS = {
    "CheckpointManager": "checkpoint",
    "JSONLCheckpointManager": "checkpoints",
    "ClusterDescriptionModel": "cluster",
    "ClusterModel": "cluster",
    "generate_base_clusters_from_conversation_summaries": "cluster",
    "HDBUMAP": "dimensionality",
    "reduce_dimensionality_from_clusters": "dimensionality",
    "LocalEmbeddingModel": "embedding",
    "OpenAIEmbeddingModel": "embedding",
    "embed_summaries": "embedding",
    "MetaClusterModel": "meta_cluster",
    "reduce_clusters_from_base_clusters": "meta_cluster",
    "SummaryModel": "summarisation",
    "summarise_conversations": "summarisation",
    "Conversation": "types",
    "visualise_pipeline_results": "visualization",
}


def __getattr__(name: str) -> Any:
    if name in SUBMODULES:
        value: Any = importlib.import_module(f"{__name__}.{name}")
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def usage() -> dict[str, object]:
    """LLM calls, cache hits, tokens and dollars of the hosted models used in this process so far."""
    from kura_dagster.kura._backend import usage as totals

    return totals()


__all__ = sorted({*SUBMODULES, *_EXPORTS, "usage"})
