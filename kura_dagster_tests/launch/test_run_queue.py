"""A backfill launched from the UI under `make dev` builds a dataset's taxonomy versions in date order.

What `make dev` does, for real: the instance kura writes (`dagster.yaml` in a temporary DAGSTER_HOME), an
asset backfill over three one-day ranges of one dataset created as the UI's "Materialize" of selected
partitions does, and Dagster's own daemon iterations (the backfill daemon's, then the run queue's) turning it
into runs that execute in processes of a code server. The queue may run two runs at once
(max_concurrent_runs 2), yet the dataset's runs must follow one another in date order, each version built
from the previous day's. The schedule's runs carry the same per-dataset tag, and a dagster.yaml of the
previous version gets the limit.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

from kura_dagster.core.settings import Settings
from kura_dagster.defs.partitions import partition_key
from kura_dagster.launch.backfills import FINISHED, IN_FLIGHT, code_location
from kura_dagster.launch.dagster_private import (
    BULK_ACTION_TERMINAL_STATUSES,
    PartitionBackfill,
    WorkspaceProcessContext,
)
from kura_dagster.launch.instance import LAUNCH_INSTANCE_YAML, ensure_instance_config, instance_yaml
from kura_dagster.launch.run_queue import DATASET_TAG, KuraRunCoordinator
from kura_dagster.launch.runs import kura_instance, register_datasets
from kura_dagster_tests.conftest import (
    assert_versions_continue_the_first,
    make_conversations,
    write_days,
    write_jsonl,
)

DAYS = ("2026-11-01", "2026-11-02", "2026-11-03")
# The assets up to the taxonomy: what the order matters for, and fewer steps keep the test short.
ASSETS = ("conversations", "summaries", "embeddings", "taxonomy", "topic_lineage")
DEADLINE_S = 50.0


def _backfill_from_the_ui(context: WorkspaceProcessContext, partition_keys: list[str]) -> str:
    """The backfill the UI's "Materialize" of selected assets and partitions creates (its GraphQL mutation
    `launchPartitionBackfill` builds this record); returns its id."""
    context.instance.add_backfill(
        PartitionBackfill.from_asset_partitions(
            backfill_id="uibackfl",
            asset_graph=context.create_request_context().asset_graph,
            partition_names=partition_keys,
            asset_selection=[AssetKey(name) for name in ASSETS],
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=context.instance,
            all_partitions=False,
            title=None,
            description=None,
            run_config=None,
        )
    )
    return "uibackfl"


def test_the_daemon_runs_a_datasets_date_ranges_one_at_a_time_in_date_order(
    kura_env: Path, monkeypatch: pytest.MonkeyPatch
):
    # Dagster's own daemon iterations, what `make dev`'s dagster-daemon runs again and again.
    from dagster._daemon.backfill import execute_backfill_iteration
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

    for name, value in {
        "KURA_PARTITIONS_PER_RUN": "1",  # three runs of one day each: the order across runs is what is tested
        "KURA_MAX_CONCURRENT": "2",  # as `make dev` writes it: room for two runs at once
        "KURA_TAXONOMY_WINDOW_DAYS": "2",
        "KURA_MIN_CLUSTER_SIZE": "1",
        "KURA_MIN_CLUSTER_USERS": "1",
        "KURA_MANIFOLD": "none",  # no UMAP: its first compilation alone (~30 s) would double the test's time
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    settings.prepare_home()
    write_days(settings.data_dir, "shop", DAYS)

    with kura_instance(settings) as instance:  # writes dagster.yaml as `make dev` does
        register_datasets(instance, ["shop"])
        log = logging.getLogger("daemon")
        queue_daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
        most_in_flight = 0
        with code_location(instance) as context:
            backfill_id = _backfill_from_the_ui(context, [partition_key("shop", day) for day in DAYS])
            started = time.monotonic()
            while True:
                list(execute_backfill_iteration(context, log))
                list(queue_daemon.run_iteration(context))
                runs = [
                    r.dagster_run
                    for r in instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill_id}))
                ]
                most_in_flight = max(most_in_flight, sum(1 for run in runs if run.status in IN_FLIGHT))
                if instance.get_backfill(backfill_id).status in BULK_ACTION_TERMINAL_STATUSES and all(
                    run.status in FINISHED for run in runs
                ):
                    break
                assert time.monotonic() - started < DEADLINE_S, [(run.tags, run.status) for run in runs]
                time.sleep(0.2)

        assert instance.get_backfill(backfill_id).status.value == "COMPLETED_SUCCESS"
        records = sorted(
            instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill_id})),
            key=lambda r: r.start_time,
        )
        assert [r.dagster_run.status for r in records] == [DagsterRunStatus.SUCCESS] * 3
        # One run of the dataset at a time (never two in progress, none starting before the previous ended)
        assert most_in_flight == 1
        for before, after in zip(records, records[1:]):
            assert after.start_time >= before.end_time, "two runs of the dataset overlapped"
        assert {r.dagster_run.tags.get(DATASET_TAG) for r in records} == {"shop"}  # what the queue limits
        # and in date order.
        assert [r.dagster_run.tags["dagster/asset_partition_range_start"] for r in records] == [
            partition_key("shop", day) for day in DAYS
        ]

        assert_versions_continue_the_first(settings.duckdb_path, DAYS)


def test_the_daily_schedules_runs_are_queued_with_their_dataset(kura_env: Path):
    """The schedule's runs (one partition each) are limited per dataset like a backfill's: Dagster's scheduler
    iteration, as the daemon runs it, creates yesterday's run of each dataset and queues it with its tag."""
    from dagster._scheduler.scheduler import launch_scheduled_runs

    settings = Settings.from_env()
    settings.prepare_home()
    for dataset in ("shop", "support"):
        write_jsonl(
            settings.data_dir / dataset / f"{DAYS[0]}.jsonl", make_conversations(per_theme=1, day=DAYS[0])
        )
    with kura_instance(settings) as instance:
        register_datasets(instance, ["shop", "support"])
        log = logging.getLogger("scheduler")
        now = datetime.now(timezone.utc)
        with code_location(instance) as context:
            list(launch_scheduled_runs(context, log, now, {}))  # the running schedule starts ticking now
            list(launch_scheduled_runs(context, log, now + timedelta(days=1), {}))  # a day later: its tick

        runs = instance.get_runs()
        assert sorted(
            (run.tags[DATASET_TAG], run.tags["dagster/partition/dataset"], run.status) for run in runs
        ) == [
            ("shop", "shop", DagsterRunStatus.QUEUED),
            ("support", "support", DagsterRunStatus.QUEUED),
        ]


def test_an_unedited_config_of_the_previous_version_gets_the_per_dataset_queue(tmp_path: Path):
    home = tmp_path / "dagster"
    home.mkdir()
    path = home / "dagster.yaml"
    path.write_text(LAUNCH_INSTANCE_YAML.format(max_concurrent_runs=3), encoding="utf-8")  # as kura wrote it

    ensure_instance_config(home, max_concurrent_runs=3)

    assert path.read_text() == instance_yaml(3)
    with DagsterInstance.from_config(str(home)) as loaded:
        assert isinstance(loaded.run_coordinator, KuraRunCoordinator)
        queue = loaded.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 3
        assert queue.tag_concurrency_limits == [
            {"key": DATASET_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
        ]
