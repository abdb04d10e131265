"""The README's Postgres `dagster.yaml`, for real: a throwaway PostgreSQL server, the sample pipeline run
through `kura-dagster run`, and the runs, event log, partitions and schedule state found in Postgres.

Marked `postgres` and deselected by default (`addopts` in pyproject.toml): run it with
`pytest -m postgres` (or `make test-postgres`). It needs PostgreSQL's server programs (`initdb`,
`pg_ctl`, `createdb`: `apt-get install postgresql`) and fails, never skips, when they are missing, so an
explicit run cannot pass without exercising Postgres. As root, the cluster runs as the `postgres` user
(initdb refuses root); otherwise as the current user. It listens on 127.0.0.1 on a free port, with
password authentication, and is stopped and deleted afterwards.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from kura_dagster_tests.conftest import REPO, SAMPLE_DATA
from kura_dagster_tests.e2e.test_cli import kura

pytestmark = pytest.mark.postgres

DATASET, DAY = "support_bot", "2026-11-01"
ASSETS = ("conversations", "summaries", "embeddings", "base_clusters", "meta_clusters", "projections")
PASSWORD = "kura-test-password"


def server_bin() -> Path:
    """The folder of PostgreSQL's server programs, or a failure that says how to get them."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(re.findall(r"\d+", p)[-1]))
    candidates += [str(Path(found).parent) for found in [shutil.which("initdb")] if found]
    for folder in reversed(candidates):
        if all((Path(folder) / tool).exists() for tool in ("initdb", "pg_ctl", "createdb")):
            return Path(folder)
    pytest.fail(
        "the postgres tests need PostgreSQL's server programs (initdb, pg_ctl, createdb) under "
        "/usr/lib/postgresql/*/bin or on PATH: apt-get install postgresql, or deselect with -m 'not postgres'"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def throwaway_postgres() -> Iterator[dict[str, str]]:
    """A PostgreSQL cluster in a temporary folder with a database `dagster`; yields its connection settings."""
    bin_dir = server_bin()
    as_root = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="kura-pg-"))  # not under pytest's root-only tmp_path
    if as_root:
        try:
            import pwd

            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail(
                "running as root, the postgres tests start the server as the user 'postgres', "
                "which does not exist (apt-get install postgresql creates it)"
            )
        os.chown(folder, owner.pw_uid, owner.pw_gid)

    def run(*command: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
        done = subprocess.run(
            prefix + list(command),
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PGPASSWORD": PASSWORD},
        )
        assert done.returncode == 0, f"{' '.join(command)} failed: {done.stdout}{done.stderr}"
        return done

    port = free_port()
    password_file = folder / "password"
    password_file.write_text(PASSWORD)
    if as_root:
        os.chown(password_file, owner.pw_uid, owner.pw_gid)
    data = folder / "data"
    try:
        run(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "kura",
            f"--pwfile={password_file}",
            "-A",
            "scram-sha-256",
            "--no-sync",
        )
        run(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(folder / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        try:
            run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "kura", "dagster")
            yield {
                "DAGSTER_PG_HOST": "127.0.0.1",
                "DAGSTER_PG_USER": "kura",
                "DAGSTER_PG_PASSWORD": PASSWORD,
                "port": str(port),
            }
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def readme_postgres_yaml() -> dict:
    """The `dagster.yaml` shown under "When one machine is not enough" in the README, parsed."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### When one machine is not enough") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "the README's Postgres section has no yaml block"
    return yaml.safe_load(block.group(1))


def test_readme_postgres_instance_runs_the_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy

    config = readme_postgres_yaml()
    assert config["storage"]["postgres"]["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    with throwaway_postgres() as server:
        config["storage"]["postgres"]["postgres_db"]["port"] = int(server["port"])  # the only change
        home = tmp_path / "home"
        (home / "dagster").mkdir(parents=True)
        (home / "dagster" / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        data = tmp_path / "data" / DATASET
        data.mkdir(parents=True)
        shutil.copy(SAMPLE_DATA / DATASET / f"{DAY}.jsonl", data)
        env = {
            **os.environ,
            "KURA_HOME": str(home),
            "KURA_DATA_DIR": str(tmp_path / "data"),
            "DAGSTER_HOME": str(home / "dagster"),
            **{k: v for k, v in server.items() if k != "port"},
        }

        ran = kura("run", "--dataset", DATASET, "--date", DAY, cwd=tmp_path, env=env)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert f"[1/1] {DATASET} {DAY}: ok" in ran.stdout

        # The schedule's state goes to the instance's schedule storage when it is changed.
        stopped = subprocess.run(
            [
                str(Path(sys.executable).parent / "dagster"),
                "schedule",
                "stop",
                "daily_recluster_schedule",
                "-w",
                str(REPO / "workspace.yaml"),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr

        url = f"postgresql+psycopg2://kura:{PASSWORD}@127.0.0.1:{server['port']}/dagster"
        engine = sqlalchemy.create_engine(url)
        try:
            with engine.connect() as connection:

                def rows(sql: str) -> list[tuple]:
                    return [tuple(row) for row in connection.execute(sqlalchemy.text(sql))]

                # One run, whatever Dagster names it (a run of selected assets is `__ASSET_JOB`).
                assert [status for _, status in rows("SELECT pipeline_name, status FROM runs")] == ["SUCCESS"]
                materialised = set(
                    rows(
                        "SELECT asset_key, partition FROM event_logs "
                        "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
                    )
                )
                # The six stages and what follows them (the taxonomy, its trends, the explorer), all of this day.
                assert {(f'["{asset}"]', f"{DATASET}|{DAY}") for asset in ASSETS} <= materialised
                assert {partition for _, partition in materialised} == {f"{DATASET}|{DAY}"}
                assert (DATASET,) in rows(
                    "SELECT partition FROM dynamic_partitions WHERE partitions_def_name = 'dataset'"
                )
                assert rows(
                    "SELECT job_type, status FROM jobs WHERE job_body LIKE '%daily_recluster_schedule%'"
                ) == [("SCHEDULE", "STOPPED")]
        finally:
            engine.dispose()
        # Nothing fell back to the SQLite files Dagster writes by default.
        assert not list((home / "dagster").rglob("*.db")), list((home / "dagster").rglob("*.db"))
