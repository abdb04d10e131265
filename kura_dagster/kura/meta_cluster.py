"""Kura's `kura.meta_cluster`: `MetaClusterModel` and `async reduce_clusters_from_base_clusters`, over
`core.stages.meta_clusters` (Clio's LLM procedure when hosted, a weighted Ward hierarchy named by keywords
when `model="local"`)."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from kura_dagster.kura import _backend
from kura_dagster.kura.types import Cluster, ConversationSummary


class MetaClusterModel:
    """Kura's `MetaClusterModel(max_concurrent_requests, model, embedding_model, clustering_model,
    max_clusters, console)`: builds parents over the base clusters until at most `max_clusters` roots."""

    def __init__(
        self,
        max_concurrent_requests: int = 50,
        model: str = "openai/gpt-4o-mini",
        embedding_model: Any = None,
        clustering_model: Any = None,
        max_clusters: int = 10,
        console: Any = None,
        **kwargs: Any,
    ) -> None:
        self.max_concurrent_requests = max_concurrent_requests
        self.model = model
        self.embedding_model = embedding_model
        self.clustering_model = clustering_model
        self.max_clusters = max_clusters
        self.console = console

    @property
    def checkpoint_filename(self) -> str:
        return "meta_clusters"

    def core_model(self):
        provider, name = _backend.parse_model(self.model)
        if provider == _backend.LOCAL:
            from kura_dagster.core.stages.meta_clusters import AgglomerativeMetaClusterModel

            return AgglomerativeMetaClusterModel(max_roots=self.max_clusters)
        from kura_dagster.core.llm.hierarchy import ClioMetaClusterModel

        client = _backend.hosted_client(provider, chat_model=name, concurrency=self.max_concurrent_requests)
        return ClioMetaClusterModel(client, max_roots=self.max_clusters)


async def members_of(
    clusters: list[Cluster], checkpoint_manager: Any, embedding_model: Any
) -> tuple[list[ConversationSummary], np.ndarray]:
    """The summaries and embeddings of the clusters' conversations: those the cluster stage embedded in this
    process, else the summaries checkpoint's (the cluster stage fills their `embedding`), else the
    checkpointed summaries embedded again (from the response cache when hosted)."""
    chat_ids = sorted({chat_id for cluster in clusters for chat_id in cluster.chat_ids})
    found = _backend.recall(chat_ids)
    if found is not None:
        return found
    saved = (
        checkpoint_manager.load_checkpoint("summaries", ConversationSummary) if checkpoint_manager else None
    )
    by_id = {summary.chat_id: summary for summary in saved or []}
    missing = [chat_id for chat_id in chat_ids if chat_id not in by_id]
    if missing:
        raise ValueError(
            f"the clusters name {len(missing)} conversation(s) (first: {missing[0]}) that were not embedded in "
            "this process and are not in the summaries checkpoint: run "
            "generate_base_clusters_from_conversation_summaries first, or pass its checkpoint_manager"
        )
    from kura_dagster.kura.embedding import OpenAIEmbeddingModel, summary_texts

    summaries = [by_id[chat_id] for chat_id in chat_ids]
    if all(summary.embedding is not None for summary in summaries):  # the cluster stage's own vectors
        vectors = np.asarray([summary.embedding for summary in summaries], dtype=np.float32)
    else:
        vectors = await (embedding_model or OpenAIEmbeddingModel()).embed_array(summary_texts(summaries))
    _backend.remember(summaries, vectors)
    return summaries, vectors


async def reduce_clusters_from_base_clusters(
    clusters: list[Cluster], *, model: MetaClusterModel, checkpoint_manager: Any = None
) -> list[Cluster]:
    """Kura's stage: every node of the tree (the base clusters with `parent_id` set, and their parents),
    roots first; read from the checkpoint when it exists."""
    from kura_dagster.core.stages.meta_clusters import reduce_clusters_from_base_clusters as core_stage

    if checkpoint_manager is not None:
        cached = checkpoint_manager.load_checkpoint(model.checkpoint_filename, Cluster)
        if cached:
            _backend.say(model.console, f"Loaded {len(cached)} clusters of the tree from checkpoint")
            return cached
    summaries, vectors = await members_of(clusters, checkpoint_manager, model.embedding_model)
    nodes = await asyncio.to_thread(core_stage, clusters, summaries, vectors, model=model.core_model())
    roots = sum(node.parent_id is None for node in nodes)
    _backend.say(model.console, f"Built a tree of {len(nodes)} clusters, {roots} at the top")
    if checkpoint_manager is not None:
        checkpoint_manager.save_checkpoint(model.checkpoint_filename, nodes)
    return nodes


__all__ = ["MetaClusterModel", "reduce_clusters_from_base_clusters"]
