"""Stage 2: summaries → vectors (`embed_summaries`).

What is embedded is built on purpose from the facets (`embedding_text`): the request facet, which the local
summariser makes from all the user's turns without greetings, thanks and sign-offs (on MultiWOZ dialogues,
which mostly open with "Hello", the tree's top level went from 0.81 to 0.86-0.90 NMI against their domains,
bench/naming.py). Never a repr: ids, metadata and scores would pull conversations together for the wrong reasons.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kura_dagster.core.text import english_glosses, glossed_in_place
from kura_dagster.core.types import ConversationSummary


@runtime_checkable
class EmbeddingModel(Protocol):
    """Maps texts to unit-length vectors of a fixed dimension."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def embedding_text(summary: ConversationSummary) -> str:
    """The text that represents a conversation for clustering: what was asked, followed by the English words
    of the cross-lingual term map for its other-language words (`core.text.english_glosses`)."""
    return with_glosses(summary.request or summary.summary or "")


def with_glosses(text: str) -> str:
    """A non-English text as clustered: its term-map words in English where they stand, then those English
    words once more. Measured on the sample's non-English conversations sharing a leaf with their own theme
    (bench/naming.py, 3 seeds x 7 days): glosses appended only, support_bot 69% / coding_assistant 83%;
    replaced in place only, 78% / 82%; both, 91% / 87%."""
    glosses = english_glosses(text)
    return f"{glossed_in_place(text)}\n{glosses}" if glosses else text


def embedding_texts(summaries: pa.Table) -> list[str]:
    """`embedding_text` of every row of a summaries table, computed on the columns (no summary objects:
    a million of them are gigabytes)."""
    request = pc.fill_null(summaries.column("request"), "")
    summary = pc.fill_null(summaries.column("summary"), "")
    return [
        with_glosses(text) for text in pc.if_else(pc.not_equal(request, ""), request, summary).to_pylist()
    ]


def embed_summaries(
    summaries: Sequence[ConversationSummary],
    *,
    model: EmbeddingModel,
    batch_size: int = 4096,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Embed every summary; returns a float32 matrix with one row per summary, in input order."""
    texts = [embedding_text(summary) for summary in summaries]
    return embed_texts(texts, model=model, batch_size=batch_size, progress=progress)


def embed_texts(
    texts: Sequence[str],
    *,
    model: EmbeddingModel,
    batch_size: int = 4096,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Embed in batches so that memory stays bounded and progress can be reported."""
    chunks: list[np.ndarray] = []
    done = 0
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        chunks.append(np.asarray(model.embed(batch), dtype=np.float32))
        done += len(batch)
        if progress is not None:
            progress(done, len(texts))
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    return np.vstack(chunks)


class WordLlamaEmbeddingModel:
    """WordLlama static embeddings, loaded from the weights inside the `wordllama` wheel.

    Downloads are switched off: the model must come from the installed package, never from a hub.
    WordLlama's loader looks for the tokenizer under `<package>/tokenizer/`, a folder its wheel does
    not have (it ships `<package>/tokenizers/`); passing the package folder as `cache_dir` makes the
    loader find both files where they are.
    """

    def __init__(self, config: str = "l2_supercat", dim: int = 256) -> None:
        self.config = config
        self.dim = dim
        self._model = None  # loaded on first use: nothing heavy happens at construction

    @property
    def name(self) -> str:
        return f"wordllama-{self.config}-{self.dim}"

    def _load(self):
        if self._model is None:
            import wordllama
            from wordllama import WordLlama

            package_dir = Path(wordllama.__file__).parent
            self._model = WordLlama.load(
                config=self.config, dim=self.dim, cache_dir=package_dir, disable_download=True
            )
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._load().embed(list(texts), norm=True)
        return np.asarray(vectors, dtype=np.float32)


@functools.cache
def local_embedding_model() -> WordLlamaEmbeddingModel:
    """One WordLlama per process for the helpers that embed a few words or texts (the local namer's subject
    word): its weights load once."""
    return WordLlamaEmbeddingModel()
