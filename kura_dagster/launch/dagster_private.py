"""Every private Dagster API (`dagster._...`) the project uses, in one place; `test_dagster_private.py` pins
what is relied on, so that a Dagster upgrade that changes it fails there, loudly, and nowhere else.

Why private: dagster 1.13 has no public Python API to create an asset backfill or to progress one without the
daemon (`dagster job backfill` needs a daemon; the GraphQL client needs a running webserver), nor to write a
run launcher with a health check, which the instance config names by module and class.

What is relied on:

* `PartitionBackfill.from_asset_partitions(...)` makes the record that the UI's "Materialize" of selected
  partitions makes (`DagsterInstance.add_backfill` stores it); its `status`, `with_status`,
  `with_end_timestamp`, `error` and `asset_backfill_data.target_subset` are read back, and
  `BulkActionStatus` / `BULK_ACTION_TERMINAL_STATUSES` say whether it is over.
* `execute_backfill_iteration_with_instigation_logger(backfill, logger, workspace_context, instance)` is one
  step of the backfill daemon for one backfill: it creates the backfill's runs and submits them to the queue,
  yielding error infos (or None).
* `WorkspaceProcessContext(instance, ModuleTarget(...), code_server_log_level=...)` serves the code location
  (a code server process) the way `dagster dev -w workspace.yaml` does.
* `CheckRunHealthResult(WorkerStatus.RUNNING | FAILED, message)` is what a run launcher's
  `check_run_worker_health(run)` answers to run monitoring; `LaunchRunContext.dagster_run` is the run launched.
* The run tags Dagster writes: a run's partition (`dagster/partition`), its partition range
  (`dagster/asset_partition_range_start` / `_end`) and its backfill (`dagster/backfill`).
"""

from dagster._core.execution.backfill import (
    BULK_ACTION_TERMINAL_STATUSES,
    BulkActionStatus,
    PartitionBackfill,
)
from dagster._core.launcher.base import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
    PARTITION_NAME_TAG,
)
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.backfill import execute_backfill_iteration_with_instigation_logger

__all__ = [
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "BACKFILL_ID_TAG",
    "BULK_ACTION_TERMINAL_STATUSES",
    "PARTITION_NAME_TAG",
    "BulkActionStatus",
    "CheckRunHealthResult",
    "LaunchRunContext",
    "ModuleTarget",
    "PartitionBackfill",
    "WorkerStatus",
    "WorkspaceProcessContext",
    "execute_backfill_iteration_with_instigation_logger",
]
