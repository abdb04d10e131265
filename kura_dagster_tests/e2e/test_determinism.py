"""The same input and settings give identical tables: one day ingested and run twice, each time in fresh
processes with its own KURA_HOME, landing zone, Dagster instance and PYTHONHASHSEED, then every table
compared row for row, floats included, bit for bit."""

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from kura_dagster.core.types import Conversation, Message
from kura_dagster_tests.conftest import make_conversations, write_jsonl

DAY = "2026-11-01"
TABLES = (
    "conversations",
    "summaries",
    "embeddings",
    "base_clusters",
    "meta_clusters",
    "projections",
    "topic_trends",
)


def greetings(count: int) -> list[Conversation]:
    """Identical "hi" chats from different users, as real traffic has. They form a component of UMAP's
    neighbour graph in which every point is alike (a regular graph): the case where UMAP's spectral start
    used to draw unseeded random vectors, so the manifold, and the centroids stored in base_clusters,
    changed from run to run. More than 20 copies: smaller components get a seeded random start instead."""
    start = datetime.fromisoformat(DAY).replace(tzinfo=timezone.utc)
    return [
        Conversation(
            chat_id=f"hello-{i:03d}",
            created_at=start + timedelta(minutes=7 * i),
            messages=[
                Message(role="user", content="hi"),
                Message(role="assistant", content="Hello! How can I help you today?"),
            ],
            metadata={"user_id": f"g{i:03d}"},
        )
        for i in range(count)
    ]


def kura(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "kura-dagster"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "kura_dagster.cli"]
    return subprocess.run(command + list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def ingest_and_run(root: Path, export: Path, hash_seed: str, numba_cache: Path) -> Path:
    """`ingest` then `run` of DAY in a fresh home; the DuckDB file it wrote."""
    home = root / "home"
    env = dict(
        os.environ,
        KURA_HOME=str(home),
        KURA_DATA_DIR=str(root / "data"),
        DAGSTER_HOME=str(home / "dagster"),
        PYTHONHASHSEED=hash_seed,
        # Shared so the second run loads UMAP's compiled code instead of compiling it again (15 s);
        # compiled or loaded, the code computes the same.
        NUMBA_CACHE_DIR=str(numba_cache),
    )
    root.mkdir()
    ingested = kura("ingest", str(export), "--dataset", "support", env=env, cwd=root)
    assert ingested.returncode == 0, ingested.stderr
    ran = kura("run", "--dataset", "support", "--date", DAY, env=env, cwd=root)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return home / "kura.duckdb"


def read_tables(path: Path) -> dict[str, list[tuple]]:
    """Every table of the file, its rows in stored order (the order the next stage reads them in)."""
    with duckdb.connect(str(path), read_only=True) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'kura' ORDER BY 1"
            ).fetchall()
        ]
        return {name: connection.execute(f"SELECT * FROM kura.kura.{name}").fetchall() for name in names}


def test_a_day_run_twice_in_fresh_processes_gives_identical_tables(tmp_path):
    export = write_jsonl(tmp_path / "export.jsonl", make_conversations(per_theme=12, day=DAY) + greetings(24))
    first = read_tables(ingest_and_run(tmp_path / "first", export, "1", tmp_path / "numba"))
    second = read_tables(ingest_and_run(tmp_path / "second", export, "2", tmp_path / "numba"))

    assert set(TABLES) <= set(first), f"tables written: {sorted(first)}"
    assert sorted(first) == sorted(second)
    assert len(first["conversations"]) == 72 and len(first["base_clusters"]) >= 5
    assert all(first.values()), "every table has rows"
    changed = {
        name: sum(a != b for a, b in zip(rows, second[name])) + abs(len(rows) - len(second[name]))
        for name, rows in first.items()
    }
    differing = {name: f"{count} of {len(first[name])} rows" for name, count in changed.items() if count}
    assert differing == {}, f"tables that differ between two runs of the same day: {differing}"
