"""The facade's own behaviour, in process with the local models: checkpoints in Kura's shapes read back into
the pipeline's types, a later stage continuing in a fresh process from the checkpoints, and the one-line
errors a Kura user meets where the facade differs."""

from __future__ import annotations

import asyncio
import json

import pytest

from kura_dagster.core.storage import kura_format
from kura_dagster.core.types import ConversationSummary
from kura_dagster.kura import (
    HDBUMAP,
    CheckpointManager,
    ClusterModel,
    LocalEmbeddingModel,
    MetaClusterModel,
    SummaryModel,
    _backend,
    generate_base_clusters_from_conversation_summaries,
    reduce_clusters_from_base_clusters,
    reduce_dimensionality_from_clusters,
    summarise_conversations,
)
from kura_dagster.kura.types import GeneratedSummary
from kura_dagster_tests.conftest import make_conversations


def test_a_failed_summary_and_its_custom_facets_survive_a_checkpoint(tmp_path):
    manager = CheckpointManager(tmp_path / "checkpoints")
    failed = ConversationSummary(chat_id="a", metadata={"team": None, "tags": [1, "x"]}, error="timeout")
    fine = ConversationSummary(
        chat_id="b",
        summary="Asked for a refund.",
        metadata={"team": "red"},
        custom_facets={"team": "billing"},
    )
    manager.save_checkpoint("summaries", [failed, fine])
    lines = [
        json.loads(line) for line in (tmp_path / "checkpoints" / "summaries.jsonl").read_text().splitlines()
    ]
    assert lines[0]["concerning_score"] is None and lines[0]["metadata"] == {
        "tags": ["1", "x"],
        "summary_error": "timeout",
    }
    assert lines[1]["metadata"] == {"team": "red", "custom_facets": {"team": "billing"}}
    back = manager.load_checkpoint("summaries", ConversationSummary)
    assert back[0].error == "timeout" and back[1].custom_facets == {"team": "billing"}
    assert back[1].metadata == {"team": "red"} and back[1].summary == "Asked for a refund."


def test_later_stages_continue_in_a_fresh_process_from_the_checkpoints(tmp_path):
    conversations = make_conversations(per_theme=15)  # about 6 base clusters, so a level is built above them
    manager = CheckpointManager(tmp_path / "checkpoints")

    async def first_half():
        summaries = await summarise_conversations(
            conversations, model=SummaryModel(model="local"), checkpoint_manager=manager
        )
        cluster_model = ClusterModel(model="local", embedding_model=LocalEmbeddingModel())
        return await generate_base_clusters_from_conversation_summaries(
            summaries, model=cluster_model, checkpoint_manager=manager
        )

    clusters = asyncio.run(first_half())
    _backend._EMBEDDED.clear()  # what a new process starts with

    async def second_half():
        tree = await reduce_clusters_from_base_clusters(
            clusters, model=MetaClusterModel(model="local", max_clusters=2), checkpoint_manager=manager
        )
        return tree, await reduce_dimensionality_from_clusters(
            tree, model=HDBUMAP(), checkpoint_manager=manager
        )

    tree, projected = asyncio.run(second_half())
    assert len(tree) > len(clusters) and sum(node.parent_id is None for node in tree) <= 2
    assert {p.id for p in projected} == {node.id for node in tree}
    saved = manager.load_checkpoint("summaries", ConversationSummary)
    assert all(summary.embedding for summary in saved)  # the vectors the later stages read


def test_a_custom_prompt_is_refused_and_response_schema_asks_for_custom_facets():
    from kura_dagster.kura.summarisation import custom_facets_of

    class WithSentiment(GeneratedSummary):
        sentiment: str

    assert custom_facets_of(WithSentiment) == {"sentiment": {"title": "Sentiment", "type": "string"}}
    with pytest.raises(ValueError, match="response_schema"):
        asyncio.run(
            summarise_conversations(
                make_conversations(per_theme=1), model=SummaryModel(model="local"), prompt="Be brief."
            )
        )


def test_a_provider_the_facade_cannot_reach_is_named():
    with pytest.raises(ValueError, match="model 'anthropic/claude-3': use 'local'"):
        SummaryModel(model="anthropic/claude-3").core_model()
    assert kura_format.kura_metadata({"n": None, "d": {"a": 1}, "b": [True]}) == {
        "d": '{"a": 1}',
        "b": ["true"],
    }


def test_hosted_models_share_cores_cache_and_count_their_calls(tmp_path, monkeypatch):
    from kura_dagster.kura import usage
    from kura_dagster_tests.fake_openai import FakeOpenAIServer

    conversations = make_conversations(per_theme=1)
    monkeypatch.setenv("KURA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-facade")
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        before = usage()
        for _ in range(2):  # the second time, every answer comes from core's response cache
            summaries = asyncio.run(summarise_conversations(conversations, model=SummaryModel()))
        assert server.calls["chat"] == len(conversations) and all(s.error is None for s in summaries)
    after = usage()
    assert after["llm_calls"] - before.get("llm_calls", 0) == len(conversations)
    assert after["llm_cache_hits"] - before.get("llm_cache_hits", 0) == len(conversations)
    assert (tmp_path / "home" / "llm_cache.duckdb").exists()
