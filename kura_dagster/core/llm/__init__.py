"""The hosted path: an OpenAI-compatible async client with concurrency, retries, a content-keyed cache,
usage and cost accounting, and the Clio procedures (summaries, contrastive names, hierarchy) built on it."""

from kura_dagster.core.llm.cache import ResponseCache
from kura_dagster.core.llm.client import BudgetExceeded, LLMClient, LLMError
from kura_dagster.core.llm.usage import PriceTable, Usage

__all__ = ["BudgetExceeded", "LLMClient", "LLMError", "PriceTable", "ResponseCache", "Usage"]
