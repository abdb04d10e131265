"""Embeddings from an OpenAI-compatible endpoint (`EmbeddingModel`), batched and cached by text."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kura_dagster.core.llm.client import LLMClient


class OpenAIEmbeddingModel:
    """`text-embedding-3-small` by default; `dimensions` (when set) is sent to the API and recorded."""

    def __init__(self, client: LLMClient) -> None:
        self.client = client

    @property
    def name(self) -> str:
        dimensions = f"-{self.client.embedding_dimensions}" if self.client.embedding_dimensions else ""
        return f"openai-{self.client.embedding_model}{dimensions}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.client.run(self.client.embed(list(texts)))
