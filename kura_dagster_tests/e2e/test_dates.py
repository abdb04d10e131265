"""Dates that work: the date partitions start at the landing zone's first day, today can be run, and a day
that cannot be a partition is refused naming the dataset, the file and the date."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kura_dagster_tests.conftest import REPO, make_conversations, write_jsonl


def _kura(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "kura-dagster"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "kura_dagster.cli"]
    return subprocess.run(
        command + list(args), cwd=cwd, env=dict(os.environ), capture_output=True, text=True, timeout=600
    )


def _date_partitions(cwd: Path, **env: str) -> list[str]:
    """The days the definitions offer, as `dagster dev` (the UI's partition bar) loads them."""
    code = (
        "from kura_dagster.definitions import defs\n"
        "keys = defs.resolve_job_def('kura_pipeline').partitions_def.get_partitions_def_for_dimension('date')"
        ".get_partition_keys()\n"
        "print(keys[0], keys[-1], len(keys))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
    )
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.split()


def test_date_partitions_start_at_the_first_day_of_the_landing_zone(kura_env: Path, monkeypatch):
    monkeypatch.delenv("KURA_START_DATE", raising=False)
    today = datetime.now(timezone.utc).date()
    first = today - timedelta(days=9)
    for day in (first, first + timedelta(days=2)):
        write_jsonl(
            kura_env / "data" / "support" / f"{day}.jsonl", make_conversations(per_theme=1, day=str(day))
        )

    # The sample's days, then every day to today: no years of empty partitions before them.
    assert _date_partitions(kura_env) == [str(first), str(today), "10"]
    assert _date_partitions(kura_env, KURA_START_DATE=str(first - timedelta(days=5)))[0] == str(
        first - timedelta(days=5)
    )
    empty = kura_env / "empty"
    empty.mkdir()
    assert _date_partitions(kura_env, KURA_DATA_DIR=str(empty))[0] == "2024-01-01"  # nothing landed yet


def test_today_runs_and_a_day_after_today_is_refused_naming_dataset_file_and_date(
    kura_env: Path, monkeypatch
):
    monkeypatch.delenv("KURA_START_DATE", raising=False)
    today = datetime.now(timezone.utc).date()
    folder = kura_env / "data" / "live"
    write_jsonl(folder / f"{today}.jsonl", make_conversations(per_theme=3, day=str(today)))
    tomorrow = today + timedelta(days=1)
    write_jsonl(folder / f"{tomorrow}.jsonl", make_conversations(per_theme=3, day=str(tomorrow)))

    refused = _kura("run", "--dataset", "live", "--all", cwd=kura_env)

    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr == (
        f"kura-dagster run: error: dataset 'live', {tomorrow} ({folder / f'{tomorrow}.jsonl'}): "
        f"{tomorrow} is after today ({today} UTC), so it is not a date partition yet; check the "
        "timestamps of its conversations (or ingest with --default-date)\n"
    )

    (folder / f"{tomorrow}.jsonl").unlink()
    ran = _kura("run", "--dataset", "live", "--all", cwd=kura_env)

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"{today} is today (UTC) and not over: its run covers what live landed so far" in ran.stdout
    assert f"[1/1] live {today}: ok in " in ran.stdout
