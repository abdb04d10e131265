"""A backfill through `kura-dagster run`'s path builds a dataset's taxonomy versions in date order: with one day
per run, each run starts after the one before it ended, and each version continues the previous day's ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import RunsFilter

from kura_dagster import cli
from kura_dagster.core.settings import Settings
from kura_dagster.launch.runs import kura_instance
from kura_dagster_tests.conftest import assert_versions_continue_the_first, write_days

DAYS = ("2026-11-01", "2026-11-02", "2026-11-03")


def test_a_backfill_builds_the_versions_of_a_dataset_in_date_order(
    kura_env: Path, capsys, monkeypatch: pytest.MonkeyPatch
):
    for name, value in {
        "KURA_PARTITIONS_PER_RUN": "1",  # three runs of one day each: the order across runs is what is tested
        "KURA_TAXONOMY_WINDOW_DAYS": "2",
        "KURA_MIN_CLUSTER_SIZE": "1",
        "KURA_MIN_CLUSTER_USERS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    settings.prepare_home()
    write_days(settings.data_dir, "shop", DAYS)

    results = cli._run(settings, [("shop", day) for day in DAYS])
    out = capsys.readouterr().out
    assert all(r.success for r in results), [r.error for r in results]
    assert "Materialising the pipeline (6 stages, taxonomy, topic_assignments, topic_trends, report)" in out

    with kura_instance(settings) as instance:
        (backfill,) = instance.get_backfills()
        assert backfill.status.value == "COMPLETED_SUCCESS"  # the command waited for the whole backfill
        records = instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
        runs = sorted(records, key=lambda r: r.start_time)
        assert len(runs) == 3
        for before, after in zip(runs, runs[1:]):
            assert after.start_time >= before.end_time  # one run of the dataset at a time, in date order
        assert [r.dagster_run.tags["dagster/asset_partition_range_start"] for r in runs] == [
            f"shop|{day}" for day in DAYS
        ]

    assert_versions_continue_the_first(settings.duckdb_path, DAYS)
