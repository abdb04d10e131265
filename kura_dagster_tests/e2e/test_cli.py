"""The command line as a user runs it: ingest → run → tree, on a temporary KURA_HOME."""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from kura_dagster_tests.conftest import make_conversations, write_jsonl


def kura(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "kura-dagster"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "kura_dagster.cli"]
    return subprocess.run(command + list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_ingest_run_tree(kura_env):
    env = dict(os.environ)
    export = kura_env / "export.jsonl"
    day_one = make_conversations(per_theme=8, day="2026-11-01")
    day_two = make_conversations(per_theme=8, seed=1, day="2026-11-02")
    for c in day_two:
        c.chat_id = c.chat_id + "-b"
    write_jsonl(export, day_one + day_two)
    with export.open("a") as handle:
        handle.write("{broken\n")

    ingested = kura("ingest", str(export), "--dataset", "support", cwd=kura_env, env=env)
    assert ingested.returncode == 0, ingested.stderr
    assert "65 records read, 64 accepted, 0 duplicates merged, 1 quarantined" in ingested.stdout
    assert f"{export}: record 65: malformed JSON" in ingested.stderr
    assert sorted(p.name for p in (kura_env / "data" / "support").iterdir()) == ["2026-11-01.jsonl", "2026-11-02.jsonl"]
    quarantined = [json.loads(l) for l in (kura_env / "home" / "quarantine" / "support.jsonl").read_text().splitlines()]
    assert quarantined[0]["record"] == 65

    again = kura("ingest", str(export), "--dataset", "support", cwd=kura_env, env=env)
    assert again.returncode == 0
    assert len((kura_env / "data" / "support" / "2026-11-01.jsonl").read_text().splitlines()) == 32  # idempotent

    ran = kura("run", "--dataset", "support", "--all", cwd=kura_env, env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "[1-2/2] support 2026-11-01..2026-11-02: ok in " in ran.stdout  # one run over both days
    assert "2 of 2 partitions materialised" in ran.stdout

    with duckdb.connect(str(kura_env / "home" / "kura.duckdb"), read_only=True) as connection:
        counts = connection.execute(
            "SELECT CAST(date AS VARCHAR), count(*) FROM kura.kura.summaries GROUP BY ALL ORDER BY 1").fetchall()
    assert counts == [("2026-11-01", 32), ("2026-11-02", 32)]

    for style, marker in (("basic", "Clusters (32 conversations)"), ("enhanced", "ENHANCED CLUSTER VISUALIZATION"),
                          ("rich", "Cluster Size Distribution")):
        tree = kura("tree", "--dataset", "support", "--date", "2026-11-01", "--style", style, cwd=kura_env, env=env)
        assert tree.returncode == 0, tree.stderr
        assert marker in tree.stdout

    exported = kura("export", "--dataset", "support", "--date", "2026-11-01", "--out", str(kura_env / "kura_ckpt"),
                    cwd=kura_env, env=env)
    assert exported.returncode == 0, exported.stderr
    assert len((kura_env / "kura_ckpt" / "conversations.jsonl").read_text().splitlines()) == 32


def test_clear_errors(kura_env):
    env = dict(os.environ)
    bad_name = kura("ingest", "x.jsonl", "--dataset", "Bad Name!", cwd=kura_env, env=env)
    assert bad_name.returncode == 2 and "invalid dataset name" in bad_name.stderr
    missing = kura("ingest", str(kura_env / "nope.jsonl"), "--dataset", "ok", cwd=kura_env, env=env)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    no_run = kura("tree", "--dataset", "ok", "--date", "2026-11-01", cwd=kura_env, env=env)
    assert no_run.returncode == 2 and "kura-dagster run" in no_run.stderr
    bad_date = kura("run", "--dataset", "ok", "--date", "2026-13-01", cwd=kura_env, env=env)
    assert bad_date.returncode == 2 and "is not a date" in bad_date.stderr
