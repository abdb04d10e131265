"""What the facade's models share: Kura's model strings, the hosted client of `core.llm`, and the embedded
summaries the later stages need.

Kura names a model `provider/name` ("openai/gpt-4o-mini"); here `openai/...` and `azure/...` reach the
OpenAI-compatible client of `core.llm` (so the response cache, retries, the spending cap and cost counting
are core's), and `"local"` the local models (no network, no key). Endpoint, key, timeouts, cache file and
cap come from the settings (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, `KURA_HOME`, `KURA_MAX_USD`, ...).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from kura_dagster.core.types import ConversationSummary

LOCAL = "local"
HOSTED = ("openai", "azure")
_CLIENTS: dict[tuple, Any] = {}
_CACHES: dict[str, Any] = {}
# chat_id -> (summary, embedding) of the summaries the cluster stage embedded in this process. Kura's later
# stages take only clusters, but core's hierarchy and map are built from the members' summaries and vectors:
# they are kept here rather than embedded again (a stage run in another process reads them from the summaries
# checkpoint, whose `embedding` field the cluster stage fills).
_EMBEDDED: dict[str, tuple[ConversationSummary, np.ndarray]] = {}


def parse_model(model: str) -> tuple[str, str]:
    """`"openai/gpt-4o-mini"` -> ("openai", "gpt-4o-mini"); `"local"` -> ("local", "")."""
    if model == LOCAL:
        return LOCAL, ""
    provider, _, name = model.partition("/")
    if provider not in HOSTED or not name:
        raise ValueError(
            f"model {model!r}: use 'local' or an OpenAI-compatible endpoint as 'openai/<model>' or "
            "'azure/<deployment>' (set OPENAI_BASE_URL for vLLM, Ollama or another compatible server)"
        )
    return provider, name


def _settings(provider: str):
    from kura_dagster.core.settings import Settings

    return dataclasses.replace(Settings.from_env(), llm=provider, embeddings=provider)


def _make_sdk_client(settings, provider: str):
    import openai

    from kura_dagster.core.settings import read_setting  # secrets are read here, never kept in Settings

    if provider == "azure":
        azure_key = read_setting("AZURE_OPENAI_API_KEY")
        if not settings.azure_endpoint or not azure_key:
            raise ValueError(
                "AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY must be set for an 'azure/...' model"
            )
        return openai.AsyncAzureOpenAI(
            azure_endpoint=settings.azure_endpoint,
            api_key=azure_key,
            api_version=settings.azure_api_version,
            max_retries=0,  # core's client retries
        )
    key = read_setting("OPENAI_API_KEY")
    if not key and not settings.openai_base_url:
        raise ValueError("OPENAI_API_KEY is not set: set it, or OPENAI_BASE_URL for a self-hosted server")
    # Self-hosted servers often need no key; the SDK still wants a non-empty one.
    return openai.AsyncOpenAI(api_key=key or "no-key", base_url=settings.openai_base_url, max_retries=0)


def hosted_client(
    provider: str, *, chat_model: str | None = None, embedding_model: str | None = None, concurrency: int = 0
):
    """The `core.llm.client.LLMClient` for these models, one per process (they share the response cache)."""
    from kura_dagster.core.llm.cache import ResponseCache
    from kura_dagster.core.llm.client import LLMClient
    from kura_dagster.core.llm.usage import PriceTable

    settings = _settings(provider)
    chat = chat_model or settings.chat_model
    embedding = embedding_model or settings.hosted_embedding_model
    cache_path = str(settings.home / "llm_cache.duckdb")
    # The endpoint and cache are part of the key: a notebook that changes them gets a new client.
    key = (
        provider,
        chat,
        embedding,
        concurrency or settings.llm_concurrency,
        settings.openai_base_url,
        cache_path,
    )
    if key not in _CLIENTS:
        cache = _CACHES.setdefault(cache_path, ResponseCache(cache_path))
        _CLIENTS[key] = LLMClient(
            lambda: _make_sdk_client(settings, provider),
            chat_model=chat,
            embedding_model=embedding,
            embedding_dimensions=settings.embedding_dimensions or None,
            concurrency=key[3],
            timeout_s=settings.llm_timeout_s,
            backoff_base_s=settings.llm_backoff_s,
            cache=cache,
            prices=PriceTable.with_overrides(settings.prices),
            max_usd=settings.max_usd or None,
            seed=settings.seed,
        )
    return _CLIENTS[key]


def usage() -> dict[str, object]:
    """Calls, cache hits, tokens and dollars of every hosted model used in this process so far."""
    totals: dict[str, Any] = {}
    for client in _CLIENTS.values():
        for name, value in client.usage.as_metadata().items():
            if name == "llm_calls_by_purpose":
                merged = json.loads(totals.get(name, "{}"))
                for purpose, count in json.loads(value).items():
                    merged[purpose] = merged.get(purpose, 0) + count
                totals[name] = json.dumps(merged, sort_keys=True)
            else:
                totals[name] = totals.get(name, 0) + value
    return totals


def remember(summaries: Sequence[ConversationSummary], embeddings: np.ndarray) -> None:
    for summary, vector in zip(summaries, embeddings):
        _EMBEDDED[summary.chat_id] = (summary, vector)


def recall(chat_ids: Sequence[str]) -> tuple[list[ConversationSummary], np.ndarray] | None:
    """The summaries and embeddings of `chat_ids`, or None when one of them was not embedded here."""
    found = [_EMBEDDED.get(chat_id) for chat_id in chat_ids]
    if not found or any(item is None for item in found):
        return None
    return [item[0] for item in found], np.vstack([item[1] for item in found])


def say(console: Any, message: str) -> None:
    """One progress line on Kura's rich console, when the model was given one."""
    if console is not None:
        console.log(message)
