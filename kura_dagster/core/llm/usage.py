"""What hosted calls cost: token counts per purpose and dollars from a price table."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

# US dollars per million tokens (input, output). Override with KURA_PRICES='{"model": [in, out]}' or a JSON file.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "text-embedding-3-small": (0.02, 0.0),
    "text-embedding-3-large": (0.13, 0.0),
    "text-embedding-ada-002": (0.10, 0.0),
}


@dataclass
class PriceTable:
    prices: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, tuple[float, float]]) -> "PriceTable":
        """The default prices, with `overrides` (KURA_PRICES, checked by the settings) on top."""
        table = cls()
        table.prices.update(overrides)
        return table

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """Dollars for one call; a model missing from the table costs 0 (self-hosted servers are free)."""
        price_in, price_out = self._lookup(model)
        return (prompt_tokens * price_in + completion_tokens * price_out) / 1_000_000

    def _lookup(self, model: str) -> tuple[float, float]:
        if model in self.prices:
            return self.prices[model]
        # Dated snapshots ("gpt-4o-mini-2024-07-18") cost what their family costs; longest prefix wins.
        matches = [name for name in self.prices if model.startswith(name)]
        return self.prices[max(matches, key=len)] if matches else (0.0, 0.0)


@dataclass
class Usage:
    """Counts of real calls (cache hits are counted apart) by purpose, tokens and dollars; thread-safe."""

    calls: dict[str, int] = field(default_factory=dict)
    cache_hits: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_call(self, purpose: str, prompt_tokens: int, completion_tokens: int, usd: float) -> None:
        with self._lock:
            self.calls[purpose] = self.calls.get(purpose, 0) + 1
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
            self.usd += usd

    def record_hit(self, purpose: str) -> None:
        with self._lock:
            self.cache_hits[purpose] = self.cache_hits.get(purpose, 0) + 1

    def record_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def record_failure(self) -> None:
        with self._lock:
            self.failures += 1

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def as_metadata(self) -> dict[str, object]:
        return {
            "llm_calls": self.total_calls,
            "llm_calls_by_purpose": json.dumps(self.calls, sort_keys=True),
            "llm_cache_hits": sum(self.cache_hits.values()),
            "llm_retries": self.retries,
            "llm_failures": self.failures,
            "llm_prompt_tokens": self.prompt_tokens,
            "llm_completion_tokens": self.completion_tokens,
            "llm_cost_usd": round(self.usd, 6),
        }
