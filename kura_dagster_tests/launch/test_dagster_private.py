"""What the project relies on in Dagster's private API (`launch/dagster_private.py`), pinned: a Dagster
upgrade that changes any of it fails here, by name, rather than somewhere in a run."""

from __future__ import annotations

import inspect
import logging

from dagster import (
    AssetKey,
    DagsterRunStatus,
    DefaultRunLauncher,
    RunsFilter,
    instance_for_test,
)

from kura_dagster.launch import dagster_private as private


def test_the_run_tags_dagster_writes_are_the_ones_the_project_reads():
    # recovery.run_partitions_label and backfills.run_partition_keys read these tags of Dagster's runs.
    assert private.PARTITION_NAME_TAG == "dagster/partition"
    assert private.ASSET_PARTITION_RANGE_START_TAG == "dagster/asset_partition_range_start"
    assert private.ASSET_PARTITION_RANGE_END_TAG == "dagster/asset_partition_range_end"
    assert private.BACKFILL_ID_TAG == "dagster/backfill"


def test_the_backfill_record_is_made_and_ended_as_the_project_does():
    parameters = set(inspect.signature(private.PartitionBackfill.from_asset_partitions).parameters)
    assert {
        "backfill_id",
        "asset_graph",
        "partition_names",
        "asset_selection",
        "backfill_timestamp",
        "tags",
        "dynamic_partitions_store",
        "all_partitions",
        "title",
        "description",
        "run_config",
    } <= parameters
    for method in ("with_status", "with_end_timestamp"):
        assert callable(getattr(private.PartitionBackfill, method))
    assert private.BulkActionStatus.CANCELED in private.BULK_ACTION_TERMINAL_STATUSES
    assert private.BulkActionStatus.REQUESTED not in private.BULK_ACTION_TERMINAL_STATUSES
    iteration = list(inspect.signature(private.execute_backfill_iteration_with_instigation_logger).parameters)
    assert iteration[:4] == ["backfill", "logger", "workspace_process_context", "instance"]


def test_a_run_launcher_answers_run_monitoring_with_a_health_result():
    assert {status.name for status in private.WorkerStatus} >= {"RUNNING", "FAILED"}
    result = private.CheckRunHealthResult(private.WorkerStatus.FAILED, "gone")
    assert (result.status, result.msg) == (private.WorkerStatus.FAILED, "gone")
    # KuraRunLauncher overrides these two of the default launcher (the instance config names it).
    assert callable(DefaultRunLauncher.check_run_worker_health)
    assert isinstance(
        inspect.getattr_static(DefaultRunLauncher, "supports_check_run_worker_health"), property
    )
    assert "dagster_run" in private.LaunchRunContext._fields


# The code location the code server loads: a file of its own, so that the server's process needs nothing but
# Dagster (the tests package is not installed, so it could not import this module).
PINNED_LOCATION = """\
from dagster import AssetSelection, Definitions, StaticPartitionsDefinition, asset, define_asset_job


@asset(partitions_def=StaticPartitionsDefinition(["a", "b"]))
def letters() -> None:
    pass


defs = Definitions(assets=[letters], jobs=[define_asset_job("letters_job", AssetSelection.all())])
"""


def test_one_backfill_iteration_outside_the_daemon_creates_and_queues_the_runs(tmp_path, monkeypatch):
    """What `kura-dagster run` does without a daemon: a backfill record over a code location served by a code
    server, and one iteration of the backfill daemon's step, which submits one run per partition."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pinned_location.py").write_text(PINNED_LOCATION, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with instance_for_test(
        overrides={
            "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}
        }
    ) as instance:
        target = private.ModuleTarget(
            module_name="pinned_location", attribute=None, working_directory=str(tmp_path), location_name=None
        )
        with private.WorkspaceProcessContext(instance, target, code_server_log_level="WARNING") as context:
            asset_graph = context.create_request_context().asset_graph
            backfill = private.PartitionBackfill.from_asset_partitions(
                backfill_id="pinnedaa",
                asset_graph=asset_graph,
                partition_names=["a", "b"],
                asset_selection=[AssetKey("letters")],
                backfill_timestamp=0.0,
                tags={},
                dynamic_partitions_store=instance,
                all_partitions=False,
                title=None,
                description=None,
                run_config=None,
            )
            instance.add_backfill(backfill)
            errors = list(
                private.execute_backfill_iteration_with_instigation_logger(
                    instance.get_backfill("pinnedaa"), logging.getLogger("pinned"), context, instance
                )
            )
        assert [error for error in errors if error is not None] == []
        runs = instance.get_runs(RunsFilter(tags={private.BACKFILL_ID_TAG: "pinnedaa"}))
        assert sorted(run.tags[private.PARTITION_NAME_TAG] for run in runs) == ["a", "b"]
        assert {run.status for run in runs} == {DagsterRunStatus.QUEUED}
