"""`dagster dev` for real: webserver, daemon and code server, driven through the GraphQL API like the UI.

A temporary KURA_HOME/DAGSTER_HOME/KURA_DATA_DIR holds two datasets x three days of small data. Through
`DagsterGraphQLClient` the test stops the landing-zone sensor (so it launches nothing behind our back),
registers the datasets, launches one run of one partition and an asset backfill of all six partitions
(what the UI's "Materialize" of selected partitions launches: the backfill policy makes one run per
dataset over its three days), runs
`kura-dagster run` (which leaves its backfill to the running daemon), waits for the daemon to run
everything, and checks the DuckDB tables partition by partition.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from dagster_graphql import DagsterGraphQLClient

from kura_dagster.core.storage.store import connect, qualified
from kura_dagster.defs.partitions import partition_key
from kura_dagster.launch.instance import ensure_instance_config
from kura_dagster_tests.conftest import REPO, make_conversations, write_jsonl
from kura_dagster_tests.terminal_signals import default_signal_handling

DATASETS = ("alpha", "beta")
DAYS = ("2026-11-01", "2026-11-02", "2026-11-03")
ASSETS = ("conversations", "summaries", "embeddings", "base_clusters", "meta_clusters", "projections")
PER_THEME = 4  # 4 themes x 4 = 16 conversations a day
REPOSITORY = "__repository__"
TEST_TAG = "kura/test"
START_TIMEOUT_S = 120
RUNS_TIMEOUT_S = 360

WORKSPACE_QUERY = """
query { workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
SENSOR_QUERY = """
query ($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
  __typename ... on Sensor { id sensorState { status } } ... on PythonError { message } } }
"""
STOP_SENSOR = """
mutation ($id: String) { stopSensor(id: $id) { __typename
  ... on StopSensorMutationResult { instigationState { status } } ... on PythonError { message } } }
"""
ADD_PARTITION = """
mutation ($repositorySelector: RepositorySelector!, $partitionsDefName: String!, $partitionKey: String!) {
  addDynamicPartition(repositorySelector: $repositorySelector, partitionsDefName: $partitionsDefName,
                      partitionKey: $partitionKey) {
    __typename ... on PythonError { message } ... on DuplicateDynamicPartitionError { partitionName } } }
"""
LAUNCH_BACKFILL = """
mutation ($backfillParams: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $backfillParams) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message stack } } }
"""
BACKFILL_QUERY = """
query ($backfillId: String!) { partitionBackfillOrError(backfillId: $backfillId) {
  __typename ... on PartitionBackfill { status numPartitions } ... on PythonError { message } } }
"""
RUNS_QUERY = """
query ($filter: RunsFilter) { runsOrError(filter: $filter) { __typename
  ... on Runs { results { runId status tags { key value } } } ... on PythonError { message } } }
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dagster_command() -> list[str]:
    script = Path(sys.executable).parent / "dagster"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dagster"]


def _kura_command() -> list[str]:
    script = Path(sys.executable).parent / "kura-dagster"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kura_dagster.cli"]


def _gql(client: DagsterGraphQLClient, query: str, **variables) -> dict:
    # The client has helpers for runs, not for backfills, sensors or partitions: raw GraphQL it is.
    return client._execute(query, variables or None)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the whole process group (dagster dev, webserver, daemon, code servers), SIGKILL stragglers."""
    if _group_alive(process.pid):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _group_alive(process.pid) and time.monotonic() < deadline:
        process.poll()  # reap the leader as soon as it exits
        time.sleep(0.5)
    if _group_alive(process.pid):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _wait_for_location(client: DagsterGraphQLClient, url: str, process: subprocess.Popen, log: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"dagster dev exited early:\n{log.read_text()[-4000:]}"
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
                ready = response.status == 200
        except OSError:
            ready = False
        if ready:
            entries = _gql(client, WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
            for entry in entries:
                loaded = entry["locationOrLoadError"]
                assert loaded is None or loaded["__typename"] != "PythonError", loaded
                kind = (loaded or {}).get("__typename")
                if entry["loadStatus"] == "LOADED" and kind == "RepositoryLocation":
                    return entry["name"]
        time.sleep(1)
    raise AssertionError(f"dagster dev did not answer within {START_TIMEOUT_S}s:\n{log.read_text()[-4000:]}")


def _covered(run: dict) -> tuple[str, str]:
    """(first, last) partition key of a run: a range run's range, or a one-partition run's key twice."""
    tags = run["tags"]
    if "dagster/partition" in tags:
        return tags["dagster/partition"], tags["dagster/partition"]
    return tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]


def _runs_tagged(client: DagsterGraphQLClient, key: str, value: str) -> list[dict]:
    result = _gql(client, RUNS_QUERY, filter={"tags": [{"key": key, "value": value}]})["runsOrError"]
    assert result["__typename"] == "Runs", result
    return [
        {"runId": r["runId"], "status": r["status"], "tags": {t["key"]: t["value"] for t in r["tags"]}}
        for r in result["results"]
    ]


def _counts(duckdb_path: Path, table: str) -> dict[tuple[str, str], int]:
    with connect(duckdb_path, read_only=True) as connection:
        name = qualified(connection, table)
        sql = f"SELECT dataset, CAST(date AS VARCHAR), count(*) FROM {name} GROUP BY ALL"
        rows = connection.execute(sql).fetchall()
    return {(dataset, day): count for dataset, day, count in rows}


@pytest.mark.dagster_dev
def test_dagster_dev_runs_a_partition_and_a_backfill(tmp_path: Path):
    home, data = tmp_path / "home", tmp_path / "data"
    dagster_home = home / "dagster"
    ensure_instance_config(dagster_home, max_concurrent_runs=2)
    env = {
        **os.environ,
        "KURA_HOME": str(home),
        "KURA_DATA_DIR": str(data),
        "DAGSTER_HOME": str(dagster_home),
        "KURA_MAX_CONCURRENT": "2",
        "NUMBA_CACHE_DIR": str(home / "numba_cache"),
    }
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "dagster_dev.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            _dagster_command() + ["dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=default_signal_handling,
        )
    command = None
    try:
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        location = _wait_for_location(client, url, process, log)
        repository = {"repositoryLocationName": location, "repositoryName": REPOSITORY}

        # The landing-zone sensor runs by default; it has seen no landing zone yet (KURA_DATA_DIR does not
        # exist). Stopping it before the files appear keeps its runs out of this test.
        sensor = _gql(client, SENSOR_QUERY, selector={**repository, "sensorName": "landing_zone_sensor"})
        assert sensor["sensorOrError"]["__typename"] == "Sensor", sensor
        stopped = _gql(client, STOP_SENSOR, id=sensor["sensorOrError"]["id"])["stopSensor"]
        assert stopped["instigationState"]["status"] == "STOPPED", stopped

        for dataset in DATASETS:
            for seed, day in enumerate(DAYS):
                conversations = make_conversations(per_theme=PER_THEME, seed=seed, day=day)
                write_jsonl(data / dataset / f"{day}.jsonl", conversations)
            added = _gql(
                client,
                ADD_PARTITION,
                repositorySelector=repository,
                partitionsDefName="dataset",
                partitionKey=dataset,
            )["addDynamicPartition"]
            assert added["__typename"] in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"), (
                added
            )

        # One partition, as the launchpad does it: the partition tags select the (dataset, date) slice.
        single_key = partition_key("alpha", DAYS[0])
        single_run = client.submit_job_execution(
            "kura_pipeline",
            repository_location_name=location,
            repository_name=REPOSITORY,
            tags={
                "dagster/partition": single_key,
                "dagster/partition/dataset": "alpha",
                "dagster/partition/date": DAYS[0],
                TEST_TAG: "single",
            },
        )

        # An asset backfill of all six partitions, as "Materialize" of selected partitions does it in the UI.
        keys = [partition_key(dataset, day) for dataset in DATASETS for day in DAYS]
        launched = _gql(
            client,
            LAUNCH_BACKFILL,
            backfillParams={
                "assetSelection": [{"path": [name]} for name in ASSETS],
                "partitionNames": keys,
                "tags": [{"key": TEST_TAG, "value": "backfill"}],
            },
        )["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill_id = launched["backfillId"]

        # Meanwhile the command line: with the daemon of `dagster dev` alive it only creates its backfill
        # and follows it (one partition that the backfill above also runs: rows are replaced, not doubled).
        command = subprocess.Popen(
            _kura_command() + ["run", "--dataset", "beta", "--date", DAYS[-1]],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

        deadline = time.monotonic() + RUNS_TIMEOUT_S
        while True:
            single_status = client.get_run_status(single_run).value
            backfill = _gql(client, BACKFILL_QUERY, backfillId=backfill_id)["partitionBackfillOrError"]
            backfill_runs = _runs_tagged(client, "dagster/backfill", backfill_id)
            statuses = {_covered(run): run["status"] for run in backfill_runs}
            finished = single_status in ("SUCCESS", "FAILURE", "CANCELED") and backfill["status"] in (
                "COMPLETED_SUCCESS",
                "COMPLETED_FAILED",
                "FAILED",
                "CANCELED",
                "COMPLETED",
            )
            if finished or time.monotonic() > deadline:
                break
            time.sleep(2)

        out, err = command.communicate(timeout=max(10.0, deadline - time.monotonic()))
        assert command.returncode == 0, out + err
        assert "the running dagster-daemon launches its runs" in out, out
        assert f"[1/1] beta {DAYS[-1]}: ok" in out and "1 of 1 partitions materialised" in out, out

        assert single_status == "SUCCESS", log.read_text()[-4000:]
        assert backfill["status"] == "COMPLETED_SUCCESS", (backfill, statuses, log.read_text()[-4000:])
        # The backfill policy: one run per dataset, over its three days.
        assert sorted(statuses) == [
            (partition_key(d, DAYS[0]), partition_key(d, DAYS[-1])) for d in DATASETS
        ], statuses
        assert set(statuses.values()) == {"SUCCESS"}, statuses
        # Runs counted by our tags: whatever the schedule might add (a 02:00 UTC tick) is not ours.
        assert [r["runId"] for r in _runs_tagged(client, TEST_TAG, "single")] == [single_run]
        tagged = _runs_tagged(client, TEST_TAG, "backfill")
        assert {r["runId"] for r in tagged} == {r["runId"] for r in backfill_runs}
        assert _runs_tagged(client, "kura/trigger", "landing_zone") == []

        # Every run has ended, so no writer holds DuckDB (connect() would wait for the lock anyway).
        duckdb_path = home / "kura.duckdb"
        expected = {(dataset, day): 4 * PER_THEME for dataset in DATASETS for day in DAYS}
        for table in ("conversations", "summaries", "embeddings"):
            # alpha 11-01 and beta 11-03 ran more than once: their rows were replaced, not doubled.
            assert _counts(duckdb_path, table) == expected, table
        clusters = _counts(duckdb_path, "base_clusters")
        nodes = _counts(duckdb_path, "meta_clusters")
        assert set(clusters) == set(expected) and all(clusters[p] >= 1 for p in expected), clusters
        assert all(nodes[p] >= clusters[p] for p in expected), nodes
        assert _counts(duckdb_path, "projections") == nodes
    finally:
        if command is not None and command.poll() is None:
            command.kill()
            command.communicate()
        _stop(process)
