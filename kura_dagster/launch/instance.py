"""The Dagster instance's configuration (`$DAGSTER_HOME/dagster.yaml`), shared by `make dev` and the CLI.

Runs may go in parallel, but DuckDB has a single writer: every asset declares `pool="kura_duckdb"`, and
the instance lets one step of a pool run at a time across all runs (op granularity), so a second run
prepares (starts its process, loads code) while the first one writes. Storage stays the default SQLite
files in DAGSTER_HOME, which supports the pool slots. The queue starts one run of a dataset at a time, in
the order the runs were queued (`launch/run_queue.py`), so a backfill builds its taxonomy versions in date
order.

Runs survive their processes being killed: the run launcher is Dagster's default one plus a check of the
run's process (`launch/recovery.py`), and run monitoring is on, so the `make dev` daemon fails a run whose
process died and frees the pool slot it held, instead of every later run waiting for that slot forever.

`python -m kura_dagster.launch.instance` writes the file when it is missing or empty (what `make dev`
does) and never overwrites a file someone edited; a file an earlier kura-dagster wrote, unedited, is brought
up to date, and an edited one that names the run launcher's former module (`kura_dagster.defs.recovery`)
gets its new one, the edits kept.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

INSTANCE_YAML = """\
# Written by kura-dagster (kura_dagster/launch/instance.py) when this file was missing or empty.
# Edit freely: kura-dagster never overwrites a dagster.yaml that was edited.
concurrency:
  runs:
    # Runs of the queue in progress at once (KURA_MAX_CONCURRENT when this file was written).
    max_concurrent_runs: {max_concurrent_runs}
    # One run of a dataset at a time, oldest queued first: each day's taxonomy version is built from the
    # previous day's, which an earlier run writes (the run coordinator below tags runs with their dataset).
    tag_concurrency_limits:
      - key: kura/dataset
        value:
          applyLimitPerUniqueValue: true
        limit: 1
  pools:
    # Every pool without an explicit limit, in particular "kura_duckdb" (all six assets): one step at
    # a time across all runs, because DuckDB allows one writer process.
    default_limit: 1
    granularity: op
    # Runs whose steps all wait for a pool slot that the queue may still launch (they load code meanwhile).
    op_granularity_run_buffer: 1
# Dagster's run queue, tagging each run with its dataset as it is queued (kura_dagster/launch/run_queue.py).
run_coordinator:
  module: kura_dagster.launch.run_queue
  class: KuraRunCoordinator
# The default launcher (each run in a subprocess of a code server), plus a health check: a run whose
# process died (kill -9, out of memory) is dead, not running (kura_dagster/launch/recovery.py).
run_launcher:
  module: kura_dagster.launch.recovery
  class: KuraRunLauncher
# The daemon (make dev) fails dead runs and gives their pool slots back, so later runs do not wait forever.
run_monitoring:
  enabled: true
  poll_interval_seconds: 30
  free_slots_after_run_end_seconds: 10
# No network: the project runs offline.
telemetry:
  enabled: false
"""

# What earlier versions of kura-dagster wrote, word for word: a file still equal to one of them (whatever its
# run limit) was never edited, so it is replaced by the current config. First, before run monitoring:
LEGACY_INSTANCE_YAML = """\
# Written by kura-dagster (kura_dagster/defs/instance.py) when this file was missing or empty.
# Edit freely: kura-dagster never overwrites a non-empty dagster.yaml.
concurrency:
  runs:
    # Runs of the queue in progress at once (KURA_MAX_CONCURRENT when this file was written).
    max_concurrent_runs: {max_concurrent_runs}
  pools:
    # Every pool without an explicit limit, in particular "kura_duckdb" (all six assets): one step at
    # a time across all runs, because DuckDB allows one writer process.
    default_limit: 1
    granularity: op
    # Runs whose steps all wait for a pool slot that the queue may still launch (they load code meanwhile).
    op_granularity_run_buffer: 1
# No network: the project runs offline.
telemetry:
  enabled: false
"""
# Then with run monitoring, while the run driver lived in kura_dagster/defs/:
DEFS_INSTANCE_YAML = """\
# Written by kura-dagster (kura_dagster/defs/instance.py) when this file was missing or empty.
# Edit freely: kura-dagster never overwrites a dagster.yaml that was edited.
concurrency:
  runs:
    # Runs of the queue in progress at once (KURA_MAX_CONCURRENT when this file was written).
    max_concurrent_runs: {max_concurrent_runs}
  pools:
    # Every pool without an explicit limit, in particular "kura_duckdb" (all six assets): one step at
    # a time across all runs, because DuckDB allows one writer process.
    default_limit: 1
    granularity: op
    # Runs whose steps all wait for a pool slot that the queue may still launch (they load code meanwhile).
    op_granularity_run_buffer: 1
# The default launcher (each run in a subprocess of a code server), plus a health check: a run whose
# process died (kill -9, out of memory) is dead, not running (kura_dagster/defs/recovery.py).
run_launcher:
  module: kura_dagster.defs.recovery
  class: KuraRunLauncher
# The daemon (make dev) fails dead runs and gives their pool slots back, so later runs do not wait forever.
run_monitoring:
  enabled: true
  poll_interval_seconds: 30
  free_slots_after_run_end_seconds: 10
# No network: the project runs offline.
telemetry:
  enabled: false
"""
# The run launcher's module before kura_dagster/launch/ existed: an edited file naming it gets the new one.
FORMER_LAUNCHER_MODULE = "module: kura_dagster.defs.recovery\n"
LAUNCHER_MODULE = "module: kura_dagster.launch.recovery\n"
# Then with the run driver in kura_dagster/launch/, before the queue ran one run of a dataset at a time: the
# same text with the new paths (derived, so that the two cannot drift apart by a character).
LAUNCH_INSTANCE_YAML = DEFS_INSTANCE_YAML.replace("kura_dagster/defs/", "kura_dagster/launch/").replace(
    FORMER_LAUNCHER_MODULE, LAUNCHER_MODULE
)
EARLIER_INSTANCE_YAMLS = (LEGACY_INSTANCE_YAML, DEFS_INSTANCE_YAML, LAUNCH_INSTANCE_YAML)


def instance_yaml(max_concurrent_runs: int = 2) -> str:
    return INSTANCE_YAML.format(max_concurrent_runs=max(1, int(max_concurrent_runs)))


def _written_by_an_earlier_version(text: str) -> bool:
    """Empty, or exactly what an earlier kura-dagster wrote (for any run limit): safe to replace."""
    if not text.strip():
        return True
    patterns = (
        re.escape(earlier).replace(re.escape("{max_concurrent_runs}"), r"\d+")
        for earlier in EARLIER_INSTANCE_YAMLS
    )
    return any(re.fullmatch(pattern, text) is not None for pattern in patterns)


def ensure_instance_config(dagster_home: Path, max_concurrent_runs: int = 2) -> Path:
    """Create `dagster_home/dagster.yaml` with the kura-dagster settings unless it has content of its own."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if _written_by_an_earlier_version(text):
        _write(path, instance_yaml(max_concurrent_runs))
    elif FORMER_LAUNCHER_MODULE in text:
        _write(path, text.replace(FORMER_LAUNCHER_MODULE, LAUNCHER_MODULE))
    return path


def _write(path: Path, text: str) -> None:
    # Write then rename, so a webserver or daemon starting at the same moment never reads half a file.
    partial = path.with_name(f".dagster.yaml.{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    from kura_dagster.core.settings import Settings

    settings = Settings.from_env()
    path = ensure_instance_config(settings.dagster_home, settings.max_concurrent)
    print(f"Dagster instance: {path.parent} (config {path})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
