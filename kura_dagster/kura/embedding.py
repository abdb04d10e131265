"""Kura's `kura.embedding`: `OpenAIEmbeddingModel`, a local one, and `async embed_summaries`.

Both embed through core (`core.llm.embeddings` with its cache keyed by text, or WordLlama, whose weights ship
in its wheel). A summary is embedded as core embeds it (`core.stages.embeddings.embedding_text`: the
request, with English glosses of other-language words), not as Kura's `str(summary)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np

from kura_dagster.kura import _backend
from kura_dagster.kura.types import ConversationSummary


class _EmbeddingModel:
    model_batch_size: int
    sleep_seconds: float

    def core_model(self):
        raise NotImplementedError

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return (await self.embed_array(texts)).tolist()

    async def embed_array(
        self, texts: Sequence[str], *, batch_size: int | None = None, sleep_seconds: float | None = None
    ) -> np.ndarray:
        """Unit vectors, `model_batch_size` texts per batch with `sleep_seconds` between batches (either
        overridden by the stage's own arguments)."""
        model, texts = self.core_model(), list(texts)
        size = batch_size or self.model_batch_size
        pause = self.sleep_seconds if sleep_seconds is None else sleep_seconds
        parts = []
        for start in range(0, len(texts), size):
            if start and pause:
                await asyncio.sleep(pause)
            batch = texts[start : start + size]
            parts.append(np.asarray(await asyncio.to_thread(model.embed, batch), dtype=np.float32))
        return np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32)


class OpenAIEmbeddingModel(_EmbeddingModel):
    """Kura's `OpenAIEmbeddingModel(model_name, model_batch_size, n_concurrent_jobs)`, plus the Quick Start's
    `sleep_seconds` (a pause between batches)."""

    def __init__(
        self,
        model_name: str = "text-embedding-3-small",
        model_batch_size: int = 50,
        n_concurrent_jobs: int = 5,
        sleep_seconds: float = 0.0,
        provider: str = "openai",
    ) -> None:
        self.model_name = model_name
        self.model_batch_size = model_batch_size
        self.n_concurrent_jobs = n_concurrent_jobs
        self.sleep_seconds = sleep_seconds
        self.provider = provider

    def slug(self) -> str:
        return f"openai:{self.model_name}-batchsize:{self.model_batch_size}"

    def core_model(self):
        from kura_dagster.core.llm.embeddings import OpenAIEmbeddingModel as CoreModel

        return CoreModel(_backend.hosted_client(self.provider, embedding_model=self.model_name))


class LocalEmbeddingModel(_EmbeddingModel):
    """WordLlama on the machine (core's local default): no network, no key."""

    def __init__(self, model_batch_size: int = 4096, sleep_seconds: float = 0.0) -> None:
        self.model_batch_size = model_batch_size
        self.sleep_seconds = sleep_seconds
        self._model = None

    def slug(self) -> str:
        return "wordllama"

    def core_model(self):
        if self._model is None:
            from kura_dagster.core.stages.embeddings import WordLlamaEmbeddingModel

            self._model = WordLlamaEmbeddingModel()
        return self._model


def summary_texts(summaries: Sequence[ConversationSummary]) -> list[str]:
    from kura_dagster.core.stages.embeddings import embedding_text

    return [embedding_text(summary) for summary in summaries]


async def embed_summaries(
    summaries: Sequence[ConversationSummary], embedding_model: Any
) -> list[dict[str, Any]]:
    """Kura's `embed_summaries`: `[{"item": summary, "embedding": vector}, ...]` in input order."""
    if not summaries:
        return []
    vectors = await embedding_model.embed(summary_texts(summaries))
    return [{"item": summary, "embedding": vector} for summary, vector in zip(summaries, vectors)]


__all__ = ["LocalEmbeddingModel", "OpenAIEmbeddingModel", "embed_summaries"]
