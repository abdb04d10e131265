"""Automation: a sensor that picks up new landing-zone files and a schedule that reclusters yesterday.

The sensor registers every new folder `data/<dataset>/` as a partition of the dynamic `dataset`
dimension and requests one run of `kura_pipeline` per new or changed `data/<dataset>/<YYYY-MM-DD>.jsonl`.
The schedule reruns yesterday's partition of every registered dataset, for late files and new settings.
"""

from __future__ import annotations

import json
from datetime import date, timedelta, timezone
from pathlib import Path

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    schedule,
    sensor,
)

from kura_dagster.core.landing import scan_landing_zone
from kura_dagster.core.settings import SETTING_BY_NAME, Settings, read_setting
from kura_dagster.defs.jobs import kura_pipeline
from kura_dagster.defs.partitions import DATASET_PARTITIONS, DATE_PARTITIONS, partition_key

DEFAULT_SCHEDULE_CRON = SETTING_BY_NAME["KURA_SCHEDULE_CRON"].default
TRIGGER_TAG = "kura/trigger"


def _fingerprint(path: Path) -> str:
    # size + mtime_ns rather than a sha256: the sensor runs every 30 s over the whole landing zone, and a
    # stat costs nothing while hashing would re-read every file on every tick. The price is that a `touch`
    # without a change reruns its partition, which is harmless because a run replaces the partition's rows.
    # A file caught half-written changes size/mtime again when finished, so its final content is run too.
    stat = path.stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def _load_cursor(raw: str | None) -> dict[str, str]:
    # A cursor that cannot be read is treated as empty: every file is requested once more, and the run
    # keys (which carry the fingerprint) let the daemon drop the ones it already launched.
    try:
        cursor = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in cursor.items()} if isinstance(cursor, dict) else {}


@sensor(
    job=kura_pipeline,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Registers new dataset folders of the landing zone and runs each new or changed daily file.",
)
def landing_zone_sensor(context: SensorEvaluationContext) -> SensorResult | SkipReason:
    data_dir = Settings.from_env().data_dir
    if not data_dir.is_dir():
        # Keep the cursor: an unmounted or not-yet-created folder must not make every file look new later.
        return SkipReason(f"landing zone {data_dir} does not exist")

    seen = _load_cursor(context.cursor)
    start = DATE_PARTITIONS.start.strftime("%Y-%m-%d")
    # The daily dimension ends with the last complete day: today's file becomes a partition at midnight
    # UTC, so it is left out of the cursor and picked up by the first tick after that.
    last = DATE_PARTITIONS.get_last_partition_key() or ""
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
            if day > last:
                context.log.info(f"waiting for {dataset}/{path.name}: the day {day} is not complete yet")
                continue
            key, fingerprint = f"{dataset}/{day}", _fingerprint(path)
            cursor[key] = fingerprint
            if seen.get(key) != fingerprint:
                run_requests.append(RunRequest(
                    partition_key=partition_key(dataset, day),
                    # The fingerprint in the run key makes a second launch of the same content impossible,
                    # even if the cursor is lost; a changed file gets a new key and runs again.
                    run_key=f"{dataset}|{day}|{fingerprint}",
                    tags={TRIGGER_TAG: "landing_zone"},
                ))

    # Dagster applies dynamic_partitions_requests before it submits (and validates) the run requests of
    # the same tick, so a day of a dataset registered in this very tick is already a valid partition key.
    return SensorResult(
        run_requests=run_requests,
        skip_reason=None if run_requests else SkipReason("no new or changed landing files"),
        dynamic_partitions_requests=[DATASET_PARTITIONS.build_add_request(new_datasets)] if new_datasets else [],
        cursor=json.dumps(cursor, sort_keys=True),
    )


def build_daily_schedule(cron: str | None = None) -> ScheduleDefinition:
    """The daily recluster on `cron` (default: env KURA_SCHEDULE_CRON, else 02:00 UTC)."""
    cron = cron or read_setting("KURA_SCHEDULE_CRON")

    @schedule(
        name="daily_recluster_schedule",
        job=kura_pipeline,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Reruns yesterday's partition of every registered dataset (late files, new settings).",
    )
    def daily_recluster_schedule(context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
        datasets = sorted(context.instance.get_dynamic_partitions(DATASET_PARTITIONS.name))
        if not datasets:
            return SkipReason("no dataset registered yet")
        # Yesterday relative to the tick's own time, not the clock, so a late or replayed tick runs its day.
        day: date = context.scheduled_execution_time.astimezone(timezone.utc).date() - timedelta(days=1)
        if day < DATE_PARTITIONS.start.date():
            return SkipReason(f"{day} is before the first date partition")
        # run_key "<dataset>|<date>": a cron firing more than once a day still reclusters each day once.
        return [
            RunRequest(partition_key=partition_key(dataset, day.isoformat()), run_key=f"{dataset}|{day}",
                       tags={TRIGGER_TAG: "daily_recluster"})
            for dataset in datasets
        ]

    return daily_recluster_schedule


daily_recluster_schedule = build_daily_schedule()

AUTOMATIONS = [landing_zone_sensor, daily_recluster_schedule]
