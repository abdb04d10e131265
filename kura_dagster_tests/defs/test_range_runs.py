"""One run over a date range (what the backfill policy launches) gives each day exactly what a run of
that day alone gives, with per-day metadata and per-day check results."""

from dagster import DagsterInstance, materialize

from kura_dagster.core.settings import Settings
from kura_dagster.core.storage.store import read_table
from kura_dagster.defs.assets import build_pipeline_assets
from kura_dagster.defs.checks import CHECKS, build_pipeline_checks
from kura_dagster.defs.partitions import DATASET_PARTITIONS, partition_key
from kura_dagster.defs.resources import resources_from_settings
from kura_dagster.launch.dagster_private import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from kura_dagster_tests.conftest import make_conversations, write_jsonl

DAYS = ["2026-11-01", "2026-11-02", "2026-11-03"]
TABLES = ["conversations", "summaries", "embeddings", "base_clusters", "meta_clusters", "projections"]


def _settings(root) -> Settings:
    settings = Settings(home=root / "home", data_dir=root / "data")
    settings.prepare_home()
    sizes = {DAYS[0]: 6, DAYS[1]: 0, DAYS[2]: 9}  # the middle day has no file: an empty, typed partition
    for day, per_theme in sizes.items():
        if per_theme:
            write_jsonl(
                settings.data_dir / "ranged" / f"{day}.jsonl",
                make_conversations(per_theme=per_theme, day=day),
            )
    return settings


def _instance() -> DagsterInstance:
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(DATASET_PARTITIONS.name, ["ranged"])
    return instance


def _rows(settings: Settings, table: str, day: str) -> list[dict]:
    rows = read_table(settings.duckdb_path, table, "ranged", day).to_pylist()
    return sorted(rows, key=lambda row: str(sorted(row.items())))


def test_a_date_range_in_one_run_equals_one_run_per_day(tmp_path):
    ranged, single = _settings(tmp_path / "ranged"), _settings(tmp_path / "single")
    instance = _instance()
    result = materialize(
        [*build_pipeline_assets(ranged), *build_pipeline_checks(ranged)],
        instance=instance,
        resources=resources_from_settings(ranged),
        tags={
            ASSET_PARTITION_RANGE_START_TAG: partition_key("ranged", DAYS[0]),
            ASSET_PARTITION_RANGE_END_TAG: partition_key("ranged", DAYS[-1]),
        },
    )
    assert result.success
    for day in DAYS:
        assert materialize(
            build_pipeline_assets(single),
            partition_key=partition_key("ranged", day),
            instance=_instance(),
            resources=resources_from_settings(single),
        ).success

    for table in TABLES:
        for day in DAYS:
            assert _rows(ranged, table, day) == _rows(single, table, day), (table, day)
    assert _rows(ranged, "conversations", DAYS[0]) and not _rows(ranged, "conversations", DAYS[1])

    # Each day's materialisation carries that day's own row count, not the run's total.
    counts = {
        (event.asset_key.to_user_string(), event.partition): event.materialization.metadata[
            "dagster/row_count"
        ].value
        for event in result.get_asset_materialization_events()
    }
    for day in DAYS:
        assert counts[("conversations", partition_key("ranged", day))] == len(
            _rows(ranged, "conversations", day)
        )

    # One evaluation per check and day, each recorded against its own partition.
    evaluations = result.get_asset_check_evaluations()
    assert {(e.check_name, e.partition) for e in evaluations} == {
        (check.rule.__name__, partition_key("ranged", day)) for check in CHECKS for day in DAYS
    }
    assert all(e.passed for e in evaluations)
