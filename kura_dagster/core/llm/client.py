"""An async client for any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, vLLM, Ollama).

What it adds to the `openai` SDK, whose own retries are switched off so that these rules hold:
- a concurrency limit (a semaphore; default 20 calls in flight);
- retries with exponential backoff on 429 (honouring `Retry-After`), 5xx, timeouts and connection
  errors; an answer that is not valid JSON for the schema is asked again once, with the error;
- the response cache (no call for a request already answered) and a spending cap checked before each
  call (`BudgetExceeded`), with usage and dollars counted per purpose.

The SDK client is created lazily on first use: nothing connects at import or construction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kura_dagster.core.llm.cache import ResponseCache, request_key
from kura_dagster.core.llm.usage import PriceTable, Usage
from kura_dagster.core.vectors import unit_rows

PROMPT_VERSION = "clio-v1"


class LLMError(RuntimeError):
    """A call that still failed after every retry."""


class BudgetExceeded(LLMError):
    """The next call would take spending past KURA_MAX_USD."""


class InvalidAnswer(ValueError):
    """The model answered, but not with JSON that fits the schema."""


def _retry_after_seconds(error: Exception) -> float | None:
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(float(value) * scale, 0.0)
            except ValueError:
                continue
    return None


def _is_retryable(error: Exception) -> bool:
    import openai

    if isinstance(error, (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError)):
        return True
    if isinstance(error, openai.APIStatusError):
        return error.status_code >= 500 or error.status_code in (408, 409)
    return isinstance(error, (asyncio.TimeoutError, ConnectionError))


class LLMClient:
    """Chat with JSON-schema output and embeddings, with limits, retries, cache and cost.

    Parameters
    ----------
    make_sdk_client:
        Builds the `openai.AsyncOpenAI` (or `AsyncAzureOpenAI`) client; called once, on first use.
    chat_model, embedding_model:
        Model names (deployment names on Azure); they are part of every cache key.
    """

    def __init__(
        self,
        make_sdk_client: Callable[[], Any],
        *,
        chat_model: str = "gpt-4o-mini",
        embedding_model: str = "text-embedding-3-small",
        embedding_dimensions: int | None = None,
        concurrency: int = 20,
        max_attempts: int = 6,
        timeout_s: float = 60.0,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        cache: ResponseCache | None = None,
        prices: PriceTable | None = None,
        max_usd: float | None = None,
        max_completion_tokens: int = 1024,
        embedding_batch_size: int = 256,
        seed: int = 42,
    ) -> None:
        self.make_sdk_client = make_sdk_client
        self.chat_model = chat_model
        self.embedding_model = embedding_model
        self.embedding_dimensions = embedding_dimensions
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.cache = cache
        self.prices = prices or PriceTable()
        self.max_usd = max_usd
        self.max_completion_tokens = max_completion_tokens
        self.embedding_batch_size = embedding_batch_size
        self.usage = Usage()
        self._jitter = random.Random(seed)
        self._sdk = None
        self._semaphore: asyncio.Semaphore | None = None
        self._loop = None
        self._reserved_usd = 0.0
        self._in_flight: dict[str, asyncio.Future] = {}

    # -- plumbing -----------------------------------------------------------------------------------

    def _client(self):
        if self._sdk is None:
            # One INFO line per HTTP request would drown the run's log; failures are reported by us.
            for name in ("httpx", "httpx2", "openai"):
                logging.getLogger(name).setLevel(logging.WARNING)
            self._sdk = self.make_sdk_client()
        return self._sdk

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            # A semaphore belongs to one event loop; each `run` gets a fresh one.
            self._semaphore = asyncio.Semaphore(self.concurrency)
            self._loop = loop
        return self._semaphore

    def run(self, coroutine):
        """Run a coroutine to completion from synchronous code (a Dagster asset, the CLI)."""

        async def main():
            try:
                return await coroutine
            finally:
                # The SDK's HTTP pool belongs to this event loop: close it before the loop ends.
                if self._sdk is not None:
                    await self._sdk.close()
                    self._sdk = None

        try:
            return asyncio.run(main())
        finally:
            if self.cache is not None:
                self.cache.flush()

    @contextlib.contextmanager
    def _budget(self, prompt_chars: int, completion_tokens: int, model: str):
        """Reserve the worst-case cost of a call while it is in flight, so parallel calls cannot overshoot."""
        estimate = self.prices.cost(model, prompt_chars // 3 + 1, completion_tokens)
        if self.max_usd is not None and self.usage.usd + self._reserved_usd + estimate > self.max_usd:
            raise BudgetExceeded(
                f"stopping before exceeding KURA_MAX_USD={self.max_usd:.4f}: spent {self.usage.usd:.4f} so far "
                f"and the next call may cost up to {estimate:.4f}; finished answers are cached and will be reused"
            )
        self._reserved_usd += estimate
        try:
            yield
        finally:
            self._reserved_usd -= estimate

    async def _with_retries(self, make_call: Callable[[], Any]):
        attempt = 0
        while True:
            attempt += 1
            try:
                return await make_call()
            except Exception as error:  # classified below; anything else is a bug and propagates
                if not _is_retryable(error) or attempt >= self.max_attempts:
                    self.usage.record_failure()
                    raise LLMError(f"{type(error).__name__} after {attempt} attempt(s): {error}") from error
                self.usage.record_retry()
                delay = _retry_after_seconds(error)
                if delay is None:
                    delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
                    delay *= 0.5 + self._jitter.random()
                await asyncio.sleep(delay)

    # -- chat ---------------------------------------------------------------------------------------

    async def chat_json(
        self,
        messages: Sequence[dict[str, str]],
        *,
        schema: dict,
        schema_name: str,
        purpose: str,
        validate: Callable[[dict], Any] | None = None,
        temperature: float = 0.0,
    ) -> dict:
        """One structured answer: JSON that fits `schema` (and passes `validate`, which may raise)."""
        key = request_key(
            kind="chat",
            model=self.chat_model,
            messages=list(messages),
            schema=schema,
            temperature=temperature,
            prompt_version=PROMPT_VERSION,
        )
        if self.cache is not None:
            cached = self.cache.get_chat(key)
            if cached is not None:
                self.usage.record_hit(purpose)
                return json.loads(cached)
        # Identical requests in flight at the same time share one call (two identical conversations).
        pending = self._in_flight.get(key)
        if pending is not None and pending.get_loop() is asyncio.get_running_loop():
            self.usage.record_hit(purpose)
            return dict(await asyncio.shield(pending))
        task = asyncio.ensure_future(
            self._answer(key, messages, schema, schema_name, purpose, validate, temperature)
        )
        self._in_flight[key] = task
        try:
            return dict(await task)
        finally:
            self._in_flight.pop(key, None)

    async def _answer(self, key, messages, schema, schema_name, purpose, validate, temperature) -> dict:
        conversation = list(messages)
        for asking in (1, 2):  # a wrong answer is asked again once, with what was wrong
            content = await self._chat_call(conversation, schema, schema_name, purpose, temperature)
            try:
                answer = json.loads(content)
                if not isinstance(answer, dict):
                    raise InvalidAnswer("the answer is not a JSON object")
                if validate is not None:
                    validate(answer)
                break
            except (ValueError, InvalidAnswer) as error:
                if asking == 2:
                    self.usage.record_failure()
                    raise LLMError(f"invalid answer after a second request: {error}") from error
                conversation = conversation + [
                    {"role": "assistant", "content": content[:2000]},
                    {
                        "role": "user",
                        "content": f"That answer was invalid ({str(error)[:300]}). "
                        "Reply again with only a JSON object that fits the schema.",
                    },
                ]
        if self.cache is not None:
            self.cache.put_chat(key, self.chat_model, purpose, json.dumps(answer), 0, 0)
        return answer

    async def _chat_call(self, messages, schema, schema_name, purpose, temperature) -> str:
        async with self._gate():
            prompt_chars = sum(len(m["content"]) for m in messages)
            with self._budget(prompt_chars, self.max_completion_tokens, self.chat_model):
                response = await self._with_retries(
                    lambda: self._client().chat.completions.create(
                        model=self.chat_model,
                        messages=messages,
                        temperature=temperature,
                        max_tokens=self.max_completion_tokens,
                        response_format={
                            "type": "json_schema",
                            "json_schema": {"name": schema_name, "schema": schema, "strict": True},
                        },
                        timeout=self.timeout_s,
                    )
                )
        usage = getattr(response, "usage", None)
        prompt_tokens = getattr(usage, "prompt_tokens", 0) or 0
        completion_tokens = getattr(usage, "completion_tokens", 0) or 0
        self.usage.record_call(
            purpose,
            prompt_tokens,
            completion_tokens,
            self.prices.cost(self.chat_model, prompt_tokens, completion_tokens),
        )
        return response.choices[0].message.content or ""

    # -- embeddings ---------------------------------------------------------------------------------

    def _embedding_key(self, text: str) -> str:
        return request_key(
            kind="embedding", model=self.embedding_model, dimensions=self.embedding_dimensions, text=text
        )

    async def embed(self, texts: Sequence[str], *, purpose: str = "embedding") -> np.ndarray:
        """Unit vectors for `texts`, in order; cached texts are not sent again."""
        keys = [self._embedding_key(text) for text in texts]
        found = self.cache.get_vectors(sorted(set(keys))) if self.cache is not None else {}
        for key in keys:
            if key in found:
                self.usage.record_hit(purpose)
        missing = sorted({key: text for key, text in zip(keys, texts) if key not in found}.items())
        batches = [
            missing[i : i + self.embedding_batch_size]
            for i in range(0, len(missing), self.embedding_batch_size)
        ]
        for result in await asyncio.gather(*(self._embed_batch(batch, purpose) for batch in batches)):
            found.update(result)
        if not texts:
            return np.zeros((0, self.embedding_dimensions or 0), dtype=np.float32)
        return unit_rows(np.vstack([found[key] for key in keys]).astype(np.float32))

    async def _embed_batch(self, batch: list[tuple[str, str]], purpose: str) -> dict[str, np.ndarray]:
        inputs = [text if text.strip() else " " for _, text in batch]  # the API rejects empty strings
        async with self._gate():
            extra = {"dimensions": self.embedding_dimensions} if self.embedding_dimensions else {}
            with self._budget(sum(len(t) for t in inputs), 0, self.embedding_model):
                response = await self._with_retries(
                    lambda: self._client().embeddings.create(
                        model=self.embedding_model, input=inputs, timeout=self.timeout_s, **extra
                    )
                )
        prompt_tokens = getattr(getattr(response, "usage", None), "prompt_tokens", 0) or 0
        self.usage.record_call(
            purpose, prompt_tokens, 0, self.prices.cost(self.embedding_model, prompt_tokens, 0)
        )
        vectors = {
            batch[item.index][0]: np.asarray(item.embedding, dtype=np.float32) for item in response.data
        }
        if self.cache is not None:
            self.cache.put_vectors(self.embedding_model, list(vectors.items()))
        return vectors
