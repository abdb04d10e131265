import numpy as np

from kura_dagster.core.stages.embeddings import WordLlamaEmbeddingModel, embed_summaries, embedding_text
from kura_dagster.core.stages.summaries import ExtractiveSummaryModel
from kura_dagster.core.types import ConversationSummary


def test_wordllama_loads_from_the_wheel_and_embeds(conversations):
    summaries = ExtractiveSummaryModel().summarise(conversations)
    model = WordLlamaEmbeddingModel()
    vectors = embed_summaries(summaries, model=model, batch_size=10)
    assert vectors.shape == (len(summaries), 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    again = embed_summaries(summaries, model=WordLlamaEmbeddingModel())
    assert np.array_equal(vectors, again)  # deterministic
    # Same theme closer than other themes.
    pandas_rows = [i for i, s in enumerate(summaries) if s.chat_id.startswith("pandas")]
    refund_rows = [i for i, s in enumerate(summaries) if s.chat_id.startswith("refund")]
    within = float(vectors[pandas_rows[0]] @ vectors[pandas_rows[1]])
    across = float(vectors[pandas_rows[0]] @ vectors[refund_rows[0]])
    assert within > across


def test_embedding_text_carries_no_ids_or_metadata():
    summary = ConversationSummary(chat_id="secret-id-123", request="Fix my merge", task="Debug an error: merge",
                                  metadata={"user_id": "u-777"})
    text = embedding_text(summary)
    assert "Fix my merge" in text
    assert "secret-id-123" not in text and "u-777" not in text
