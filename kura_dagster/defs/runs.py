"""Launching the pipeline through Dagster from outside the UI (the `kura-dagster` command, tests).

Runs go through the persistent Dagster instance under KURA_HOME as a Dagster backfill (see
`defs/backfills.py`), so they appear in the UI with their logs, metadata and lineage, exactly like
runs launched from `dagster dev`; with no daemon running, the command itself makes the backfill progress.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date as Date
from datetime import timedelta
from pathlib import Path

from dagster import DagsterInstance, JobDefinition, execute_job, reconstructable

from kura_dagster.core.settings import Settings, validate_dataset_name
from kura_dagster.defs.instance import ensure_instance_config
from kura_dagster.defs.partitions import DATASET_PARTITIONS, DATE_PARTITIONS, partition_key


def kura_instance(settings: Settings) -> DagsterInstance:
    """The persistent instance in DAGSTER_HOME (default `$KURA_HOME/dagster`), created on first use."""
    home = settings.dagster_home
    # Default SQLite storage in this folder, plus the run queue and the DuckDB writer pool
    # (`defs/instance.py`); a dagster.yaml with content is left as it is.
    ensure_instance_config(home, settings.max_concurrent)
    os.environ["DAGSTER_HOME"] = str(home)
    # Two commands creating a fresh instance at once (two first ingests) both stamp its SQLite schemas and
    # leave two alembic heads: every later command then fails (4 of 8 trials). One creator at a time.
    with _folder_lock(home):
        return DagsterInstance.get()


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock
        yield
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


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
    from kura_dagster.core.landing import scan_landing_zone
    from kura_dagster.core.store import datasets_in

    known = set(scan_landing_zone(settings.data_dir).datasets) | set(datasets_in(settings.duckdb_path))
    if (settings.dagster_home / "dagster.yaml").exists():  # a command that only reads never creates the instance
        known |= set(kura_instance(settings).get_dynamic_partitions(DATASET_PARTITIONS.name))
    return sorted(known)


def require_known_dataset(settings: Settings, dataset: str) -> None:
    """ValueError naming the known datasets and the closest one when `dataset` is none of them."""
    from kura_dagster.core.landing import scan_landing_zone, unknown_dataset

    from kura_dagster.core.store import datasets_in

    if dataset in scan_landing_zone(settings.data_dir).datasets or dataset in datasets_in(settings.duckdb_path):
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


def check_partitions(partitions: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Validated (dataset, date) pairs in order, without repeats; a day outside the daily partitions
    (before KURA_START_DATE, or today and later: a day is a partition once it is over) is an error."""
    first, last = DATE_PARTITIONS.start.date().isoformat(), DATE_PARTITIONS.get_last_partition_key()
    checked: list[tuple[str, str]] = []
    for dataset, day in partitions:
        dataset = validate_dataset_name(dataset)
        if last is None or not first <= day <= last:
            raise ValueError(f"{day} is not a date partition: days run from {first} to "
                             f"{last or 'yesterday'} (a day becomes a partition when it is over)")
        if (dataset, day) not in checked:
            checked.append((dataset, day))
    return checked


def run_partitions(
    instance: DagsterInstance,
    partitions: Iterable[tuple[str, str]],
    *,
    max_concurrent: int = 2,
    on_done: Callable[[PartitionRun, int, int], None] | None = None,
    on_submitted: Callable[[str, bool], None] | None = None,
) -> list[PartitionRun]:
    """Materialise every asset for each (dataset, date) as one Dagster asset backfill.

    The assets' backfill policy groups a dataset's consecutive days into runs of up to
    KURA_PARTITIONS_PER_RUN days. Up to `max_concurrent` runs go at once when this process drives the
    backfill (no daemon running); `on_done(result, i, n)` is called for each partition as the run that
    covered it ends, `i` being its place in `partitions`.
    `on_submitted(backfill_id, daemon_running)` is called once the backfill exists.
    """
    from kura_dagster.defs import backfills

    todo = check_partitions(partitions)
    register_datasets(instance, {dataset for dataset, _ in todo})
    keys = [partition_key(dataset, day) for dataset, day in todo]
    position = {key: index for index, key in enumerate(keys, start=1)}
    by_key = dict(zip(keys, todo))
    results: dict[str, PartitionRun] = {}

    def finished(run: backfills.FinishedRun) -> None:
        for key in sorted(run.partition_keys, key=lambda k: position.get(k, 0)):
            if key not in by_key:
                continue
            dataset, day = by_key[key]
            results[key] = PartitionRun(dataset, day, run.run_id, run.success, run.seconds, run.error)
            if on_done is not None:
                on_done(results[key], position[key], len(keys))

    datasets = sorted({dataset for dataset, _ in todo})
    description = f"kura-dagster run: {', '.join(datasets)} ({len(keys)} partitions)"
    with backfills.code_location(instance) as context:
        backfill_id = backfills.submit_backfill(
            context, keys, tags={backfills.LAUNCHED_BY_TAG: "kura-dagster"}, description=description)
        if on_submitted is not None:
            on_submitted(backfill_id, backfills.daemon_is_running(instance))
        backfills.wait_for_backfill(context, backfill_id, max_concurrent=max_concurrent, on_finished=finished)
    return [results[key] for key in keys]


def date_ranges(partitions: Iterable[tuple[str, str]], max_days: int) -> list[list[tuple[str, str]]]:
    """Group (dataset, date) pairs into runs as the backfill policy does: consecutive days of one dataset,
    at most `max_days` per run."""
    ranges: list[list[tuple[str, str]]] = []
    for dataset, day in sorted(set(partitions)):
        last = ranges[-1][-1] if ranges else None
        follows = (last is not None and last[0] == dataset and len(ranges[-1]) < max_days
                   and Date.fromisoformat(day) - Date.fromisoformat(last[1]) == timedelta(days=1))
        if follows:
            ranges[-1].append((dataset, day))
        else:
            ranges.append([(dataset, day)])
    return ranges


def pipeline_job() -> JobDefinition:
    """`kura_pipeline` as the module-level definitions resolve it: what `execute_job` rebuilds."""
    from kura_dagster.definitions import defs
    from kura_dagster.defs.jobs import PIPELINE_JOB_NAME

    return defs.resolve_job_def(PIPELINE_JOB_NAME)


def run_partitions_in_process(
    instance: DagsterInstance,
    partitions: Iterable[tuple[str, str]],
    *,
    max_days_per_run: int = 10,
    on_done: Callable[[PartitionRun, int, int], None] | None = None,
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
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from kura_dagster.defs.backfills import LAUNCHED_BY_TAG, QUIET_RUN_CONFIG, run_failure_reason

    job = reconstructable(pipeline_job)
    todo = check_partitions(partitions)
    register_datasets(instance, {dataset for dataset, _ in todo})
    position = {partition: index for index, partition in enumerate(todo, start=1)}
    results: dict[tuple[str, str], PartitionRun] = {}
    for run_range in date_ranges(todo, max_days_per_run):
        started = time.monotonic()
        with execute_job(
            job, instance, run_config=QUIET_RUN_CONFIG, raise_on_error=False,
            tags={LAUNCHED_BY_TAG: "kura-dagster demo",
                  ASSET_PARTITION_RANGE_START_TAG: partition_key(*run_range[0]),
                  ASSET_PARTITION_RANGE_END_TAG: partition_key(*run_range[-1])},
        ) as outcome:
            run_id, success = outcome.run_id, outcome.success
        error = None if success else run_failure_reason(instance, run_id)
        for dataset, day in run_range:
            result = PartitionRun(dataset, day, run_id, success, time.monotonic() - started, error)
            results[(dataset, day)] = result
            if on_done is not None:
                on_done(result, position[(dataset, day)], len(todo))
    return [results[partition] for partition in todo]
