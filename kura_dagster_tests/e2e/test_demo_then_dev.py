"""`make demo`, then `make dev`: the demo's progress, then the first ticks of the landing-zone sensor.

The demo runs as a person runs it (`kura-dagster demo`, its own process); the sensor is evaluated on the same
Dagster instance the way the `make dev` daemon evaluates it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from dagster import build_sensor_context

from kura_dagster.core.settings import Settings
from kura_dagster.definitions import build_definitions
from kura_dagster.launch.runs import kura_instance
from kura_dagster_tests.conftest import make_conversations, write_jsonl

DAYS = ("2026-11-01", "2026-11-02")


def _demo(cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "kura-dagster"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "kura_dagster.cli"]
    return subprocess.run(
        command + ["demo"], cwd=cwd, env=dict(os.environ), capture_output=True, text=True, timeout=600
    )


def _tick(instance, cursor: str | None):
    """One evaluation of the sensor as the daemon does it: (requested partition keys, new cursor)."""
    definitions = build_definitions(Settings.from_env())
    context = build_sensor_context(
        instance=instance, instance_ref=instance.get_ref(), cursor=cursor, definitions=definitions
    )
    data = definitions.resolve_sensor_def("landing_zone_sensor").evaluate_tick(context)
    return [request.partition_key for request in data.run_requests], data.cursor


def test_after_the_demo_the_sensor_requests_nothing_until_a_file_changes(kura_env: Path):
    data = kura_env / "data"
    for seed, day in enumerate(DAYS):
        write_jsonl(data / "alpha" / f"{day}.jsonl", make_conversations(per_theme=3, seed=seed, day=day))
    write_jsonl(data / "beta" / f"{DAYS[0]}.jsonl", make_conversations(per_theme=3, seed=5, day=DAYS[0]))

    demo = _demo(kura_env)

    assert demo.returncode == 0, demo.stdout + demo.stderr
    # One progress line per run, with that run's own time: alpha's two days went in one run.
    progress = [line for line in demo.stdout.splitlines() if line.startswith("[")]
    assert len(progress) == 2, progress
    assert re.fullmatch(
        r"\[1-2/3\] alpha 2026-11-01\.\.2026-11-02: ok in \d+\.\ds \(run \w{8}\)", progress[0]
    )
    assert re.fullmatch(r"\[3/3\] beta 2026-11-01: ok in \d+\.\ds \(run \w{8}\)", progress[1])

    with kura_instance(Settings.from_env()) as instance:
        # `make dev` starts: the sensor's first tick, with no cursor yet, finds every file done.
        requested, cursor = _tick(instance, None)
        assert requested == []
        assert set(json.loads(cursor)) == {"alpha/2026-11-01", "alpha/2026-11-02", "beta/2026-11-01"}

        # A file saved again unchanged (new time stamp, same bytes) runs nothing; a changed file runs once.
        unchanged = data / "beta" / f"{DAYS[0]}.jsonl"
        os.utime(unchanged, ns=(unchanged.stat().st_atime_ns, unchanged.stat().st_mtime_ns + 10**9))
        write_jsonl(data / "alpha" / f"{DAYS[1]}.jsonl", make_conversations(per_theme=4, seed=1, day=DAYS[1]))
        requested, cursor = _tick(instance, cursor)
        assert requested == ["alpha|2026-11-02"]
        assert _tick(instance, cursor)[0] == []
