"""A 30-partition backfill through `kura-dagster run` (a Dagster asset backfill), under two backfill policies.

    python bench/backfill.py                     # 1 dataset x 30 days, ~60 conversations a day
    python bench/backfill.py --days 30 --per-day 60 --policies 1 10

For each KURA_PARTITIONS_PER_RUN value (1 = one run per day, the behaviour without a range policy; 10 = the
default) the benchmark starts from an empty KURA_HOME, runs the backfill twice and checks what issue 3
asks: every partition succeeds, no DuckDB lock failure, no duplicated row, and the second backfill
changes nothing (same rows, same cluster ids). Runs go in parallel (KURA_MAX_CONCURRENT=2) and the
`kura_duckdb` pool keeps DuckDB writers one at a time. Results go to bench/results/backfill.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DATASET = "support_bot"
KEYS = {
    "conversations": "chat_id",
    "summaries": "chat_id",
    "embeddings": "chat_id",
    "base_clusters": "cluster_id",
    "meta_clusters": "cluster_id",
    "projections": "cluster_id",
}


def kura_command() -> list[str]:
    script = Path(sys.executable).parent / "kura-dagster"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kura_dagster.cli"]


def snapshot(duckdb_path: Path) -> dict:
    """Per table and partition: rows, distinct ids; the cluster ids themselves."""
    result = {}
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        for table, key in KEYS.items():
            result[table] = connection.execute(
                f"SELECT dataset, CAST(date AS VARCHAR), count(*), count(DISTINCT {key}) FROM kura.kura.{table} "
                "GROUP BY ALL ORDER BY ALL"
            ).fetchall()
        result["cluster_ids"] = connection.execute(
            "SELECT dataset, CAST(date AS VARCHAR), list(cluster_id ORDER BY cluster_id) FROM kura.kura.meta_clusters "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    return result


def run_backfill(env: dict, since: str, until: str) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    done = subprocess.run(
        kura_command() + ["run", "--dataset", DATASET, "--since", since, "--until", until],
        env=env,
        capture_output=True,
        text=True,
    )
    return time.monotonic() - started, done


def partitions_ok(stdout: str) -> int:
    """From the command's last line, "N of M partitions materialised" (progress lines are one per run)."""
    found = re.search(r"^(\d+) of \d+ partitions materialised", stdout, re.MULTILINE)
    return int(found.group(1)) if found else 0


def one_policy(
    data_dir: Path, root: Path, partitions_per_run: int, since: str, until: str, days: int
) -> dict:
    home = root / f"home-{partitions_per_run}"
    env = {
        **os.environ,
        "KURA_HOME": str(home),
        "KURA_DATA_DIR": str(data_dir),
        "KURA_MAX_CONCURRENT": "2",
        "KURA_PARTITIONS_PER_RUN": str(partitions_per_run),
        "DAGSTER_HOME": str(home / "dagster"),
    }
    env.pop(
        "NUMBA_CACHE_DIR", None
    )  # under this KURA_HOME: the first run compiles UMAP, as a new user's would
    first_s, first = run_backfill(env, since, until)
    once = snapshot(home / "kura.duckdb")
    second_s, second = run_backfill(env, since, until)
    twice = snapshot(home / "kura.duckdb")
    output = first.stdout + first.stderr + second.stdout + second.stderr
    duplicated = [row for table in KEYS for row in once[table] if row[2] != row[3]]
    return {
        "partitions_per_run": partitions_per_run,
        "first_s": round(first_s, 1),
        "second_s": round(second_s, 1),
        "exit_codes": [first.returncode, second.returncode],
        "partitions_ok": partitions_ok(first.stdout),
        "partitions": days,
        "runs": len({line.rsplit("(run ", 1)[-1] for line in first.stdout.splitlines() if "(run " in line}),
        "lock_errors": output.lower().count("could not set lock"),
        "duplicated_partitions": len(duplicated),
        "second_changes_nothing": once == twice,
        "conversations": sum(row[2] for row in once["conversations"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=60)
    parser.add_argument("--start", default="2026-10-01")
    parser.add_argument("--policies", type=int, nargs="+", default=[1, 10])
    args = parser.parse_args(argv)

    since = args.start
    until = (date.fromisoformat(since) + timedelta(days=args.days - 1)).isoformat()
    with tempfile.TemporaryDirectory(prefix="kura-backfill-") as scratch:
        root = Path(scratch)
        data_dir = root / "data"
        subprocess.run(
            [
                sys.executable,
                str(REPO / "scripts" / "generate_sample.py"),
                "--out",
                str(data_dir),
                "--start",
                since,
                "--days",
                str(args.days),
                "--per-day",
                str(args.per_day),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        results = []
        for policy in args.policies:
            print(
                f"KURA_PARTITIONS_PER_RUN={policy}: backfill of {args.days} partitions, twice ...", flush=True
            )
            results.append(one_policy(data_dir, root, policy, since, until, args.days))
            print(json.dumps(results[-1]), flush=True)

    report = {"dataset": DATASET, "since": since, "until": until, "cpus": os.cpu_count(), "results": results}
    if len(results) > 1:
        report["speedup_first_backfill"] = round(results[0]["first_s"] / results[-1]["first_s"], 2)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "backfill.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "| partitions per run | runs | first backfill (s) | second (s) | ok | lock errors | duplicated | second changes nothing |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r['partitions_per_run']} | {r['runs']} | {r['first_s']} | {r['second_s']} | {r['partitions_ok']}/{r['partitions']} "
        f"| {r['lock_errors']} | {r['duplicated_partitions']} | {r['second_changes_nothing']} |"
        for r in results
    ]
    (RESULTS / "backfill.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    healthy = all(
        r["exit_codes"] == [0, 0]
        and r["partitions_ok"] == r["partitions"]
        and not r["lock_errors"]
        and not r["duplicated_partitions"]
        and r["second_changes_nothing"]
        for r in results
    )
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
