"""Fixtures shared by the core tests."""

import pytest

from kura_dagster.core.stages.embeddings import WordLlamaEmbeddingModel, embed_summaries
from kura_dagster.core.stages.summaries import ExtractiveSummaryModel
from kura_dagster_tests.conftest import make_conversations


@pytest.fixture(scope="module")
def stage_inputs():
    """Summaries and WordLlama vectors of 15 conversations per test theme (built once per test module)."""
    conversations = make_conversations(per_theme=15)
    summaries = ExtractiveSummaryModel().summarise(conversations)
    vectors = embed_summaries(summaries, model=WordLlamaEmbeddingModel())
    return summaries, vectors
