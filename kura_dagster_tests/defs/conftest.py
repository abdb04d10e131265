"""Fixtures of the Dagster-layer tests."""

from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize

from kura_dagster.core.settings import Settings
from kura_dagster.defs.assets import build_pipeline_assets
from kura_dagster.defs.partitions import DATASET_PARTITIONS, partition_key
from kura_dagster.defs.resources import resources_from_settings
from kura_dagster_tests.conftest import make_conversations, write_jsonl

DAY = "2026-11-01"


@pytest.fixture
def pipeline(tmp_path: Path):
    settings = Settings(home=tmp_path / "home", data_dir=tmp_path / "data")
    settings.prepare_home()
    conversations = make_conversations(per_theme=15, day=DAY)
    write_jsonl(settings.data_dir / "demo" / f"{DAY}.jsonl", conversations)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(DATASET_PARTITIONS.name, ["demo"])

    def run(day: str = DAY):
        result = materialize(
            build_pipeline_assets(settings),
            partition_key=partition_key("demo", day),
            instance=instance,
            resources=resources_from_settings(settings),
        )
        assert result.success
        return result

    return settings, conversations, run
