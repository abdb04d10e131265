"""Backfills through the command's path (`kura-dagster run` → a Dagster backfill, no daemon running).

Two datasets x three days in one backfill: the backfill policy makes one run per dataset covering its
three days, the runs go in parallel, every asset step is in the `kura_duckdb` pool (one step at a time),
nothing fails on DuckDB's lock, no row is duplicated, and a second backfill of the same partitions
changes nothing.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, DagsterRun, RunsFilter

from kura_dagster import cli
from kura_dagster.core.settings import Settings
from kura_dagster.core.storage.store import connect, qualified
from kura_dagster.defs.assets import PIPELINE_STAGES
from kura_dagster.defs.names import POOL
from kura_dagster.defs.partitions import kura_partitions
from kura_dagster.launch.backfills import LAUNCHED_BY_TAG, daemon_is_running, run_partition_keys
from kura_dagster.launch.instance import ensure_instance_config
from kura_dagster.launch.runs import kura_instance
from kura_dagster_tests.conftest import make_conversations, write_jsonl

DATASETS = ("alpha", "beta")
DAYS = ("2026-11-01", "2026-11-02", "2026-11-03")
PER_THEME = 4
ASSET_STEPS = {stage.name for stage in PIPELINE_STAGES}


def _landing_zone(data_dir: Path) -> list[tuple[str, str]]:
    for dataset in DATASETS:
        for seed, day in enumerate(DAYS):
            conversations = make_conversations(per_theme=PER_THEME, seed=seed, day=day)
            write_jsonl(data_dir / dataset / f"{day}.jsonl", conversations)
    return [(dataset, day) for dataset in DATASETS for day in DAYS]


def _snapshot(settings: Settings) -> dict:
    """Per table: rows per partition, and whether any (partition, id) appears twice; cluster ids."""
    keys = {
        "conversations": "chat_id",
        "summaries": "chat_id",
        "embeddings": "chat_id",
        "base_clusters": "cluster_id",
        "meta_clusters": "cluster_id",
        "projections": "cluster_id",
    }
    snapshot = {}
    with connect(settings.duckdb_path, read_only=True) as connection:
        for table, key in keys.items():
            name = qualified(connection, table)
            snapshot[table] = connection.execute(
                f"SELECT dataset, CAST(date AS VARCHAR), count(*), count(DISTINCT {key}) FROM {name} "
                "GROUP BY ALL ORDER BY ALL"
            ).fetchall()
        for table in ("base_clusters", "meta_clusters"):
            snapshot[f"{table}_ids"] = connection.execute(
                f"SELECT dataset, CAST(date AS VARCHAR), list(cluster_id ORDER BY cluster_id) "
                f"FROM {qualified(connection, table)} GROUP BY ALL ORDER BY ALL"
            ).fetchall()
    return snapshot


def _pools_of_asset_steps(instance: DagsterInstance, runs: list[DagsterRun]) -> set[str | None]:
    """The pool of every asset step of the given runs, as their execution plans declare it."""
    pools = set()
    for run in runs:
        plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        pools |= {step.pool for step in plan.steps if step.key in ASSET_STEPS}
    return pools


def test_instance_config_is_written_once_and_loads(tmp_path: Path):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").touch()  # what the command used to leave: empty means "write ours"
    path = ensure_instance_config(home, max_concurrent_runs=3)
    config = yaml.safe_load(path.read_text())
    assert config["concurrency"] == {
        "runs": {
            "max_concurrent_runs": 3,
            # one run of a dataset at a time (launch/run_queue.py)
            "tag_concurrency_limits": [
                {"key": "kura/dataset", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
            ],
        },
        "pools": {"default_limit": 1, "granularity": "op", "op_granularity_run_buffer": 1},
    }
    with DagsterInstance.from_config(str(home)) as instance:
        pools = instance.event_log_storage.get_pool_config()
        assert pools.default_pool_limit == 1 and pools.pool_granularity.value == "op"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 3
    path.write_text("telemetry:\n  enabled: false\n")
    ensure_instance_config(home, max_concurrent_runs=2)
    assert path.read_text() == "telemetry:\n  enabled: false\n"  # somebody's own config is kept


def test_backfill_of_two_datasets_runs_in_parallel_and_is_idempotent(kura_env: Path, capsys):
    settings = Settings.from_env()
    settings.prepare_home()
    partitions = _landing_zone(settings.data_dir)

    first = cli._run(settings, partitions)
    out = capsys.readouterr().out
    assert [(r.dataset, r.date) for r in first] == partitions
    assert all(r.success for r in first), [r.error for r in first]
    assert "this command launches its runs, up to 2 at a time" in out
    # One line per run, with that run's own time: each dataset's three days went in one run.
    assert "[1-3/6] alpha 2026-11-01..2026-11-03: ok in " in out
    assert "[4-6/6] beta 2026-11-01..2026-11-03: ok in " in out
    assert out.count(": ok in ") == 2

    with kura_instance(settings) as instance:
        assert not daemon_is_running(instance)
        (backfill,) = instance.get_backfills()
        assert backfill.status.value == "COMPLETED_SUCCESS"
        assert backfill.tags[LAUNCHED_BY_TAG] == "kura-dagster"
        records = instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
        # One run per dataset, each over its three days (KURA_PARTITIONS_PER_RUN defaults to 10).
        partitions_def = kura_partitions(Settings.from_env())
        covered = sorted(run_partition_keys(instance, r.dagster_run, partitions_def) for r in records)
        assert covered == [tuple(f"{dataset}|{day}" for day in DAYS) for dataset in DATASETS]
        assert {r.dagster_run.run_id for r in records} == {r.run_id for r in first}
        # Parallel runs: some two runs were in progress at the same time.
        overlaps = [
            min(a.end_time, b.end_time) - max(a.start_time, b.start_time) for a, b in combinations(records, 2)
        ]
        assert max(overlaps) > 0, overlaps
        # ...and every asset step of both runs in the one pool the instance limits to one step at a time.
        # That keeps runs from holding workers that only wait on DuckDB's lock; it is not what keeps writes
        # safe: Dagster claims a pool slot with a check and an update in separate statements, so on the SQLite
        # instance storage two steps that start at the same moment can both take the one slot (seen once in
        # CI: two steps overlapped by 1.4 s, and both runs succeeded). DuckDB's own write lock, which
        # `connect` waits on (core/test_store.py), is what makes a second writer wait.
        assert _pools_of_asset_steps(instance, [r.dagster_run for r in records]) == {POOL}
        assert {pool.name: pool.limit for pool in instance.event_log_storage.get_pool_limits()} == {POOL: 1}

    once = _snapshot(settings)
    conversations = 4 * PER_THEME
    assert once["conversations"] == [(d, day, conversations, conversations) for d, day in partitions]
    assert once["summaries"] == once["embeddings"] == once["conversations"]
    for table in ("base_clusters", "meta_clusters", "projections"):
        assert len(once[table]) == len(partitions), table
        assert all(rows == ids for *_, rows, ids in once[table]), table

    second = cli._run(settings, partitions)
    assert all(r.success for r in second), [r.error for r in second]
    assert not {r.run_id for r in second} & {r.run_id for r in first}
    assert _snapshot(settings) == once  # same rows, same cluster ids: replaced, never duplicated


def test_failed_run_gives_exit_code_1_and_its_reason(kura_env: Path, capsys, monkeypatch: pytest.MonkeyPatch):
    conversations = make_conversations(per_theme=2, day="2026-11-01")
    # A conversation without a user turn cannot be summarised; with no failed summary allowed, the blocking
    # summary check fails, so the run fails at `summaries`.
    silent = conversations[0].model_copy(
        update={"chat_id": "assistant-only", "messages": conversations[0].messages[1:2]}
    )
    write_jsonl(kura_env / "data" / "gamma" / "2026-11-01.jsonl", conversations + [silent])
    monkeypatch.setenv("KURA_MAX_SUMMARY_ERROR_RATE", "0")
    assert cli.main(["run", "--dataset", "gamma", "--date", "2026-11-01"]) == 1
    captured = capsys.readouterr()
    assert "[1/1] gamma 2026-11-01: FAILED in " in captured.out
    assert "0 of 1 partitions materialised" in captured.out
    assert "summary_error_rate_is_low" in captured.err


def test_days_outside_the_partitions_are_refused_before_any_run(kura_env: Path, capsys):
    write_jsonl(
        kura_env / "data" / "gamma" / "2099-01-01.jsonl", make_conversations(per_theme=1, day="2099-01-01")
    )
    assert cli.main(["run", "--dataset", "gamma", "--date", "2099-01-01"]) == 2
    err = capsys.readouterr().err
    assert (
        f"dataset 'gamma', 2099-01-01 ({kura_env / 'data' / 'gamma' / '2099-01-01.jsonl'}): 2099-01-01 is after "
        "today"
        in err
        and len(err.splitlines()) == 1
    )
    with kura_instance(Settings.from_env()) as instance:
        assert instance.get_backfills() == [] and instance.get_run_records() == []
