"""Runs whose process was killed, next to runs alive in another process, as a command and the daemon see them.

The runs are real: `kura_dagster_tests.slot_holder` executes a job whose op holds the `kura_duckdb` slot in its
own process, in the instance kura writes; "killed" is SIGKILL of that process, which leaves the run STARTED
and the slot claimed, as after `kill -9`, the out-of-memory killer or a closed laptop.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, DagsterRunStatus

from kura_dagster.core.settings import Settings
from kura_dagster.defs.names import POOL
from kura_dagster.launch.dagster_private import WorkerStatus
from kura_dagster.launch.instance import (
    DEFS_INSTANCE_YAML,
    LEGACY_INSTANCE_YAML,
    ensure_instance_config,
    instance_yaml,
)
from kura_dagster.launch.recovery import KuraRunLauncher, recover_dead_runs
from kura_dagster.launch.runs import kura_instance
from kura_dagster_tests.slot_holder import SlotHolder, wait_for


@pytest.fixture
def instance(kura_env: Path):
    settings = Settings.from_env()
    settings.prepare_home()
    with kura_instance(settings) as instance:
        yield instance


def _claimed(instance: DagsterInstance) -> list[str]:
    return [slot.run_id for slot in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots]


def _pending(instance: DagsterInstance) -> list[str]:
    return [step.run_id for step in instance.event_log_storage.get_concurrency_info(POOL).pending_steps]


@pytest.fixture
def start_two(instance: DagsterInstance, kura_env: Path):
    """Two slot_holder runs: (the one that took the slot, the one waiting for it). Whatever a failing test
    left running is killed at the end."""
    started: list[SlotHolder] = []

    def start() -> tuple[SlotHolder, SlotHolder]:
        # One after the other: two steps asking at the same instant can both be granted the one slot (Dagster's
        # SQLite storage checks and takes a slot in two statements), and then no run is left waiting.
        started.append(SlotHolder(instance, kura_env, "a"))
        wait_for(lambda: _claimed(instance) == [started[0].run_id], "a run to take the slot")
        started.append(SlotHolder(instance, kura_env, "b"))
        wait_for(lambda: started[1].run_id in _pending(instance), "the other run to wait for the slot")
        return started[0], started[1]

    yield start
    for holder in started:
        if holder.process.poll() is None:
            holder.kill()


def _status(instance: DagsterInstance, run_id: str) -> DagsterRunStatus:
    return instance.get_run_by_id(run_id).status


def test_a_killed_run_is_failed_and_its_slot_freed_while_a_live_one_is_left_alone(instance, start_two):
    dead, alive = start_two()

    dead.kill()
    # What Dagster alone leaves behind: a STARTED run holding the slot, which the live run waits for forever.
    assert _status(instance, dead.run_id) == DagsterRunStatus.STARTED
    assert _claimed(instance) == [dead.run_id]

    recovered = recover_dead_runs(instance)

    assert [r.describe() for r in recovered] == [
        f"run {dead.run_id[:8]} (no partition): its process {dead.process.pid} is gone; "
        "marked it failed and freed its DuckDB writer slot"
    ]
    assert _status(instance, dead.run_id) == DagsterRunStatus.FAILURE
    # The live run in another process is untouched: still running, and it now gets the slot and finishes.
    assert alive.process.poll() is None and _status(instance, alive.run_id) == DagsterRunStatus.STARTED
    wait_for(lambda: _claimed(instance) == [alive.run_id], "the live run to take the freed slot")
    assert recover_dead_runs(instance) == []
    assert alive.release() == 0
    assert _status(instance, alive.run_id) == DagsterRunStatus.SUCCESS and _claimed(instance) == []


class _DaemonWorkspace:
    """What the daemon's run-monitoring iteration reads from its workspace: the instance (and a request
    context, used only to resume runs, which the default launcher cannot)."""

    def __init__(self, instance: DagsterInstance):
        self.instance = instance

    def create_request_context(self):
        return None


def test_the_daemon_fails_a_dead_run_and_frees_its_slot(instance, start_two, monkeypatch):
    # Dagster's own daemon iterations (dagster._daemon: what `make dev` runs), on the instance kura configures.
    from dagster._daemon.monitoring import concurrency
    from dagster._daemon.monitoring.run_monitoring import execute_run_monitoring_iteration

    assert isinstance(instance.run_launcher, KuraRunLauncher) and instance.run_monitoring_enabled
    dead, alive = start_two()
    assert (
        instance.run_launcher.check_run_worker_health(instance.get_run_by_id(dead.run_id)).status
        == WorkerStatus.RUNNING
    )
    dead.kill()

    health = instance.run_launcher.check_run_worker_health(instance.get_run_by_id(dead.run_id))
    assert health.status == WorkerStatus.FAILED and f"its process {dead.process.pid} is gone" in health.msg
    daemon, log = _DaemonWorkspace(instance), logging.getLogger("run_monitoring")
    list(execute_run_monitoring_iteration(daemon, log))
    assert _status(instance, dead.run_id) == DagsterRunStatus.FAILURE
    assert _status(instance, alive.run_id) == DagsterRunStatus.STARTED  # alive: never failed

    # The slot goes back free_slots_after_run_end_seconds after the run ended: the daemon's next pass then.
    later = concurrency.get_current_datetime() + timedelta(
        seconds=instance.run_monitoring_settings["free_slots_after_run_end_seconds"] + 1
    )
    monkeypatch.setattr(concurrency, "get_current_datetime", lambda: later)

    def daemon_pass_then_claimed() -> bool:
        # The daemon passes again and again, as `dagster dev` does, until the live run holds the slot.
        list(concurrency.execute_concurrency_slots_iteration(daemon, log))
        return _claimed(instance) == [alive.run_id]

    wait_for(daemon_pass_then_claimed, "the live run to take the freed slot", process=alive.process)
    assert dead.run_id not in _claimed(instance) + _pending(instance)
    assert alive.release() == 0


def test_instance_config_turns_on_run_monitoring_and_updates_an_unedited_earlier_file(tmp_path: Path):
    home = tmp_path / "dagster"
    home.mkdir()
    path = home / "dagster.yaml"
    path.write_text(
        LEGACY_INSTANCE_YAML.format(max_concurrent_runs=3), encoding="utf-8"
    )  # as kura wrote it before

    ensure_instance_config(home, max_concurrent_runs=3)

    config = yaml.safe_load(path.read_text())
    assert config["run_launcher"] == {"module": "kura_dagster.launch.recovery", "class": "KuraRunLauncher"}
    assert config["run_monitoring"]["enabled"] is True
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 3
    with DagsterInstance.from_config(str(home)) as loaded:
        assert isinstance(loaded.run_launcher, KuraRunLauncher) and loaded.run_monitoring_enabled
    edited = LEGACY_INSTANCE_YAML.format(max_concurrent_runs=2) + "# mine\n"
    path.write_text(edited, encoding="utf-8")
    ensure_instance_config(home)
    assert path.read_text() == edited  # somebody's edit is kept


def test_a_config_naming_the_launchers_former_module_gets_its_new_one(tmp_path: Path):
    """The run driver moved from kura_dagster/defs/ to kura_dagster/launch/: a dagster.yaml written before the
    move must still load, whether kura wrote it (replaced) or somebody edited it (the module line fixed)."""
    home = tmp_path / "dagster"
    home.mkdir()
    path = home / "dagster.yaml"
    path.write_text(DEFS_INSTANCE_YAML.format(max_concurrent_runs=4), encoding="utf-8")
    ensure_instance_config(home, max_concurrent_runs=4)
    assert path.read_text() == instance_yaml(4)

    edited = DEFS_INSTANCE_YAML.format(max_concurrent_runs=2).replace(
        "poll_interval_seconds: 30", "poll_interval_seconds: 60"
    )
    path.write_text(edited, encoding="utf-8")
    ensure_instance_config(home)
    assert path.read_text() == edited.replace(
        "module: kura_dagster.defs.recovery", "module: kura_dagster.launch.recovery"
    )
    with DagsterInstance.from_config(str(home)) as loaded:
        assert isinstance(loaded.run_launcher, KuraRunLauncher)
