"""`kura-dagster run` killed mid-stage and run again; Ctrl-C on a run that waits for the DuckDB writer slot.

Both the way a person meets them: the command in its own terminal session (its code server and run worker
in the same process group), SIGKILL of that whole group as when the machine stops or the out-of-memory
killer strikes, Ctrl-C as the terminal sends it (SIGINT to the group).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import psutil
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, materialize

from kura_dagster.core.settings import Settings
from kura_dagster.defs.asset_graph import build_asset_graph
from kura_dagster.defs.names import POOL
from kura_dagster.defs.partitions import DATASET_PARTITIONS, partition_key
from kura_dagster.defs.resources import resources_from_settings
from kura_dagster.launch.instance import ensure_instance_config
from kura_dagster_tests.conftest import make_conversations, write_jsonl
from kura_dagster_tests.slot_holder import SlotHolder, wait_for
from kura_dagster_tests.terminal_signals import default_signal_handling

DATASET, DAY = "crash", "2026-11-01"


def _env(home: Path, data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KURA_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "KURA_DATA_DIR": str(data),
    }


def _command(*args: str) -> list[str]:
    script = Path(sys.executable).parent / "kura-dagster"
    return ([str(script)] if script.exists() else [sys.executable, "-m", "kura_dagster.cli"]) + list(args)


def _run(home: Path, data: Path) -> subprocess.CompletedProcess:
    """`kura-dagster run --dataset crash --all`, to its end."""
    return subprocess.run(
        _command("run", "--dataset", DATASET, "--all"),
        env=_env(home, data),
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _start(home: Path, data: Path, out: Path) -> subprocess.Popen:
    """The command in a session of its own, as in a terminal: its children share its process group."""
    return subprocess.Popen(
        _command("run", "--dataset", DATASET, "--all"),
        env=_env(home, data),
        cwd=home.parent,
        stdout=(out / "stdout").open("w"),
        stderr=(out / "stderr").open("w"),
        start_new_session=True,
        preexec_fn=default_signal_handling,  # Ctrl-C must reach it as from a terminal
    )


def _session(pid: int) -> list[psutil.Process]:
    """The processes still alive in the session of `pid` (the command's code server, run worker, ...)."""
    left = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == pid and process.status() != psutil.STATUS_ZOMBIE:
                left.append(process)
        except (ProcessLookupError, psutil.Error):
            pass
    return left


def _tables(home: Path) -> dict[str, list]:
    with duckdb.connect(str(home / "kura.duckdb"), read_only=True) as connection:
        names = [
            name
            for (name,) in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'kura' ORDER BY 1"
            ).fetchall()
            if not name.startswith("_")
        ]  # the store's own bookkeeping (the write log counts writes)
        return {
            name: connection.execute(f"SELECT * FROM kura.kura.{name} ORDER BY ALL").fetchall()
            for name in names
        }


@pytest.fixture
def landing_zone(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "data" / DATASET / f"{DAY}.jsonl", make_conversations(per_theme=4, day=DAY))
    return tmp_path / "data"


def test_a_run_killed_mid_stage_is_recovered_by_the_next_run_which_equals_an_uninterrupted_one(
    tmp_path: Path, landing_zone: Path
):
    home = tmp_path / "home"
    command = _start(home, landing_zone, tmp_path)
    # Opened once the command has created the instance's storage (two processes creating it race).
    wait_for(
        lambda: "Backfill " in (tmp_path / "stdout").read_text(),
        "the backfill",
        timeout_s=300,
        process=command,
    )
    instance = DagsterInstance.from_config(str(home / "dagster"))

    def embedding() -> str | None:  # the run, once it is inside its `embeddings` stage
        for run in instance.get_runs():
            for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_START):
                if entry.dagster_event.step_key == "embeddings":
                    return run.run_id
        return None

    run_id = wait_for(embedding, "the run to reach its embeddings stage", timeout_s=300, process=command)
    os.killpg(command.pid, signal.SIGKILL)  # the command, its code server and the run worker, mid-stage
    command.wait()
    wait_for(lambda: not _session(command.pid), "the killed processes to go")
    assert instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED  # what Dagster leaves alone
    instance.dispose()

    again = _run(home, landing_zone)

    assert again.returncode == 0, again.stdout + again.stderr
    recovered = [line for line in again.stdout.splitlines() if line.startswith("Recovered run")]
    assert (
        len(recovered) == 1
        and recovered[0].startswith(f"Recovered run {run_id[:8]} ({DATASET} {DAY}): its process ")
        and "marked it failed" in recovered[0]
    )
    assert f"[1/1] {DATASET} {DAY}: ok in " in again.stdout
    assert _tables(home) == _uninterrupted(tmp_path / "clean", landing_zone)


def _uninterrupted(home: Path, data: Path) -> dict[str, list]:
    """The tables of the same partition materialised in one go, in this process (the same assets and IO
    manager as the command's run, without its process start-ups)."""
    settings = Settings(home=home, data_dir=data)
    settings.prepare_home()
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(DATASET_PARTITIONS.name, [DATASET])
    result = materialize(
        build_asset_graph(settings),
        partition_key=partition_key(DATASET, DAY),
        instance=instance,
        resources=resources_from_settings(settings),
    )
    assert result.success
    return _tables(home)


def test_ctrl_c_on_a_run_waiting_for_the_duckdb_slot_stops_it_and_all_its_processes(
    tmp_path: Path, landing_zone: Path, monkeypatch: pytest.MonkeyPatch
):
    home = tmp_path / "home"
    ensure_instance_config(home / "dagster")
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))  # where the holder's process finds the instance
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        holder = SlotHolder(instance, tmp_path, "holder")  # a run of another process, alive, holding the slot
        try:
            wait_for(
                lambda: (
                    [s.run_id for s in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots]
                    == [holder.run_id]
                ),
                "the other run to take the slot",
                process=holder.process,
            )
            command = _start(home, landing_zone, tmp_path)
            waiting = wait_for(
                lambda: (
                    "Waiting for the DuckDB writer slot" in (tmp_path / "stdout").read_text()
                    and (tmp_path / "stdout").read_text()
                ),
                "the command to say what it waits for",
                timeout_s=300,
                process=command,
            )
            assert (
                f"Waiting for the DuckDB writer slot: run {holder.run_id[:8]} (no partition) of another command "
                "or of the daemon holds it" in waiting
            )

            os.killpg(command.pid, signal.SIGINT)  # Ctrl-C in its terminal

            assert command.wait(timeout=120) == 130
            last = (tmp_path / "stderr").read_text().strip().splitlines()[-1]
            assert last.startswith("kura-dagster run: interrupted: backfill ") and last.endswith(
                "canceled: 1 run(s) in progress stopped, 0 queued run(s) canceled; no process of it is left running"
            )
            assert _session(command.pid) == []  # no code server, no run worker left behind
            (mine,) = [run for run in instance.get_runs() if run.run_id != holder.run_id]
            # Canceled, or failed when the terminal's SIGINT reached its worker before the cancel request did.
            assert mine.status in (DagsterRunStatus.CANCELED, DagsterRunStatus.FAILURE)
            pool = instance.event_log_storage.get_concurrency_info(POOL)
            assert mine.run_id not in {
                step.run_id for step in pool.pending_steps
            }  # its place in the pool is gone
            # The other process's run was never touched: alive, still holding its slot, and it finishes.
            assert holder.process.poll() is None
            assert instance.get_run_by_id(holder.run_id).status == DagsterRunStatus.STARTED
            assert holder.release() == 0
        finally:
            if holder.process.poll() is None:
                holder.kill()
