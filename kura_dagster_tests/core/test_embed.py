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
    summary = ConversationSummary(
        chat_id="secret-id-123",
        request="Fix my merge",
        task="Debug an error: merge",
        metadata={"user_id": "u-777"},
    )
    text = embedding_text(summary)
    assert "Fix my merge" in text
    assert "secret-id-123" not in text and "u-777" not in text


def test_other_language_requests_are_embedded_with_their_english_terms_and_join_their_theme():
    from collections import Counter
    from datetime import datetime, timezone

    from kura_dagster.core.stages.base_clusters import (
        KMeansClusteringMethod,
        generate_base_clusters_from_conversation_summaries,
    )
    from kura_dagster.core.stages.embeddings import embedding_texts
    from kura_dagster.core.storage import tables
    from kura_dagster.core.types import Conversation, Message
    from kura_dagster_tests.conftest import THEMES

    foreign = {
        "refund": [
            "Quiero un reembolso, el pedido llegó roto y quiero mi dinero",
            "Je voudrais un remboursement, la commande est arrivée cassée",
            "Ich möchte eine Rückerstattung, die Bestellung kam kaputt an",
            "Quero um reembolso, o pedido chegou quebrado",
        ],
        "password": [
            "Olvidé mi contraseña y no me llega el correo para restablecer",
            "J'ai oublié mon mot de passe, le lien pour réinitialiser n'arrive pas",
            "Passwort vergessen, die E-Mail zum Zurücksetzen kommt nicht an",
            "Esqueci minha senha e não recebo o e-mail para redefinir",
        ],
    }
    stamp = datetime(2026, 11, 1, tzinfo=timezone.utc)
    conversations = [
        Conversation(
            chat_id=f"{theme}-{lang}-{i}", created_at=stamp, messages=[Message(role="user", content=text)]
        )
        for theme in ("refund", "password")
        for lang, texts in (("en", THEMES[theme] * 4), ("xx", foreign[theme]))
        for i, text in enumerate(texts)
    ]
    summaries = ExtractiveSummaryModel().summarise(conversations)
    spanish = next(s for s in summaries if s.chat_id == "refund-xx-0")
    # In place, so that the English words are not outnumbered by the Spanish ones, and once more after.
    assert embedding_text(spanish).startswith("Quiero un refund, el order arrived broken y quiero mi money")
    assert embedding_text(spanish).endswith("refund order arrived broken money")
    assert embedding_texts(tables.summaries_to_arrow(summaries, model="m")) == [
        embedding_text(s) for s in summaries
    ]

    vectors = embed_summaries(summaries, model=WordLlamaEmbeddingModel())
    clusters = generate_base_clusters_from_conversation_summaries(
        summaries, vectors, clustering_method=KMeansClusteringMethod(n_clusters=2, random_state=0)
    )
    for cluster in clusters:  # grouped by what they ask, whatever the language
        themes = Counter(chat.split("-")[0] for chat in cluster.chat_ids)
        assert len(themes) == 1, themes
