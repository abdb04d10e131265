"""Automation: a sensor that picks up new landing-zone files and a schedule that reclusters yesterday.

The sensor registers every new folder `data/<dataset>/` as a partition of the dynamic `dataset`
dimension and requests one run of `kura_pipeline` per new or changed `data/<dataset>/<YYYY-MM-DD>.jsonl`
whose content has not been materialised yet: after `make demo` (or `kura-dagster run`), the first tick of
`make dev` finds every file already done and requests nothing.
The schedule reruns yesterday's partition of every registered dataset, for late files and new settings: that
run rebuilds the taxonomy over the window ending yesterday and assigns yesterday's conversations to it (the
daily reclustering, `defs/topics.py`), then judges the trends.
Both are built from the settings (`build_landing_zone_sensor`, `build_daily_schedule`): a tick reads no
environment.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    schedule,
    sensor,
)

from kura_dagster.core.ingest.landing import file_sha256, scan_landing_zone
from kura_dagster.core.settings import Settings
from kura_dagster.defs.partitions import DATASET_PARTITIONS, date_dimension, partition_key

TRIGGER_TAG = "kura/trigger"


def _fingerprint(path: Path) -> str:
    # size + mtime_ns rather than a sha256: the sensor runs every 30 s over the whole landing zone, and a
    # stat costs nothing while hashing would re-read every file on every tick. Only a file whose stat
    # changed is hashed, and compared with what was materialised: a `touch` without a change runs nothing.
    # A file caught half-written changes size/mtime again when finished, so its final content is run too.
    stat = path.stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def _materialised(instance: DagsterInstance, key: str, sha256: str) -> bool:
    """Whether the latest materialisation of `conversations` for partition `key` recorded this file content
    (its metadata `file_sha256`, per day even in a run over a date range) and its run succeeded, i.e.
    every stage went through for this content (what `demo` and `kura-dagster run` leave behind)."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("conversations"), asset_partitions=[key]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return False
    recorded = records[0].asset_materialization.metadata.get("file_sha256")
    if getattr(recorded, "value", recorded) != sha256:
        return False
    run = instance.get_run_by_id(records[0].run_id)
    return run is not None and run.status == DagsterRunStatus.SUCCESS


def _load_cursor(raw: str | None) -> dict[str, str]:
    # A cursor that cannot be read is treated as empty: every file is requested once more, and the run
    # keys (which carry the fingerprint) let the daemon drop the ones it already launched.
    try:
        cursor = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in cursor.items()} if isinstance(cursor, dict) else {}


def build_landing_zone_sensor(settings: Settings, job) -> SensorDefinition:
    """The sensor over KURA_DATA_DIR, requesting runs of `job` (the pipeline job) within its date partitions."""
    data_dir = settings.data_dir
    start = date_dimension(job.partitions_def).start.strftime("%Y-%m-%d")

    @sensor(
        job=job,
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description="Registers new dataset folders of the landing zone and runs each new or changed daily file.",
    )
    def landing_zone_sensor(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        return _landing_zone_tick(context, data_dir, start)

    return landing_zone_sensor


def _landing_zone_tick(
    context: SensorEvaluationContext, data_dir: Path, start: str
) -> SensorResult | SkipReason:
    if not data_dir.is_dir():
        # Keep the cursor: an unmounted or not-yet-created folder must not make every file look new later.
        return SkipReason(f"landing zone {data_dir} does not exist")

    seen = _load_cursor(context.cursor)
    # Today is a partition (it can be run on request) but its file may still grow: the sensor leaves it
    # out of the cursor and requests it on the first tick after midnight UTC, once, when it is complete.
    today = datetime.now(timezone.utc).date().isoformat()
    known = set(context.instance.get_dynamic_partitions(DATASET_PARTITIONS.name))

    cursor: dict[str, str] = {}
    new_datasets: list[str] = []
    run_requests: list[RunRequest] = []
    zone = scan_landing_zone(data_dir)
    for name, reason in zone.skipped:
        context.log.warning(f"skipping {name!r}: {reason}")
    for dataset in zone.datasets:
        if dataset not in known:
            new_datasets.append(dataset)
        for day, path in sorted(zone.files[dataset].items()):
            if day < start:
                context.log.info(f"skipping {dataset}/{path.name}: before the first date partition {start}")
                continue
            if day >= today:
                context.log.info(f"waiting for {dataset}/{path.name}: the day {day} is not complete yet")
                continue
            key, fingerprint = f"{dataset}/{day}", _fingerprint(path)
            cursor[key] = fingerprint
            if seen.get(key) == fingerprint:
                continue
            # New or changed by its size and time: hash it only now, and skip content already materialised
            # (by `demo`, `kura-dagster run`, or a run before the cursor was lost).
            if dataset in known and _materialised(
                context.instance, partition_key(dataset, day), file_sha256(path)
            ):
                context.log.info(f"{dataset}/{path.name}: this content is already materialised")
                continue
            run_requests.append(
                RunRequest(
                    partition_key=partition_key(dataset, day),
                    # The fingerprint in the run key makes a second launch of the same content impossible,
                    # even if the cursor is lost; a changed file gets a new key and runs again.
                    run_key=f"{dataset}|{day}|{fingerprint}",
                    tags={TRIGGER_TAG: "landing_zone"},
                )
            )

    # Dagster applies dynamic_partitions_requests before it submits (and validates) the run requests of
    # the same tick, so a day of a dataset registered in this very tick is already a valid partition key.
    return SensorResult(
        run_requests=run_requests,
        skip_reason=None if run_requests else SkipReason("no new or changed landing files"),
        dynamic_partitions_requests=[DATASET_PARTITIONS.build_add_request(new_datasets)]
        if new_datasets
        else [],
        cursor=json.dumps(cursor, sort_keys=True),
    )


def build_daily_schedule(settings: Settings, job) -> ScheduleDefinition:
    """The daily recluster of `job` (the pipeline job) on KURA_SCHEDULE_CRON, in UTC."""
    first_day = date_dimension(job.partitions_def).start.date()

    @schedule(
        name="daily_recluster_schedule",
        job=job,
        cron_schedule=settings.schedule_cron,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Reruns yesterday's partition of every registered dataset: its stages, the taxonomy rebuilt "
        "over the window ending yesterday, yesterday's assignments and trends.",
    )
    def daily_recluster_schedule(context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
        datasets = sorted(context.instance.get_dynamic_partitions(DATASET_PARTITIONS.name))
        if not datasets:
            return SkipReason("no dataset registered yet")
        # Yesterday relative to the tick's own time, not the clock, so a late or replayed tick runs its day.
        day: date = context.scheduled_execution_time.astimezone(timezone.utc).date() - timedelta(days=1)
        if day < first_day:
            return SkipReason(f"{day} is before the first date partition")
        # run_key "<dataset>|<date>": a cron firing more than once a day still reclusters each day once.
        return [
            RunRequest(
                partition_key=partition_key(dataset, day.isoformat()),
                run_key=f"{dataset}|{day}",
                tags={TRIGGER_TAG: "daily_recluster"},
            )
            for dataset in datasets
        ]

    return daily_recluster_schedule
