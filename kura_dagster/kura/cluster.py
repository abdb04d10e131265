"""Kura's `kura.cluster`: `ClusterDescriptionModel` (alias `ClusterModel`, the Quick Start's name),
`KmeansClusteringModel` and `async generate_base_clusters_from_conversation_summaries`, over
`core.stages.base_clusters` (clusters on the embeddings plus the summaries' words) and core's namers
(Clio's contrastive LLM naming when hosted, keyword naming when `model="local"`)."""

from __future__ import annotations

import asyncio
from typing import Any

from kura_dagster.core.stages.base_clusters import HDBSCANClusteringMethod, KMeansClusteringMethod
from kura_dagster.kura import _backend
from kura_dagster.kura.embedding import OpenAIEmbeddingModel, summary_texts
from kura_dagster.kura.types import Cluster, ConversationSummary


class KmeansClusteringModel(KMeansClusteringMethod):
    """Kura's k-means: about `clusters_per_group` conversations a cluster (core's seeded k-means)."""

    def __init__(self, clusters_per_group: int = 10) -> None:
        super().__init__(target_cluster_size=clusters_per_group)


class HDBSCANClusteringModel(HDBSCANClusteringMethod):
    """Kura's HDBSCAN clustering (`kura.hdbscan`)."""


class ClusterDescriptionModel:
    """Names base clusters. `model="local"` names them from their shared phrases, without an LLM.

    The Quick Start's arguments are kept: `embedding_model` (default `OpenAIEmbeddingModel()`, or
    `LocalEmbeddingModel()`), `clustering_method` (default `KmeansClusteringModel()`), `console`.
    """

    def __init__(
        self,
        model: str = "openai/gpt-4o-mini",
        max_concurrent_requests: int = 50,
        temperature: float = 0.2,
        checkpoint_filename: str = "clusters",
        console: Any = None,
        embedding_model: Any = None,
        clustering_method: Any = None,
    ) -> None:
        self.model = model
        self.max_concurrent_requests = max_concurrent_requests
        self.temperature = temperature
        self._checkpoint_filename = checkpoint_filename
        self.console = console
        self.embedding_model = embedding_model
        self.clustering_method = clustering_method

    @property
    def checkpoint_filename(self) -> str:
        return self._checkpoint_filename

    def namer(self):
        provider, name = _backend.parse_model(self.model)
        if provider == _backend.LOCAL:
            from kura_dagster.core.stages.naming import KeywordClusterNamer

            return KeywordClusterNamer()
        from kura_dagster.core.llm.naming import ContrastiveClusterNamer

        client = _backend.hosted_client(provider, chat_model=name, concurrency=self.max_concurrent_requests)
        return ContrastiveClusterNamer(client)


ClusterModel = ClusterDescriptionModel


def attach_embeddings(checkpoint_manager: Any, summaries: list[ConversationSummary], vectors) -> None:
    """Fill the `embedding` field (Kura's own) of the summaries checkpoint: a later stage run in another
    process finds its members' vectors there instead of embedding them again."""
    saved = checkpoint_manager.load_checkpoint("summaries", ConversationSummary)
    if not saved:
        return
    vector_of = {summary.chat_id: vector for summary, vector in zip(summaries, vectors)}
    checkpoint_manager.save_checkpoint(
        "summaries",
        [
            s.model_copy(update={"embedding": vector_of[s.chat_id].tolist()}) if s.chat_id in vector_of else s
            for s in saved
        ],
    )


async def generate_base_clusters_from_conversation_summaries(
    summaries: list[ConversationSummary],
    embedding_model: Any = None,
    clustering_method: Any = None,
    clustering_model: ClusterDescriptionModel | None = None,
    checkpoint_manager: Any = None,
    max_contrastive_examples: int = 10,
    prompt: str | None = None,
    *,
    model: ClusterDescriptionModel | None = None,
    batch_size: int | None = None,
    sleep_seconds: float = 0.0,
    **kwargs: Any,
) -> list[Cluster]:
    """Kura's stage: base clusters of the summaries (those that did not fail), named; read from the checkpoint
    when it exists. `model=` (the Quick Start) and `clustering_model=` (Kura 0.5.4) name the same thing;
    `batch_size` summaries are embedded at a time, with `sleep_seconds` between batches."""
    from kura_dagster.core.stages.base_clusters import (
        generate_base_clusters_from_conversation_summaries as core_stage,
    )

    model = model or clustering_model or ClusterDescriptionModel()
    if checkpoint_manager is not None:
        cached = checkpoint_manager.load_checkpoint(model.checkpoint_filename, Cluster)
        if cached:
            _backend.say(model.console, f"Loaded {len(cached)} clusters from checkpoint")
            return cached
    usable = [summary for summary in summaries if summary.error is None]
    if not usable:
        raise ValueError("no summary to cluster: every conversation failed to summarise (see their error)")
    embedder = embedding_model or model.embedding_model or OpenAIEmbeddingModel()
    vectors = await embedder.embed_array(
        summary_texts(usable), batch_size=batch_size, sleep_seconds=sleep_seconds or None
    )
    _backend.say(model.console, f"Embedded {len(usable)} summaries")
    _backend.remember(usable, vectors)
    if checkpoint_manager is not None:
        attach_embeddings(checkpoint_manager, usable, vectors)
    method = clustering_method or model.clustering_method or KmeansClusteringModel()
    clusters = await asyncio.to_thread(
        core_stage, usable, vectors, clustering_method=method, namer=model.namer()
    )
    _backend.say(model.console, f"Built {len(clusters)} base clusters")
    if checkpoint_manager is not None:
        checkpoint_manager.save_checkpoint(model.checkpoint_filename, clusters)
    return clusters


__all__ = [
    "ClusterDescriptionModel",
    "ClusterModel",
    "HDBSCANClusteringModel",
    "KmeansClusteringModel",
    "generate_base_clusters_from_conversation_summaries",
]
