"""Runs whose process died (`kill -9`, the out-of-memory killer, a closed laptop): found, failed, slots freed.

What Dagster 1.13 does on its own is not enough here. When a run worker dies while the code server that
started it lives, the server marks the run failed, but the step's claim on the `kura_duckdb` pool slot is
never released; when the whole process group dies (the command, its code server and the worker), the run
stays STARTED for good, still holding the slot. Either way every later run waits for that slot forever.
Dagster's run monitoring frees slots of finished runs, but it cannot tell that a STARTED run is dead:
the default run launcher has no health check.

Dead, here, means: the process that executes the run (the run worker, or for `demo` the command itself)
was on this machine and no longer exists. Its pid comes from the `kura/pid` tag (runs that `demo` executes
in its own process) or from the first engine event that carries one ("Started process for run (pid: N)",
written by the worker before the run starts). A run whose process cannot be seen from here (launched on
another machine, by a launcher without a local process, or whose worker has not reported its pid yet) is
never judged dead, so a run alive in another process is never failed.

The test is used twice:
* `kura-dagster run` and `demo` call `recover_dead_runs` before they start (and `run` while it waits),
  and print one line per run recovered;
* `KuraRunLauncher`, the run launcher of the instance config kura writes (`launch/instance.py`), answers
  Dagster's run monitoring with the same test, so the `make dev` daemon fails a dead run and frees its
  slots (`free_slots_after_run_end_seconds`) with no command run at all.

Internal imports (from `launch/dagster_private.py`): `CheckRunHealthResult`, `WorkerStatus` and
`LaunchRunContext`, the interface a run launcher implements, which dagster 1.13 exports under
`dagster._core.launcher` only; `test_recovery.py` runs Dagster's own monitoring iteration against
`KuraRunLauncher`, so a change there fails a test.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psutil
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, DefaultRunLauncher, RunsFilter

from kura_dagster.defs.names import POOL
from kura_dagster.launch.dagster_private import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
    CheckRunHealthResult,
    LaunchRunContext,
    WorkerStatus,
)

HOST_TAG = "kura/host"  # the machine of the process that launched (and, locally, executes) the run
PID_TAG = "kura/pid"  # the process executing the run, when known at launch (`demo` runs in its own process)
GRPC_INFO_TAG = ".dagster/grpc_info"  # where the default launcher started the run: a local socket, or a port
IN_FLIGHT = (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING)
# A pid recorded before its process was created belongs to an earlier process (pids are reused); the
# slack covers the rounding of process start times.
CREATE_TIME_SLACK_S = 2.0


def this_host() -> str:
    return socket.gethostname()


@dataclass(frozen=True)
class RunProcess:
    """The process executing a run, and when that pid was recorded."""

    pid: int
    recorded_at: float


@dataclass(frozen=True)
class RecoveredRun:
    run_id: str
    partitions: str  # "dataset date" or "dataset first..last", for people
    reason: str  # why it is dead, or that it had already ended
    marked: str | None  # "failed" / "canceled", or None when Dagster had already ended it
    freed_slots: bool

    def describe(self) -> str:
        what = f"marked it {self.marked} and " if self.marked else ""
        slots = "freed its DuckDB writer slot" if self.freed_slots else "it held no DuckDB writer slot"
        return f"run {self.run_id[:8]} ({self.partitions}): {self.reason}; {what}{slots}"


def run_partitions_label(tags: dict[str, str] | object) -> str:
    """ "small 2026-11-01" or "small 2026-11-01..2026-11-02" from a run's partition tags."""
    tags = dict(tags)  # type: ignore[arg-type]
    single = tags.get(PARTITION_NAME_TAG)
    if single:
        return single.replace("|", " ")
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start and end:
        dataset, first = start.split("|", 1)
        last = end.split("|", 1)[-1]
        return f"{dataset} {first}" if first == last else f"{dataset} {first}..{last}"
    return "no partition"


def _sqlite_instance(instance: DagsterInstance) -> bool:
    # SQLite files are only ever shared by processes of one machine, so every run of such an instance
    # executed here. Postgres instances are shared across machines: there only the host tag counts.
    return "Sqlite" in type(instance.run_storage).__name__


def runs_here(instance: DagsterInstance, tags: dict[str, str] | object) -> bool:
    """Whether the run's process, if it has one, is on this machine: only then can its pid be checked."""
    tags = dict(tags)  # type: ignore[arg-type]
    grpc_info = tags.get(GRPC_INFO_TAG)
    # A run handed to a code server over a port may execute in a container (another pid namespace); over a
    # unix socket, the server and its run worker are on the launcher's machine.
    if grpc_info is not None and '"socket"' not in grpc_info:
        return False
    host = tags.get(HOST_TAG)
    return host == this_host() if host is not None else _sqlite_instance(instance)


def run_process(
    instance: DagsterInstance, run_id: str, tags: dict[str, str] | object, created_at: float
) -> RunProcess | None:
    """The process executing the run, if it is known."""
    tags = dict(tags)  # type: ignore[arg-type]
    if tags.get(PID_TAG, "").isdigit():
        return RunProcess(int(tags[PID_TAG]), created_at)
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        pid = data.metadata.get("pid") if data is not None and data.metadata else None
        text = str(getattr(pid, "value", pid)) if pid is not None else ""
        if text.isdigit():
            return RunProcess(int(text), entry.timestamp)
    return None


def process_alive(pid: int, recorded_at: float | None = None) -> bool:
    """Whether `pid` is a live process that was already running when its pid was recorded."""
    if pid == os.getpid():
        return True
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:  # killed, not yet reaped by its parent
            return False
        return recorded_at is None or process.create_time() <= recorded_at + CREATE_TIME_SLACK_S
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # it exists (another user's process): alive as far as we can tell
        return True


def dead_reason(instance: DagsterInstance, record) -> str | None:
    """Why the run of `record` (a RunRecord) is dead, or None when it is alive or cannot be judged."""
    run = record.dagster_run
    if run.status not in IN_FLIGHT or not runs_here(instance, run.tags):
        return None
    process = run_process(instance, run.run_id, run.tags, record.create_timestamp.timestamp())
    if process is not None:
        return (
            None if process_alive(process.pid, process.recorded_at) else f"its process {process.pid} is gone"
        )
    # No pid yet: a worker that is starting has none. One that never reported it within Dagster's own start
    # timeout never started (the daemon's run monitoring applies the same limit).
    started = record.start_time or record.create_timestamp.timestamp()
    if (
        run.status == DagsterRunStatus.STARTING
        and time.time() - started > instance.run_monitoring_start_timeout_seconds
    ):
        return f"its process never started within {instance.run_monitoring_start_timeout_seconds}s"
    return None


def _slot_runs(instance: DagsterInstance) -> set[str]:
    """Runs that claim or wait for a pool slot."""
    storage = instance.event_log_storage
    claimed = {slot.run_id for slot in storage.get_concurrency_info(POOL).claimed_slots}
    return claimed | set(storage.get_concurrency_run_ids())


def free_slots(instance: DagsterInstance, run_id: str) -> bool:
    """Release the pool slots (claimed or awaited) of a run that no longer runs; True if it had any."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return False
    held = run_id in _slot_runs(instance)
    storage.free_concurrency_slots_for_run(run_id)  # idempotent: nothing happens for a run without slots
    return held


def recover_dead_runs(instance: DagsterInstance) -> list[RecoveredRun]:
    """Fail (or, if it was being canceled, cancel) every in-flight run whose process is dead, and free the
    pool slots still held by runs that have ended."""
    recovered: list[RecoveredRun] = []
    for record in instance.get_run_records(RunsFilter(statuses=list(IN_FLIGHT))):
        reason = dead_reason(instance, record)
        if reason is None:
            continue
        run = instance.get_run_by_id(record.dagster_run.run_id)
        if run is None or run.is_finished:  # ended meanwhile (another command recovered it first)
            continue
        if run.status == DagsterRunStatus.CANCELING:
            instance.report_run_canceled(
                run, message=f"kura-dagster: {reason} while the run was being canceled"
            )
            marked = "canceled"
        else:
            instance.report_run_failed(
                run,
                message=f"kura-dagster: {reason} (killed, out of memory, or the machine "
                "stopped); marked failed so that later runs can go on",
            )
            marked = "failed"
        recovered.append(
            RecoveredRun(
                run.run_id, run_partitions_label(run.tags), reason, marked, free_slots(instance, run.run_id)
            )
        )
    # Runs that ended without giving their slots back: a worker killed under a live code server is marked
    # failed by the server, but its step never released its claim.
    if instance.event_log_storage.supports_global_concurrency_limits:
        for run_id in sorted(_slot_runs(instance)):
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                status = run.status.value.lower() if run is not None else "deleted"
                if free_slots(instance, run_id):
                    recovered.append(
                        RecoveredRun(
                            run_id,
                            run_partitions_label(run.tags if run else {}),
                            f"it had ended ({status}) without giving back its slot",
                            None,
                            True,
                        )
                    )
    return recovered


def slot_holders(instance: DagsterInstance, pool: str) -> list[tuple[str, str]]:
    """(run id, partitions) of the runs holding a slot of `pool`, for a line saying what a run waits for."""
    holders = []
    for claim in instance.event_log_storage.get_concurrency_info(pool).claimed_slots:
        run = instance.get_run_by_id(claim.run_id)
        holders.append((claim.run_id, run_partitions_label(run.tags) if run else "?"))
    return holders


# --------------------------------------------------------------------------------------------------
# Stopping our own runs (Ctrl-C, SIGTERM): nothing may outlive the command
# --------------------------------------------------------------------------------------------------


def kill_process_tree(pid: int, grace_s: float = 5.0) -> None:
    """SIGTERM a process and its descendants, then SIGKILL what is left after `grace_s`."""
    try:
        root = psutil.Process(pid)
        tree = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    terminate_processes(tree, grace_s)


def terminate_processes(processes: Sequence[psutil.Process], grace_s: float = 5.0) -> None:
    for process in processes:
        try:
            process.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace_s)


def stop_runs(
    instance: DagsterInstance, run_ids: Iterable[str], message: str, wait_s: float = 10.0
) -> list[str]:
    """Terminate in-flight runs the Dagster way; those that have not ended after `wait_s` get their local
    process tree killed and are marked canceled. Their slots are freed. Returns the runs that were in flight."""
    stopping = [
        run_id
        for run_id in run_ids
        if (run := instance.get_run_by_id(run_id)) is not None and run.status in IN_FLIGHT
    ]
    for run_id in stopping:
        try:
            instance.run_launcher.terminate(run_id)
        except Exception:  # the code server may already be gone: the kill below does the job
            pass
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and any(
        not instance.get_run_by_id(run_id).is_finished for run_id in stopping
    ):
        time.sleep(0.25)
    for run_id in stopping:
        run = instance.get_run_by_id(run_id)
        if not run.is_finished:
            # A worker waiting for a pool slot does not act on the termination request: stop it ourselves.
            record = instance.get_run_record_by_id(run_id)
            process = run_process(instance, run_id, run.tags, record.create_timestamp.timestamp())
            if process is not None and runs_here(instance, run.tags) and process.pid != os.getpid():
                kill_process_tree(process.pid)
            instance.report_run_canceled(run, message=message)
        free_slots(instance, run_id)
    return stopping


def kill_leftover_children() -> None:
    """Kill what this process started and is still running (code servers, run workers): after an
    interruption, nothing the command started may outlive it."""
    children = psutil.Process().children(recursive=True)
    if children:
        terminate_processes(children)


# --------------------------------------------------------------------------------------------------
# The run launcher of kura's instance config: Dagster's default one, plus the health check above
# --------------------------------------------------------------------------------------------------


class KuraRunLauncher(DefaultRunLauncher):
    """`DefaultRunLauncher` (runs start in a code server's subprocess) that tags each run with this machine's
    name and tells Dagster's run monitoring whether the run's process is still alive."""

    def launch_run(self, context: LaunchRunContext) -> None:
        self._instance.add_run_tags(context.dagster_run.run_id, {HOST_TAG: this_host()})
        super().launch_run(context)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        record = self._instance.get_run_record_by_id(run.run_id)
        reason = dead_reason(self._instance, record) if record is not None else None
        # Anything but FAILED must read as RUNNING: the monitor fails runs on any other status, UNKNOWN included.
        if reason is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, f"kura-dagster: {reason}")
