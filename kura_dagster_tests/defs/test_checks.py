"""Asset checks run with the pipeline and block what must not flow downstream."""

from pathlib import Path

from dagster import DagsterInstance, materialize

from kura_dagster.core.settings import Settings
from kura_dagster.core.types import Conversation, Message
from kura_dagster.defs.assets import build_pipeline_assets
from kura_dagster.defs.checks import CHECKS, build_pipeline_checks
from kura_dagster.defs.partitions import DATASET_PARTITIONS, partition_key
from kura_dagster.defs.resources import resources_from_settings
from kura_dagster_tests.conftest import make_conversations, write_jsonl

DAY = "2026-11-01"


def run(tmp_path: Path, conversations: list[Conversation]):
    settings = Settings(home=tmp_path / "home", data_dir=tmp_path / "data")
    settings.prepare_home()
    write_jsonl(settings.data_dir / "checked" / f"{DAY}.jsonl", conversations)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(DATASET_PARTITIONS.name, ["checked"])
    return materialize(
        [*build_pipeline_assets(settings), *build_pipeline_checks(settings)],
        partition_key=partition_key("checked", DAY),
        instance=instance,
        resources=resources_from_settings(settings),
        raise_on_error=False,
    )


def test_every_check_passes_on_a_healthy_partition(tmp_path):
    result = run(tmp_path, make_conversations(per_theme=10, day=DAY))
    assert result.success
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {check.rule.__name__ for check in CHECKS}
    assert all(evaluations.values())


def test_a_failing_blocking_check_stops_the_stages_downstream(tmp_path):
    good = make_conversations(per_theme=3, day=DAY)
    # Assistant-only conversations cannot be summarised: a third of the rows get an error.
    bot_only = [
        Conversation(
            chat_id=f"bot-{i}",
            created_at=f"{DAY}T12:00:00Z",
            messages=[Message(role="assistant", content="Hello! How can I help?")],
        )
        for i in range(6)
    ]
    result = run(tmp_path, good + bot_only)
    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["every_conversation_has_a_summary"].passed  # the failed ones still have their rows
    assert not evaluations["summary_error_rate_is_low"].passed
    materialised = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert "summaries" in materialised and "embeddings" not in materialised
