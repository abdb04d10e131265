"""Launching the pipeline through Dagster from outside the UI (the `kura-dagster` command, tests).

Runs go through the persistent Dagster instance under KURA_HOME, so they appear in the UI with their
logs, metadata and lineage, exactly like runs launched from `dagster dev`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterInstance, Definitions

from kura_dagster.core.settings import Settings, validate_dataset_name
from kura_dagster.defs.jobs import PIPELINE_JOB_NAME
from kura_dagster.defs.partitions import DATASET_PARTITIONS, partition_key


def kura_instance(settings: Settings) -> DagsterInstance:
    """The persistent instance in DAGSTER_HOME (default `$KURA_HOME/dagster`), created on first use."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    # An empty dagster.yaml means "default storage in this folder" and silences Dagster's warning.
    (home / "dagster.yaml").touch(exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    return DagsterInstance.get()


def register_datasets(instance: DagsterInstance, datasets: Iterable[str]) -> list[str]:
    """Add datasets to the dynamic `dataset` dimension; returns the ones that were new."""
    wanted = [validate_dataset_name(name) for name in datasets]
    known = set(instance.get_dynamic_partitions(DATASET_PARTITIONS.name))
    new = sorted(set(wanted) - known)
    if new:
        instance.add_dynamic_partitions(DATASET_PARTITIONS.name, new)
    return new


def landing_datasets(data_dir: Path) -> list[str]:
    """Dataset folders of the landing zone (folders whose names are not valid slugs are ignored)."""
    if not data_dir.is_dir():
        return []
    names = []
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        try:
            names.append(validate_dataset_name(folder.name))
        except ValueError:
            continue
    return names


def landing_dates(data_dir: Path, dataset: str) -> list[str]:
    """Days that have a file in `data/<dataset>/`."""
    folder = data_dir / validate_dataset_name(dataset)
    return sorted(p.stem for p in folder.glob("*.jsonl") if len(p.stem) == 10)


@dataclass(frozen=True)
class PartitionRun:
    dataset: str
    date: str
    run_id: str
    success: bool
    seconds: float
    error: str | None = None


def _root_cause(error) -> str:
    """The innermost error message: Dagster wraps user errors in its own step-execution error."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return f"{error.cls_name}: {error.message.strip()}" if error.cls_name else error.message.strip()


def run_partitions(
    defs: Definitions,
    instance: DagsterInstance,
    partitions: Iterable[tuple[str, str]],
    *,
    on_done: Callable[[PartitionRun, int, int], None] | None = None,
) -> list[PartitionRun]:
    """Materialise every asset for each (dataset, date), one Dagster run per partition, in order."""
    job = defs.resolve_job_def(PIPELINE_JOB_NAME)
    todo = list(partitions)
    register_datasets(instance, {dataset for dataset, _ in todo})
    results = []
    for index, (dataset, day) in enumerate(todo, start=1):
        started = time.monotonic()
        outcome = job.execute_in_process(
            partition_key=partition_key(dataset, day), instance=instance, raise_on_error=False,
            tags={"kura/launched_by": "kura-dagster"},
            # The command prints its own progress; Dagster's step-by-step log stays in the UI.
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        error = None
        if not outcome.success:
            failures = [event for event in outcome.all_events if event.is_step_failure]
            error = "; ".join(f"{event.step_key}: {_root_cause(event.step_failure_data.error)}"
                              for event in failures) or "run failed"
        result = PartitionRun(dataset, day, outcome.run_id, outcome.success, time.monotonic() - started, error)
        results.append(result)
        if on_done is not None:
            on_done(result, index, len(todo))
    return results
