"""Launching the pipeline through Dagster from outside the UI (the `kura-dagster` command, tests).

Runs go through the persistent Dagster instance under KURA_HOME as a Dagster backfill (see
`launch/backfills.py`), so they appear in the UI with their logs, metadata and lineage, exactly like
runs launched from `dagster dev`; with no daemon running, the command itself makes the backfill progress.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dagster import DagsterInstance, JobDefinition, execute_job, reconstructable

from kura_dagster.core.paths import folder_lock
from kura_dagster.core.settings import Settings, validate_dataset_name
from kura_dagster.defs.names import PIPELINE_JOB_NAME
from kura_dagster.defs.partitions import DATASET_PARTITIONS, date_partitions, partition_key
from kura_dagster.launch.dagster_private import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from kura_dagster.launch.instance import ensure_instance_config
from kura_dagster.launch.recovery import HOST_TAG, PID_TAG, recover_dead_runs, this_host


def kura_instance(settings: Settings) -> DagsterInstance:
    """The persistent instance in DAGSTER_HOME (default `$KURA_HOME/dagster`), created on first use."""
    home = settings.dagster_home
    # Default SQLite storage in this folder, plus the run queue and the DuckDB writer pool
    # (`launch/instance.py`); a dagster.yaml with content is left as it is.
    ensure_instance_config(home, settings.max_concurrent)
    os.environ["DAGSTER_HOME"] = str(home)
    # Two commands creating a fresh instance at once (two first ingests) both stamp its SQLite schemas and
    # leave two alembic heads: every later command then fails (4 of 8 trials). One creator at a time.
    with folder_lock(home):
        return DagsterInstance.get()


def register_datasets(instance: DagsterInstance, datasets: Iterable[str]) -> list[str]:
    """Add datasets to the dynamic `dataset` dimension; returns the ones that were new."""
    wanted = [validate_dataset_name(name) for name in datasets]
    known = set(instance.get_dynamic_partitions(DATASET_PARTITIONS.name))
    new = sorted(set(wanted) - known)
    if new:
        instance.add_dynamic_partitions(DATASET_PARTITIONS.name, new)
    return new


def known_datasets(settings: Settings) -> list[str]:
    """The datasets a command may name: a folder in the landing zone, a registered `dataset` partition, or
    rows in the tables. Only `ingest`, the sensor and `register_datasets` make one; a typo never does."""
    from kura_dagster.core.ingest.landing import scan_landing_zone
    from kura_dagster.core.storage.store import datasets_in

    known = set(scan_landing_zone(settings.data_dir).datasets) | set(datasets_in(settings.duckdb_path))
    if (
        settings.dagster_home / "dagster.yaml"
    ).exists():  # a command that only reads never creates the instance
        known |= set(kura_instance(settings).get_dynamic_partitions(DATASET_PARTITIONS.name))
    return sorted(known)


def require_known_dataset(settings: Settings, dataset: str) -> None:
    """ValueError naming the known datasets and the closest one when `dataset` is none of them."""
    from kura_dagster.core.ingest.landing import scan_landing_zone, unknown_dataset
    from kura_dagster.core.storage.store import datasets_in

    if dataset in scan_landing_zone(settings.data_dir).datasets or dataset in datasets_in(
        settings.duckdb_path
    ):
        return  # the usual cases, without opening the Dagster instance
    message = unknown_dataset(dataset, known_datasets(settings))
    if message:
        raise ValueError(message)


@dataclass(frozen=True)
class PartitionRun:
    dataset: str
    date: str
    run_id: str
    success: bool
    seconds: float
    error: str | None = None


def today_utc() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def check_partitions(partitions: Iterable[tuple[str, str]], settings: Settings) -> list[tuple[str, str]]:
    """Validated (dataset, date) pairs in order, without repeats. A day outside the daily partitions (before
    the first one, or after today UTC) is an error naming the dataset, the day file and the date."""
    days = date_partitions(settings)
    first, last = days.start.date().isoformat(), days.get_last_partition_key()
    data_dir = settings.data_dir
    checked: list[tuple[str, str]] = []
    for dataset, day in partitions:
        dataset = validate_dataset_name(dataset)
        if last is None or not first <= day <= last:
            file = f" ({Path(data_dir) / dataset / f'{day}.jsonl'})"
            if day < first:
                why = (
                    f"{day} is before the first date partition {first}; set KURA_START_DATE={day} (or earlier) "
                    "to reach it"
                )
            else:
                why = (
                    f"{day} is after today ({today_utc()} UTC), so it is not a date partition yet; check the "
                    "timestamps of its conversations (or ingest with --default-date)"
                )
            raise ValueError(f"dataset '{dataset}', {day}{file}: {why}")
        if (dataset, day) not in checked:
            checked.append((dataset, day))
    return checked


def today_notice(partitions: Iterable[tuple[str, str]]) -> str | None:
    """One line when a partition is today's: the day is not over, so its file may still grow."""
    today = today_utc()
    datasets = sorted({dataset for dataset, day in partitions if day == today})
    if not datasets:
        return None
    return (
        f"{today} is today (UTC) and not over: its run covers what {', '.join(datasets)} landed so far; "
        "run it again once more conversations land (make dev's sensor does, after midnight UTC)"
    )


def recover(instance: DagsterInstance, on_notice: Callable[[str], None] | None) -> None:
    """Fail runs whose process died and free the DuckDB slots they held, saying so in one line each;
    otherwise the runs about to start would wait for those slots forever."""
    for recovered in recover_dead_runs(instance):
        if on_notice is not None:
            on_notice(f"Recovered {recovered.describe()}")


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) stop a command the way Ctrl-C does, so its runs and their
    processes are stopped too instead of being left behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    wanted = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {signum: signal.signal(signum, interrupt) for signum in wanted}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_partitions(
    instance: DagsterInstance,
    partitions: Iterable[tuple[str, str]],
    *,
    settings: Settings,
    max_concurrent: int = 2,
    on_done: Callable[[list[PartitionRun], list[int], int], None] | None = None,
    on_submitted: Callable[[str, bool], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> list[PartitionRun]:
    """Materialise every asset for each (dataset, date) as one Dagster asset backfill.

    The assets' backfill policy groups a dataset's consecutive days into runs of up to
    KURA_PARTITIONS_PER_RUN days. Up to `max_concurrent` runs go at once when this process drives the
    backfill (no daemon running); `on_done(results, positions, n)` is called once per run as it ends, with
    the partitions it covered and their places in `partitions`.
    `on_submitted(backfill_id, daemon_running)` is called once the backfill exists; `on_notice(line)` when
    a dead run is recovered (before the backfill, or while it waits) or a slot is awaited.
    """
    from kura_dagster.launch import backfills

    todo = check_partitions(partitions, settings)
    recover(instance, on_notice)
    register_datasets(instance, {dataset for dataset, _ in todo})
    keys = [partition_key(dataset, day) for dataset, day in todo]
    position = {key: index for index, key in enumerate(keys, start=1)}
    by_key = dict(zip(keys, todo))
    results: dict[str, PartitionRun] = {}

    def finished(run: backfills.FinishedRun) -> None:
        covered = [
            key for key in sorted(run.partition_keys, key=lambda k: position.get(k, 0)) if key in by_key
        ]
        for key in covered:
            dataset, day = by_key[key]
            if key in results and not results[key].success:
                continue  # a later run of the partition (the taxonomy's) does not hide an earlier failure
            results[key] = PartitionRun(dataset, day, run.run_id, run.success, run.seconds, run.error)
        if on_done is not None and covered:
            on_done([results[key] for key in covered], [position[key] for key in covered], len(keys))

    datasets = sorted({dataset for dataset, _ in todo})
    description = f"kura-dagster run: {', '.join(datasets)} ({len(keys)} partitions)"
    with interruptible(), backfills.code_location(instance) as context:
        # The host tag (carried by every run of the backfill) lets a later command tell whether a run's
        # process, if it died, died on this machine.
        backfill_id = backfills.submit_backfill(
            context,
            keys,
            tags={backfills.LAUNCHED_BY_TAG: "kura-dagster", HOST_TAG: this_host()},
            description=description,
        )
        if on_submitted is not None:
            on_submitted(backfill_id, backfills.daemon_is_running(instance))
        backfills.wait_for_backfill(
            context, backfill_id, max_concurrent=max_concurrent, on_finished=finished, on_notice=on_notice
        )
    return [results[key] for key in keys]


def date_ranges(partitions: Iterable[tuple[str, str]], max_days: int) -> list[list[tuple[str, str]]]:
    """Group (dataset, date) pairs into runs as the backfill policy does: consecutive days of one dataset,
    at most `max_days` per run."""
    ranges: list[list[tuple[str, str]]] = []
    for dataset, day in sorted(set(partitions)):
        last = ranges[-1][-1] if ranges else None
        follows = (
            last is not None
            and last[0] == dataset
            and len(ranges[-1]) < max_days
            and Date.fromisoformat(day) - Date.fromisoformat(last[1]) == timedelta(days=1)
        )
        if follows:
            ranges[-1].append((dataset, day))
        else:
            ranges.append([(dataset, day)])
    return ranges


def pipeline_job() -> JobDefinition:
    """`kura_pipeline` as the module-level definitions resolve it: what `execute_job` rebuilds."""
    from kura_dagster.definitions import defs

    return defs.resolve_job_def(PIPELINE_JOB_NAME)


def run_partitions_in_process(
    instance: DagsterInstance,
    partitions: Iterable[tuple[str, str]],
    *,
    settings: Settings,
    max_days_per_run: int = 10,
    on_done: Callable[[list[PartitionRun], list[int], int], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> list[PartitionRun]:
    """Runs over date ranges (grouped like the backfill policy groups them), one after the other in this
    process.

    What `demo` uses: the runs are real runs of `kura_pipeline` in the persistent instance (they show in
    the UI), but imports and UMAP's compilation are paid once for the whole command instead of once per
    run process. `run` goes through a backfill.

    Runs go through `execute_job`, not `JobDefinition.execute_in_process`: the latter keeps every step's
    output in memory for its result object, which at a million conversations held all six tables at once
    (several GB the run never needed).
    """
    from kura_dagster.launch.backfills import (
        LAUNCHED_BY_TAG,
        QUIET_RUN_CONFIG,
        Interrupted,
        run_failure_reason,
        was_interrupted,
    )

    job = reconstructable(pipeline_job)
    todo = check_partitions(partitions, settings)
    recover(instance, on_notice)
    register_datasets(instance, {dataset for dataset, _ in todo})
    position = {partition: index for index, partition in enumerate(todo, start=1)}
    results: dict[tuple[str, str], PartitionRun] = {}
    with interruptible():
        for run_range in date_ranges(todo, max_days_per_run):
            started = time.monotonic()
            with execute_job(
                job,
                instance,
                run_config=QUIET_RUN_CONFIG,
                raise_on_error=False,
                # The run executes in this process: its pid and host tell a later command that the run
                # died with it if this command is killed.
                tags={
                    LAUNCHED_BY_TAG: "kura-dagster demo",
                    HOST_TAG: this_host(),
                    PID_TAG: str(os.getpid()),
                    ASSET_PARTITION_RANGE_START_TAG: partition_key(*run_range[0]),
                    ASSET_PARTITION_RANGE_END_TAG: partition_key(*run_range[-1]),
                },
            ) as outcome:
                run_id, success = outcome.run_id, outcome.success
            if not success and was_interrupted(instance, run_id):
                # Ctrl-C stops the command, not just the run it reached: the remaining runs never start.
                days = run_range[0][1] if len(run_range) == 1 else f"{run_range[0][1]}..{run_range[-1][1]}"
                raise Interrupted(
                    f"run {run_id[:8]} ({run_range[0][0]} {days}) stopped; the remaining runs "
                    "were not started"
                )
            error = None if success else run_failure_reason(instance, run_id)
            seconds = time.monotonic() - started  # this run's own time, shared by the days it covered
            for dataset, day in run_range:
                results[(dataset, day)] = PartitionRun(dataset, day, run_id, success, seconds, error)
            if on_done is not None:
                on_done([results[p] for p in run_range], [position[p] for p in run_range], len(todo))
    return [results[partition] for partition in todo]
