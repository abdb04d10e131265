"""A real Dagster run that takes the `kura_duckdb` pool slot and keeps it until told to let go.

`python -m kura_dagster_tests.slot_holder RELEASE_FILE` executes, in the instance of DAGSTER_HOME, a one-op
job whose op (in the pool every pipeline asset uses) waits until RELEASE_FILE exists. Tests use it as "a run
alive in another process" (it must never be failed) or, once killed with SIGKILL, as a dead run that holds
the slot, in seconds instead of a pipeline run's half minute.
"""

# No `from __future__ import annotations`: Dagster inspects the real type hint of `context`.

import os
import subprocess
import sys
import time
from pathlib import Path

from dagster import DagsterInstance, OpExecutionContext, RunsFilter, execute_job, job, op, reconstructable

from kura_dagster.defs.names import POOL

RELEASE_WAIT_S = 120.0
REPO = Path(__file__).resolve().parents[1]


@op(pool=POOL, config_schema={"release_file": str})
def hold_the_slot(context: OpExecutionContext) -> None:
    release = Path(context.op_config["release_file"])
    deadline = time.monotonic() + RELEASE_WAIT_S
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


@job
def slot_holder() -> None:
    hold_the_slot()


class SlotHolder:
    """A slot_holder run in its own process (started at once; `run_id` waits for its run), `release()` to
    let it finish, `kill()` to SIGKILL it."""

    def __init__(self, instance: DagsterInstance, folder: Path, name: str):
        self.instance, self.release_file = instance, folder / f"release-{name}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kura_dagster_tests.slot_holder", str(self.release_file)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @property
    def run_id(self) -> str:
        def runs():
            return self.instance.get_runs(RunsFilter(tags={"test/release_file": str(self.release_file)}))

        return wait_for(lambda: next((run.run_id for run in runs()), None), "its run", process=self.process)

    def release(self) -> int:
        self.release_file.touch()
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no handler, no cleanup, the run is left as it was
        self.process.wait()


def wait_for(condition, what: str, timeout_s: float = 60.0, process: subprocess.Popen | None = None):
    """The first true value of `condition()`, polled; an AssertionError naming `what` after `timeout_s`,
    or as soon as `process` exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process exited ({process.returncode}) before {what}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def main(argv: list[str]) -> int:
    run_config = {"ops": {"hold_the_slot": {"config": {"release_file": argv[0]}}}}
    with DagsterInstance.get() as instance:
        with execute_job(
            reconstructable(slot_holder), instance, run_config=run_config, tags={"test/release_file": argv[0]}
        ) as result:
            return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
