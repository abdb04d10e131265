"""Kura's `kura.summarisation`: `SummaryModel` and `async summarise_conversations`, over core's summarisers.

`SummaryModel("openai/gpt-4o-mini")` asks core's OpenAI-compatible summariser (`core.llm.summaries`: Clio's
facets under a strict JSON schema, conversations scrubbed of personal data first); `SummaryModel("local")`
computes the facets on the machine (`core.stages.summaries.ExtractiveSummaryModel`). A conversation that
fails keeps its row with `error` set (Kura drops it); the cluster stage leaves it out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from kura_dagster.kura import _backend
from kura_dagster.kura.types import Conversation, ConversationSummary, GeneratedSummary


def custom_facets_of(response_schema: type[GeneratedSummary] | None) -> dict[str, dict]:
    """Kura's `response_schema` (a `GeneratedSummary` subclass) as core's custom facets: its extra fields."""
    if response_schema is None or response_schema is GeneratedSummary:
        return {}
    properties = response_schema.model_json_schema().get("properties", {})
    return {name: properties[name] for name in properties if name not in GeneratedSummary.model_fields}


class SummaryModel:
    """Kura's `SummaryModel(model=..., max_concurrent_requests=..., checkpoint_filename=..., console=...)`.

    `model="local"` summarises offline. Kura's `cache` argument is accepted and unused: every hosted answer
    is kept in core's response cache ($KURA_HOME/llm_cache.duckdb), so a repeated request makes no call.
    """

    def __init__(
        self,
        model: str = "openai/gpt-4o-mini",
        max_concurrent_requests: int = 50,
        checkpoint_filename: str = "summaries",
        console: Any = None,
        cache: Any = None,
    ) -> None:
        self.model = model
        self.max_concurrent_requests = max_concurrent_requests
        self._checkpoint_filename = checkpoint_filename
        self.console = console
        self.cache = cache

    @property
    def checkpoint_filename(self) -> str:
        return self._checkpoint_filename

    def core_model(self, custom_facets: dict[str, dict] | None = None):
        provider, name = _backend.parse_model(self.model)
        if provider == _backend.LOCAL:
            from kura_dagster.core.stages.summaries import ExtractiveSummaryModel

            return ExtractiveSummaryModel()
        from kura_dagster.core.llm.summaries import OpenAISummaryModel

        client = _backend.hosted_client(provider, chat_model=name, concurrency=self.max_concurrent_requests)
        return OpenAISummaryModel(client, custom_facets=custom_facets)

    async def summarise(
        self,
        conversations: Sequence[Conversation],
        *,
        response_schema: type[GeneratedSummary] | None = None,
        prompt: str | None = None,
        temperature: float = 0.2,
        **kwargs: Any,
    ) -> list[ConversationSummary]:
        if prompt is not None:
            raise ValueError(
                "summarise: a custom prompt is not supported (core keeps Clio's prompt and its injection "
                "guards); ask for extra facets with response_schema=<a GeneratedSummary subclass> instead"
            )
        model = self.core_model(custom_facets_of(response_schema))
        # Core's summarisers are synchronous (the hosted one runs its own event loop): a worker thread keeps
        # the caller's loop free.
        return await asyncio.to_thread(model.summarise, list(conversations))


async def summarise_conversations(
    conversations: Sequence[Conversation],
    *,
    model: SummaryModel,
    response_schema: type[GeneratedSummary] | None = None,
    prompt: str | None = None,
    temperature: float = 0.2,
    checkpoint_manager: Any = None,
    batch_size: int | None = None,
    sleep_seconds: float = 0.0,
    **kwargs: Any,
) -> list[ConversationSummary]:
    """Kura's stage: one summary per conversation, in input order; read from the checkpoint when it exists.

    `batch_size` conversations go to the model at a time, with `sleep_seconds` between batches (rate limits);
    answers already received are in the response cache, so a run stopped half way repeats no call.
    """
    if checkpoint_manager is not None:
        cached = checkpoint_manager.load_checkpoint(model.checkpoint_filename, ConversationSummary)
        if cached:
            _backend.say(model.console, f"Loaded {len(cached)} summaries from checkpoint")
            return cached
    conversations = list(conversations)
    size = batch_size or len(conversations) or 1
    summaries: list[ConversationSummary] = []
    for start in range(0, len(conversations), size):
        if start and sleep_seconds:
            await asyncio.sleep(sleep_seconds)
        batch = conversations[start : start + size]
        summaries += await model.summarise(
            batch, response_schema=response_schema, prompt=prompt, temperature=temperature, **kwargs
        )
        _backend.say(model.console, f"Summarised {len(summaries)}/{len(conversations)} conversations")
    failed = sum(summary.error is not None for summary in summaries)
    if failed:
        _backend.say(
            model.console, f"{failed} summaries failed: kept with their error, left out of clustering"
        )
    if checkpoint_manager is not None:
        checkpoint_manager.save_checkpoint(model.checkpoint_filename, summaries)
    return summaries


__all__ = ["GeneratedSummary", "SummaryModel", "summarise_conversations"]
