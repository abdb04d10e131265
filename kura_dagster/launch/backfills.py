"""Backfills of the pipeline's assets from the command line, through the same machinery as the UI.

`kura-dagster run` creates a real Dagster *asset backfill* in the persistent instance (the record that the
UI's "Materialize" of selected partitions makes, via the GraphQL mutation `launchPartitionBackfill`), so it
shows on the UI's Backfills page with its runs, and Dagster applies the assets' backfill policy: a
dataset's date range goes in runs of up to KURA_PARTITIONS_PER_RUN days. Who turns it into runs:

* a running `dagster-daemon` (`make dev`): its backfill daemon submits the runs to the run queue and its
  run-queue daemon launches them within the instance's limits; the command only watches and prints
  progress;
* no daemon: the command does the daemon's two jobs for *this* backfill only, then exits:
  it runs the backfill daemon's iteration for this backfill (runs are created and submitted to the
  queue exactly as the daemon does) and launches the queued runs of this backfill through the
  instance's run launcher, at most `max_concurrent` at a time. Each run executes in its own process,
  started by a code server of the same code location as workspace.yaml (`kura_dagster.definitions`).

Why internal APIs: dagster 1.13 has no public Python API to create a backfill or to progress one without
the daemon (`dagster job backfill` submits every run to the queue, which then needs a daemon; the GraphQL
API needs a running webserver). They come from `launch/dagster_private.py`, which says what is relied on:
`PartitionBackfill` and `BulkActionStatus` (the backfill record),
`execute_backfill_iteration_with_instigation_logger` (the backfill daemon's step, run here for one backfill),
`WorkspaceProcessContext` and `ModuleTarget` (the code location). Runs are created, queued and launched by
public `DagsterInstance` methods (`add_backfill`, `submit_run` inside the iteration, `launch_run`) and read
with `get_run_records`.
"""

from __future__ import annotations

import logging
import os
import random
import string
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    PartitionKeyRange,
    PartitionsDefinition,
    RunsFilter,
)

from kura_dagster.defs.names import GROUP, POOL
from kura_dagster.launch.dagster_private import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
    BULK_ACTION_TERMINAL_STATUSES,
    PARTITION_NAME_TAG,
    BulkActionStatus,
    ModuleTarget,
    PartitionBackfill,
    WorkspaceProcessContext,
    execute_backfill_iteration_with_instigation_logger,
)
from kura_dagster.launch.recovery import (
    free_slots,
    kill_leftover_children,
    process_alive,
    recover_dead_runs,
    run_process,
    runs_here,
    slot_holders,
    stop_runs,
)

# The module workspace.yaml loads, with no location name: the code location then has the same name
# ("kura_dagster.definitions") as in `dagster dev -w workspace.yaml`, so the UI links these runs to it.
DEFINITIONS_MODULE = "kura_dagster.definitions"
LAUNCHED_BY_TAG = "kura/launched_by"
# How often a waiting command looks for dead runs (they would hold the DuckDB slot forever).
HEALTH_CHECK_EVERY_S = 5.0
# The daemons write a heartbeat every 30 s; older than this and we assume no daemon is running.
DAEMON_HEARTBEAT_MAX_AGE_S = 75.0
DAEMON_TYPES = ("BACKFILL", "QUEUED_RUN_COORDINATOR")
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
IN_FLIGHT = {DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING}
NOT_LAUNCHED = {DagsterRunStatus.NOT_STARTED, DagsterRunStatus.QUEUED}
# The runs print Dagster's step-by-step log only at WARNING on the console (it stays complete in the UI).
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

_log = logging.getLogger("kura_dagster.backfill")


class BackfillError(RuntimeError):
    """The backfill could not be created or Dagster gave up on it."""


@dataclass(frozen=True)
class FinishedRun:
    """A finished run of the backfill and the partitions it covered (one, or a date range)."""

    partition_keys: tuple[str, ...]
    run_id: str
    success: bool
    seconds: float
    error: str | None = None


@contextmanager
def code_location(instance: DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    """The project's code location, served by a code server process for as long as the context lasts."""
    target = ModuleTarget(
        module_name=DEFINITIONS_MODULE, attribute=None, working_directory=os.getcwd(), location_name=None
    )
    with ExitStack() as stack:
        context = stack.enter_context(
            WorkspaceProcessContext(instance, target, code_server_log_level="WARNING")
        )
        try:
            errors = context.create_request_context().code_location_errors()
            if errors:
                raise BackfillError(f"cannot load {DEFINITIONS_MODULE}: {errors[0].message.strip()}")
            yield context
        except KeyboardInterrupt:
            # The code server waits for its run workers before it exits, and a worker may not exit on its
            # own: after Ctrl-C nothing this command started may outlive it. Shutting the server down may
            # fail when the terminal's Ctrl-C already stopped it; the kill below is what counts.
            with suppress(Exception):
                stack.close()
            kill_leftover_children()
            raise


def daemon_is_running(instance: DagsterInstance, max_age_s: float = DAEMON_HEARTBEAT_MAX_AGE_S) -> bool:
    """True when a dagster-daemon (e.g. of `dagster dev`) is progressing backfills and the run queue."""
    heartbeats = instance.get_daemon_heartbeats()
    now = time.time()
    return all(kind in heartbeats and now - heartbeats[kind].timestamp <= max_age_s for kind in DAEMON_TYPES)


def submit_backfill(
    context: WorkspaceProcessContext,
    partition_keys: Sequence[str],
    *,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
) -> str:
    """Create an asset backfill of the pipeline's assets over `partition_keys` (REQUESTED); returns its id."""
    asset_graph = context.create_request_context().asset_graph
    selection = _pipeline_assets(asset_graph)
    # An id as Dagster makes them (eight lower-case letters), which the UI shows in its backfill links.
    backfill_id = "".join(random.choice(string.ascii_lowercase) for _ in range(8))
    context.instance.add_backfill(
        PartitionBackfill.from_asset_partitions(
            backfill_id=backfill_id,
            asset_graph=asset_graph,
            partition_names=list(partition_keys),
            asset_selection=selection,
            backfill_timestamp=time.time(),
            tags=dict(tags or {}),
            dynamic_partitions_store=context.instance,
            all_partitions=False,
            title=None,
            description=description,
            run_config=QUIET_RUN_CONFIG,
        )
    )
    return backfill_id


def _pipeline_assets(asset_graph) -> list:
    """The keys of the pipeline's assets (its group) in the code location's asset graph."""
    selection = sorted(
        key for key in asset_graph.materializable_asset_keys if asset_graph.get(key).group_name == GROUP
    )
    if not selection:
        raise BackfillError(f"no assets in group {GROUP!r} in {DEFINITIONS_MODULE}")
    return selection


def pipeline_partitions(context: WorkspaceProcessContext) -> PartitionsDefinition:
    """The partitions of the pipeline's assets, as the code location defines them."""
    asset_graph = context.create_request_context().asset_graph
    return asset_graph.get(_pipeline_assets(asset_graph)[0]).partitions_def


def run_partition_keys(
    instance: DagsterInstance, run, partitions_def: PartitionsDefinition
) -> tuple[str, ...]:
    """The partitions a run covers: its partition, or every key of its partition range."""
    if PARTITION_NAME_TAG in run.tags:
        return (run.tags[PARTITION_NAME_TAG],)
    start, end = run.tags.get(ASSET_PARTITION_RANGE_START_TAG), run.tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start is None or end is None:
        return ()
    return tuple(
        partitions_def.get_partition_keys_in_range(
            PartitionKeyRange(start, end), dynamic_partitions_store=instance
        )
    )


def _backfill_runs(instance: DagsterInstance, backfill_id: str):
    return instance.get_run_records(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))


def _iterate(context: WorkspaceProcessContext, backfill: PartitionBackfill) -> list[str]:
    """One step of the backfill daemon for this backfill only; returns the errors it reported."""
    errors = execute_backfill_iteration_with_instigation_logger(backfill, _log, context, context.instance)
    return [error.message.strip() for error in errors if error is not None]


def _launch_queued(
    context: WorkspaceProcessContext,
    records,
    order: Mapping[str, int],
    max_concurrent: int,
    partitions_def: PartitionsDefinition,
) -> None:
    """What the run-queue daemon does, for this backfill's runs: launch queued runs while there is room."""
    instance = context.instance
    in_flight = sum(1 for record in records if record.dagster_run.status in IN_FLIGHT)

    def first_key(run) -> int:
        return min(
            (order.get(key, len(order)) for key in run_partition_keys(instance, run, partitions_def)),
            default=len(order),
        )

    def dataset_of(run) -> str:
        keys = run_partition_keys(instance, run, partitions_def)
        return keys[0].split("|")[0] if keys else run.run_id

    queued = sorted(
        (r.dagster_run for r in records if r.dagster_run.status == DagsterRunStatus.QUEUED), key=first_key
    )
    # One run of a dataset at a time, its date ranges in order: each day's taxonomy is built from the
    # version before it, which an earlier range's run writes (datasets still go in parallel).
    busy = {dataset_of(r.dagster_run) for r in records if r.dagster_run.status in IN_FLIGHT}
    launchable = []
    for run in queued:
        if dataset_of(run) not in busy:
            busy.add(dataset_of(run))
            launchable.append(run)
    for run in launchable[: max(0, max_concurrent - in_flight)]:
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status != DagsterRunStatus.QUEUED:
            continue  # someone else (a daemon that just started) took it
        try:
            instance.launch_run(run.run_id, context.create_request_context())
        except Exception as error:  # launch_run has already marked the run failed with the reason
            _log.warning(f"could not launch run {run.run_id}: {error}")


def root_cause(error) -> str:
    """The innermost error message: Dagster wraps user errors in its own step-execution error."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return f"{error.cls_name}: {error.message.strip()}" if error.cls_name else error.message.strip()


def run_failure_reason(instance: DagsterInstance, run_id: str) -> str:
    """Why a run failed: its failed steps' root causes, else the run failure or engine error message."""
    step_failures = [
        entry
        for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)
        if entry.dagster_event and entry.dagster_event.step_failure_data
    ]
    if step_failures:
        return "; ".join(
            f"{e.dagster_event.step_key}: {root_cause(e.dagster_event.step_failure_data.error)}"
            for e in step_failures
        )
    for entry in reversed(
        instance.all_logs(run_id, of_type={DagsterEventType.RUN_FAILURE, DagsterEventType.ENGINE_EVENT})
    ):
        data = entry.dagster_event.event_specific_data if entry.dagster_event else None
        error = getattr(data, "error", None)
        if error is not None:
            return root_cause(error)
        if entry.dagster_event and entry.dagster_event.event_type == DagsterEventType.RUN_FAILURE:
            return _died(instance, run_id) or entry.dagster_event.message or "run failed"
    return "run failed"


def was_interrupted(instance: DagsterInstance, run_id: str) -> bool:
    """Whether the run failed because its process was interrupted (Ctrl-C reaches an in-process run as
    Dagster's DagsterExecutionInterruptedError, which `execute_job` turns into a plain run failure)."""
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE):
        data = entry.dagster_event.event_specific_data if entry.dagster_event else None
        error = getattr(data, "error", None)
        if error is not None and error.cls_name == "DagsterExecutionInterruptedError":
            return True
    return False


def _died(instance: DagsterInstance, run_id: str) -> str | None:
    """'its process N died ...' when the run failed because its process is gone (the code server's own
    message only says the run was "marked as failed from outside the execution context")."""
    record = instance.get_run_record_by_id(run_id)
    if record is None or not runs_here(instance, record.dagster_run.tags):
        return None
    process = run_process(instance, run_id, record.dagster_run.tags, record.create_timestamp.timestamp())
    if process is None or process_alive(process.pid, process.recorded_at):
        return None
    return f"its process {process.pid} died (killed, or out of memory); run it again"


def _finished(instance: DagsterInstance, record, partitions_def: PartitionsDefinition) -> FinishedRun:
    run = record.dagster_run
    seconds = (record.end_time - record.start_time) if record.start_time and record.end_time else 0.0
    success = run.status == DagsterRunStatus.SUCCESS
    error = (
        None
        if success
        else (
            "run canceled"
            if run.status == DagsterRunStatus.CANCELED
            else run_failure_reason(instance, run.run_id)
        )
    )
    return FinishedRun(run_partition_keys(instance, run, partitions_def), run.run_id, success, seconds, error)


class Interrupted(KeyboardInterrupt):
    """The command was interrupted (Ctrl-C, SIGTERM); the message says what was stopped."""


def _cancel(context: WorkspaceProcessContext, backfill_id: str) -> str:
    """Stop what this command started: the backfill, its queued runs, and its runs in progress with their
    processes (a run waiting for a pool slot ignores Dagster's termination request, so it is killed).
    Returns what was stopped, for people."""
    instance = context.instance
    backfill = instance.get_backfill(backfill_id)
    if backfill is not None and backfill.status not in BULK_ACTION_TERMINAL_STATUSES:
        # First, so that nobody (a daemon) submits another run of it while we stop the others.
        instance.update_backfill(
            backfill.with_status(BulkActionStatus.CANCELED).with_end_timestamp(time.time())
        )
    queued, in_flight = [], []
    for record in _backfill_runs(instance, backfill_id):
        run = record.dagster_run
        if run.status in NOT_LAUNCHED:
            instance.report_run_canceled(run, message="kura-dagster run was interrupted")
            queued.append(run.run_id)
        elif run.status in IN_FLIGHT:
            in_flight.append(run.run_id)
    stopped = stop_runs(instance, in_flight, message="kura-dagster run was interrupted")
    return (
        f"backfill {backfill_id} canceled: {len(stopped)} run(s) in progress stopped, "
        f"{len(queued)} queued run(s) canceled; no process of it is left running"
    )


def wait_for_backfill(
    context: WorkspaceProcessContext,
    backfill_id: str,
    *,
    max_concurrent: int = 2,
    on_finished: Callable[[FinishedRun], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    poll_s: float = 0.5,
    iterate_every_s: float = 2.0,
) -> list[FinishedRun]:
    """Follow the backfill until every partition has a finished run; progress it when no daemon does.

    `on_finished` is called once per run as it ends; `on_notice` with one line when a dead run (ours or
    another process's) is recovered, or when our runs wait for a DuckDB slot that another run holds.
    Returns, for each of the backfill's partitions in order, the finished run that covered it; a partition
    that never got a run (backfill failed or canceled) is reported as a failure with Dagster's reason.
    On an interruption the backfill and its runs are stopped, and `Interrupted` says what was stopped.
    """
    instance = context.instance
    backfill = instance.get_backfill(backfill_id)
    if backfill is None:
        raise BackfillError(f"no backfill {backfill_id} in the instance")
    keys = _backfill_partition_keys(backfill)
    order = {key: index for index, key in enumerate(keys)}
    partitions_def = pipeline_partitions(context)
    done: dict[str, FinishedRun] = {}
    seen_runs: set[str] = set()
    errors: list[str] = []
    last_iteration = last_health_check = 0.0
    waiting_for: set[str] = set()
    notice = on_notice or (lambda line: None)
    try:
        while True:
            if time.monotonic() - last_health_check >= HEALTH_CHECK_EVERY_S:
                last_health_check = time.monotonic()
                _check_health(instance, backfill_id, waiting_for, notice)
            backfill = instance.get_backfill(backfill_id)
            if not daemon_is_running(instance):
                if backfill.status not in BULK_ACTION_TERMINAL_STATUSES and (
                    time.monotonic() - last_iteration >= iterate_every_s or not last_iteration
                ):
                    errors += _iterate(context, backfill)
                    last_iteration = time.monotonic()
                    backfill = instance.get_backfill(backfill_id)
                _launch_queued(
                    context, _backfill_runs(instance, backfill_id), order, max_concurrent, partitions_def
                )

            for record in sorted(_backfill_runs(instance, backfill_id), key=lambda r: r.create_timestamp):
                if record.dagster_run.status in FINISHED and record.dagster_run.run_id not in seen_runs:
                    seen_runs.add(record.dagster_run.run_id)
                    # A run whose worker died under a live code server ends FAILURE still holding its slot.
                    free_slots(instance, record.dagster_run.run_id)
                    finished = _finished(instance, record, partitions_def)
                    # A partition may have several runs (the taxonomy's own runs follow the stages'): the
                    # first failure among them is what the partition reports.
                    done.update(
                        {
                            key: finished
                            for key in finished.partition_keys
                            if key in order and (key not in done or done[key].success)
                        }
                    )
                    if on_finished is not None:
                        on_finished(finished)

            # Done when the backfill is: every partition having one finished run is not enough, as the
            # self-dependent `taxonomy` (and what follows it) gets runs of its own, day after day.
            if backfill.status in BULK_ACTION_TERMINAL_STATUSES and not any(
                r.dagster_run.status not in FINISHED for r in _backfill_runs(instance, backfill_id)
            ):
                reason = backfill.error.message.strip() if backfill.error else None
                reason = reason or (errors[-1] if errors else None)
                why = f"backfill {backfill.status.value.lower()}: {reason or 'no run created'}"
                never_ran = tuple(key for key in keys if key not in done)
                if never_ran:
                    finished = FinishedRun(never_ran, "", False, 0.0, why)
                    done.update({key: finished for key in never_ran})
                    if on_finished is not None:
                        on_finished(finished)
                break
            time.sleep(poll_s)
    except KeyboardInterrupt:
        raise Interrupted(_cancel(context, backfill_id)) from None
    except BaseException:
        _cancel(context, backfill_id)
        raise

    # The last run just ended: one more step lets the backfill record its final status when we drive it.
    if not daemon_is_running(instance):
        backfill = instance.get_backfill(backfill_id)
        if backfill is not None and backfill.status not in BULK_ACTION_TERMINAL_STATUSES:
            _iterate(context, backfill)
    return [done[key] for key in keys]


def _check_health(
    instance: DagsterInstance, backfill_id: str, waiting_for: set[str], notice: Callable[[str], None]
) -> None:
    """Recover dead runs (a run killed while we wait would hold its slot forever), and say once which run
    of another process holds the DuckDB slot our runs wait for."""
    for recovered in recover_dead_runs(instance):
        notice(f"Recovered {recovered.describe()}")
    ours = {
        record.dagster_run.run_id
        for record in _backfill_runs(instance, backfill_id)
        if record.dagster_run.status in IN_FLIGHT
    }
    if not ours:
        return
    for run_id, partitions in slot_holders(instance, POOL):
        if run_id not in ours and run_id not in waiting_for:
            waiting_for.add(run_id)
            notice(
                f"Waiting for the DuckDB writer slot: run {run_id[:8]} ({partitions}) of another command "
                "or of the daemon holds it"
            )


def _backfill_partition_keys(backfill: PartitionBackfill) -> list[str]:
    """The partitions the backfill targets, in a stable order (dataset, then date)."""
    subset = backfill.asset_backfill_data.target_subset
    keys = {key.partition_key for key in subset.iterate_asset_partitions() if key.partition_key}
    return sorted(keys)
