"""The whole pipeline on the hosted path, against the loopback OpenAI-compatible server."""

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from dagster import DagsterInstance, materialize

from kura_dagster.core.settings import Settings
from kura_dagster.core.storage import tables
from kura_dagster.core.tree import tree_problems
from kura_dagster.defs.assets import build_pipeline_assets
from kura_dagster.defs.partitions import DATASET_PARTITIONS, partition_key
from kura_dagster.defs.resources import resources_from_settings
from kura_dagster_tests.conftest import make_conversations, write_jsonl
from kura_dagster_tests.fake_openai import FakeOpenAIServer

DAY = "2026-11-01"
CANARY = "sk-canary-0123456789abcdef"
# Tests of the hierarchy's calls need every leaf named: with the default privacy thresholds most of the small
# leaves of these 48 conversations are hidden and there is no level left to build (tested in test_thresholds).
ALL_NAMED = dict(min_cluster_size=1, min_cluster_users=1)


@pytest.fixture
def hosted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    # Distinct contents: identical conversations would share one cached call (tested elsewhere).
    conversations = [
        c.model_copy(
            update={
                "messages": [
                    m.model_copy(update={"content": f"{m.content} (case {i})"}) if j == 0 else m
                    for j, m in enumerate(c.messages)
                ]
            }
        )
        for i, c in enumerate(make_conversations(per_theme=12, day=DAY))
    ]
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(DATASET_PARTITIONS.name, ["hosted"])

    def run(server: FakeOpenAIServer, **overrides):
        settings = Settings(
            home=tmp_path / "home",
            data_dir=tmp_path / "data",
            llm="openai",
            embeddings="openai",
            openai_base_url=server.base_url,
            llm_timeout_s=1.0,
            llm_backoff_s=0.01,
            **overrides,
        )
        settings.prepare_home()
        write_jsonl(settings.data_dir / "hosted" / f"{DAY}.jsonl", conversations)
        result = materialize(
            build_pipeline_assets(settings),
            partition_key=partition_key("hosted", DAY),
            instance=instance,
            resources=resources_from_settings(settings),
            raise_on_error=False,
        )
        return settings, result

    return conversations, run


def table(settings: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return connection.execute(sql.replace("kura.", "kura.kura.")).fetchall()


def usage(result, asset: str) -> dict:
    metadata = result.asset_materializations_for_node(asset)[0].metadata
    return {key: value.value for key, value in metadata.items() if key.startswith("llm_")}


def test_whole_pipeline_with_counted_calls_and_no_call_on_rerun(hosted):
    conversations, run = hosted
    with FakeOpenAIServer(embedding_dim=48, embedding_mode="bow") as server:
        settings, result = run(server, **ALL_NAMED)
        assert result.success
        n_clusters = table(settings, "SELECT count(*) FROM kura.base_clusters")[0][0]
        assert usage(result, "summaries")["llm_calls"] == len(conversations)  # one call per conversation
        assert (
            usage(result, "base_clusters")["llm_calls"] <= n_clusters
        )  # one naming call per cluster at most
        hierarchy = usage(result, "meta_clusters")
        assert 0 < hierarchy["llm_calls"] <= 4 * n_clusters + 4
        assert table(settings, "SELECT count(*) FROM kura.summaries WHERE error IS NULL")[0][0] == len(
            conversations
        )
        dims = result.asset_materializations_for_node("embeddings")[0].metadata["dimensions"].value
        assert dims == 48
        names = [r[0] for r in table(settings, "SELECT name FROM kura.base_clusters")]
        assert all(1 <= len(name.split()) <= 10 for name in names)
        tree = tables.clusters_from_arrow(
            pa.Table.from_pylist(
                [
                    dict(zip(("cluster_id", "parent_id", "name", "description", "slug", "chat_ids"), row))
                    for row in table(
                        settings,
                        "SELECT cluster_id, parent_id, name, description, slug, chat_ids "
                        "FROM kura.meta_clusters",
                    )
                ]
            )
        )
        assert tree_problems(tree) == [] and len(tree) > n_clusters  # a valid tree with Clio's parents
        metadata = result.asset_materializations_for_node("meta_clusters")[0].metadata
        assert metadata["hierarchy_fallback"].value is False
        calls_before = dict(server.calls)

        settings, again = run(server, **ALL_NAMED)
        assert again.success
        assert dict(server.calls) == calls_before  # zero summary, embedding, naming and hierarchy calls
        for asset in ("summaries", "embeddings", "base_clusters", "meta_clusters"):
            assert usage(again, asset)["llm_calls"] == 0, asset
        assert usage(again, "summaries")["llm_cache_hits"] == len(conversations)


def test_faults_in_a_quarter_of_calls_lose_no_conversation(hosted):
    conversations, run = hosted
    faults = ("429", "500", "timeout", "invalid_json", "reset")
    with FakeOpenAIServer(
        fault_rate=0.25, seed=11, timeout_sleep_s=3.0, embedding_mode="bow", faults=faults
    ) as server:
        settings, result = run(server)
        assert result.success
        assert sum(server.faults.values()) >= 0.2 * sum(server.calls.values()) * 0.5  # faults really happened
        assert set(server.faults) >= set(faults)
    rows = table(settings, "SELECT chat_id, error FROM kura.summaries")
    assert sorted(r[0] for r in rows) == sorted(c.chat_id for c in conversations)  # every conversation kept
    failed = [r[0] for r in rows if r[1] is not None]
    # A rerun against a healthy server asks again for the failed ones only.
    with FakeOpenAIServer(embedding_mode="bow") as healthy:
        settings, result = run(healthy)
        assert result.success
        assert usage(result, "summaries")["llm_calls"] == len(failed)
    assert table(settings, "SELECT count(*) FROM kura.summaries WHERE error IS NULL")[0][0] == len(
        conversations
    )


def test_custom_facets_flow_into_the_table(hosted):
    _, run = hosted
    facets = '{"sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]}}'
    with FakeOpenAIServer(embedding_mode="bow") as server:
        settings, result = run(server, custom_facets=facets)
        assert result.success
        first_request = next(r for r in server.requests if "response_format" in r)
        assert "sentiment" in first_request["response_format"]["json_schema"]["schema"]["required"]
    values = {
        r[0]
        for r in table(
            settings, "SELECT json_extract_string(custom_facets, '$.sentiment') FROM kura.summaries"
        )
    }
    assert values <= {"positive", "neutral", "negative"} and values


def test_budget_cap_stops_the_run_with_a_clear_error(hosted):
    _, run = hosted
    with FakeOpenAIServer() as server:
        settings, result = run(server, max_usd=0.5, prices={"gpt-4o-mini": (100000.0, 100000.0)})
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert "KURA_MAX_USD" in failure.step_failure_data.error.to_string()
        assert server.calls["chat"] < 10


def test_the_key_never_reaches_tables_or_metadata(hosted):
    _, run = hosted
    with FakeOpenAIServer(embedding_mode="bow") as server:
        settings, result = run(server)
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        for (name,) in connection.execute("SELECT table_name FROM information_schema.tables").fetchall():
            dump = str(connection.execute(f"SELECT * FROM kura.kura.{name}").fetchall())
            assert CANARY not in dump
    for event in result.all_events:
        assert CANARY not in str(event)


def test_hierarchy_falls_back_to_the_local_model_when_calls_fail(hosted):
    _, run = hosted

    def refuse_hierarchy(body):
        # Summaries and names work; every hierarchy prompt gets an answer that never fits its schema.
        prompt = " ".join(message["content"] for message in body["messages"])  # the re-ask too
        return "not json" if "categor" in prompt or "grouped under one parent" in prompt else None

    with FakeOpenAIServer(responder=refuse_hierarchy, embedding_mode="bow") as server:
        settings, result = run(server, **ALL_NAMED)
        assert result.success
    metadata = result.asset_materializations_for_node("meta_clusters")[0].metadata
    assert metadata["hierarchy_fallback"].value is True
    rows = table(settings, "SELECT cluster_id, parent_id, count FROM kura.meta_clusters")
    roots = [r for r in rows if r[1] is None]
    assert sum(r[2] for r in roots) == table(settings, "SELECT count(*) FROM kura.summaries")[0][0]


def test_azure_openai_deployments(tmp_path, monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", CANARY)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(DATASET_PARTITIONS.name, ["azure"])
    with FakeOpenAIServer(embedding_mode="bow") as server:
        settings = Settings(
            home=tmp_path / "home",
            data_dir=tmp_path / "data",
            llm="azure",
            embeddings="azure",
            azure_endpoint=server.azure_endpoint,
            azure_deployment="my-chat",
            azure_embedding_deployment="my-embeddings",
            llm_timeout_s=2.0,
        )
        write_jsonl(settings.data_dir / "azure" / f"{DAY}.jsonl", make_conversations(per_theme=4, day=DAY))
        result = materialize(
            build_pipeline_assets(settings),
            partition_key=partition_key("azure", DAY),
            instance=instance,
            resources=resources_from_settings(settings),
        )
        assert result.success
        assert server.calls["chat"] > 0 and server.calls["embeddings"] > 0
    models = {r[0] for r in table(settings, "SELECT model FROM kura.embeddings")}
    assert models == {"openai-my-embeddings"}


def test_a_missing_key_fails_at_once_with_the_setting_to_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(DATASET_PARTITIONS.name, ["nokey"])
    settings = Settings(home=tmp_path / "home", data_dir=tmp_path / "data", llm="openai", embeddings="local")
    write_jsonl(settings.data_dir / "nokey" / f"{DAY}.jsonl", make_conversations(per_theme=2, day=DAY))
    result = materialize(
        build_pipeline_assets(settings),
        partition_key=partition_key("nokey", DAY),
        instance=instance,
        resources=resources_from_settings(settings),
        raise_on_error=False,
    )
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "summaries"
    assert "OPENAI_API_KEY is not set" in failure.step_failure_data.error.to_string()
