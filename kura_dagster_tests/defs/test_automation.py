"""The landing-zone sensor and the daily recluster schedule, evaluated the way the Dagster daemon does."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from dagster import (
    DagsterInstance,
    Definitions,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)

from kura_dagster.core.settings import SETTING_BY_NAME, Settings
from kura_dagster.definitions import build_definitions
from kura_dagster.defs.automation import build_daily_schedule
from kura_dagster.defs.jobs import build_pipeline_job
from kura_dagster.defs.partitions import kura_partitions
from kura_dagster_tests.conftest import make_conversations, write_jsonl

FEW = make_conversations(per_theme=1)


def _definitions() -> Definitions:
    """The definitions as Dagster loads them when the code location starts (before the files of a test land)."""
    return build_definitions(Settings.from_env())


@pytest.fixture
def zone(kura_env: Path) -> Path:
    return kura_env / "data"


@pytest.fixture
def instance():
    # A persistent (temporary) instance: Dagster's test contexts need an instance reference to load
    # dynamic partitions, which DagsterInstance.ephemeral() cannot give.
    with instance_for_test() as instance:
        yield instance


@pytest.fixture
def defs(kura_env: Path) -> Definitions:
    return _definitions()


def _day_file(zone: Path, dataset: str, day: str) -> Path:
    return write_jsonl(zone / dataset / f"{day}.jsonl", FEW)


def _sensor_context(instance: DagsterInstance, defs: Definitions, cursor: str | None):
    # Without instance_ref, Dagster 1.13's test context has no dynamic-partitions loader and cannot
    # validate partition keys of a dynamic dimension (the daemon always passes one).
    return build_sensor_context(
        instance=instance, instance_ref=instance.get_ref(), cursor=cursor, definitions=defs
    )


def tick(instance: DagsterInstance, defs: Definitions, cursor: str | None):
    """One sensor tick as the daemon runs it: evaluate (resolving partition keys), then apply the
    dynamic-partition requests. Returns (requested partition keys, run keys, new cursor, added datasets)."""
    context = _sensor_context(instance, defs, cursor)
    data = defs.resolve_sensor_def("landing_zone_sensor").evaluate_tick(context)
    added = []
    for request in data.dynamic_partitions_requests or []:
        added += request.partition_keys
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    keys = [request.partition_key for request in data.run_requests]
    return keys, [request.run_key for request in data.run_requests], data.cursor, added


def test_first_tick_registers_datasets_and_requests_one_run_per_file(zone, instance, defs):
    for day in ("2026-11-01", "2026-11-02"):
        _day_file(zone, "support_bot", day)
    _day_file(zone, "coding_assistant", "2026-11-01")
    (zone / "empty_one").mkdir()

    keys, run_keys, cursor, added = tick(instance, defs, None)

    # Run requests name partitions of datasets that only exist once this tick's add request is applied:
    # evaluate_tick validated them against the instance *after* the requests, as the daemon does.
    assert added == ["coding_assistant", "empty_one", "support_bot"]
    assert keys == ["coding_assistant|2026-11-01", "support_bot|2026-11-01", "support_bot|2026-11-02"]
    assert len(set(run_keys)) == 3 and all(rk.startswith(k + "|") for rk, k in zip(run_keys, keys))
    assert set(json.loads(cursor)) == {
        "coding_assistant/2026-11-01",
        "support_bot/2026-11-01",
        "support_bot/2026-11-02",
    }
    assert set(instance.get_dynamic_partitions("dataset")) == set(added)


def test_second_tick_and_restart_request_nothing(zone, instance, defs):
    _day_file(zone, "support_bot", "2026-11-01")
    _, _, cursor, _ = tick(instance, defs, None)

    keys, _, again, added = tick(instance, defs, cursor)
    assert keys == [] and added == [] and again == cursor

    # A restart: a new instance handle and new definitions, only the persisted cursor carried over.
    keys, _, _, added = tick(instance, _definitions(), cursor)
    assert keys == [] and added == []


def test_changed_touched_and_new_files_are_requested_alone(zone, instance, defs):
    first = _day_file(zone, "support_bot", "2026-11-01")
    _day_file(zone, "support_bot", "2026-11-02")
    _, run_keys, cursor, _ = tick(instance, defs, None)

    write_jsonl(first, make_conversations(per_theme=2))  # content changed
    keys, changed_keys, cursor, _ = tick(instance, defs, cursor)
    assert keys == ["support_bot|2026-11-01"] and changed_keys[0] not in run_keys

    stat = first.stat()
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touched only
    keys, _, cursor, _ = tick(instance, defs, cursor)
    assert keys == ["support_bot|2026-11-01"]

    _day_file(zone, "support_bot", "2026-11-03")
    keys, _, cursor, _ = tick(instance, defs, cursor)
    assert keys == ["support_bot|2026-11-03"]

    _day_file(zone, "new_dataset", "2026-11-03")
    keys, _, cursor, added = tick(instance, defs, cursor)
    assert added == ["new_dataset"] and keys == ["new_dataset|2026-11-03"]
    assert "new_dataset" in instance.get_dynamic_partitions("dataset")


def test_invalid_folders_and_file_names_are_skipped(zone, instance, defs):
    _day_file(zone, "good", "2026-11-01")
    _day_file(zone, "Bad Name", "2026-11-01")
    _day_file(zone, "UPPER", "2026-11-01")
    for name in ("notes", "2026-13-45", "2026-1-1", "2026-W45-1", "2026-11-01-extra"):
        _day_file(zone, "good", name)
    _day_file(zone, "good", "2023-12-31")  # before the first date partition (2024-01-01)
    (zone / "good" / "README.md").write_text("not a day file")
    today = datetime.now(timezone.utc).date().isoformat()
    _day_file(zone, "good", today)  # not a partition until the day is over

    keys, _, cursor, added = tick(instance, defs, None)
    assert added == ["good"]
    assert keys == ["good|2026-11-01"]
    # Today's file stays out of the cursor, so it is requested by the first tick after midnight UTC.
    assert json.loads(cursor).keys() == {"good/2026-11-01"}


def test_missing_landing_zone_skips_and_keeps_the_cursor(kura_env, instance, defs):
    context = _sensor_context(instance, defs, '{"a/2026-11-01": "1-2"}')
    data = defs.resolve_sensor_def("landing_zone_sensor").evaluate_tick(context)
    assert data.run_requests == [] and "does not exist" in data.skip_message
    assert data.cursor == '{"a/2026-11-01": "1-2"}'


def test_schedule_requests_yesterday_for_every_registered_dataset(kura_env, instance, defs):
    at = datetime(2026, 11, 8, 2, 0, tzinfo=timezone.utc)
    daily_recluster_schedule = defs.resolve_schedule_def("daily_recluster_schedule")
    data = daily_recluster_schedule.evaluate_tick(
        build_schedule_context(instance=instance, scheduled_execution_time=at)
    )
    assert data.run_requests is None or data.run_requests == []
    assert "no dataset" in data.skip_message

    instance.add_dynamic_partitions("dataset", ["support_bot", "coding_assistant"])
    context = build_schedule_context(
        instance=instance, scheduled_execution_time=at, repository_def=defs.get_repository_def()
    )
    requests = daily_recluster_schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["coding_assistant|2026-11-07", "support_bot|2026-11-07"]
    assert [r.run_key for r in requests] == ["coding_assistant|2026-11-07", "support_bot|2026-11-07"]
    assert all(r.tags["kura/trigger"] == "daily_recluster" for r in requests)


def test_schedule_assigns_yesterday_and_rebuilds_the_taxonomy_ending_yesterday(kura_env, instance, defs):
    """The daily recluster is the taxonomy's daily rebuild: each request runs the pipeline job on yesterday's
    partition, and that job materialises the taxonomy (window ending on its day), the assignments and trends."""
    instance.add_dynamic_partitions("dataset", ["support_bot", "coding_assistant"])
    at = datetime(2026, 11, 8, 2, 0, tzinfo=timezone.utc)
    context = build_schedule_context(
        instance=instance, scheduled_execution_time=at, repository_def=defs.get_repository_def()
    )
    schedule = defs.resolve_schedule_def("daily_recluster_schedule")
    requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["coding_assistant|2026-11-07", "support_bot|2026-11-07"]
    job = defs.resolve_job_def(schedule.job_name)
    assets = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert {"taxonomy", "topic_lineage", "topic_assignments", "topic_trends", "report"} <= assets
    # Every dataset's request targets yesterday in each asset: the taxonomy version of 2026-11-07 (its window
    # ends that day), that day's assignments and trends.
    for request in requests:
        subset = job.partitions_def.get_partition_keys(dynamic_partitions_store=instance)
        assert request.partition_key in subset


def test_schedule_cron_comes_from_the_settings(kura_env, monkeypatch):
    settings = Settings.from_env()
    job = build_pipeline_job(kura_partitions(settings))
    schedule = build_daily_schedule(settings, job)
    assert schedule.execution_timezone == "UTC"
    assert schedule.cron_schedule == SETTING_BY_NAME["KURA_SCHEDULE_CRON"].default == "0 2 * * *"
    monkeypatch.setenv("KURA_SCHEDULE_CRON", "30 5 * * *")
    assert build_daily_schedule(Settings.from_env(), job).cron_schedule == "30 5 * * *"
    # Built once: a variable changed afterwards changes nothing until the definitions are loaded again.
    assert schedule.cron_schedule == "0 2 * * *"


def test_definitions_with_automations_validate(kura_env):
    defs = _definitions()
    Definitions.validate_loadable(defs)
    assert {a.name for a in [*defs.sensors, *defs.schedules]} == {
        "landing_zone_sensor",
        "daily_recluster_schedule",
    }
