"""Scale of the taxonomy (issue 16, point 7): rebuild a version over a window of 1M conversations (target
≤ 10 min, peak RSS ≤ 8 GB) and assign a day of 100k conversations to it (target ≤ 15 s), on the 2-core machine.

The conversations come from bench/generate.py (the scale benchmark's synthetic traffic), spread over a
window of `--window-days` days plus one. Their summaries (extractive) and WordLlama embeddings are made once
and kept in `--scratch` (the pipeline has them stored already: a taxonomy never summarises or embeds), then
each measured step runs in a child process whose process tree's RSS is sampled (bench/scale.py's sampler):

1. `previous`: the version over days 0..W-1, from scratch (no previous version);
2. `rebuild`: the version over days 1..W started from it, as the daily schedule rebuilds — the target;
3. `assign`: a day of `--day-size` conversations that no version holds, assigned to the rebuilt version.

Each child reads its inputs from Parquet first (not timed: the Dagster asset reads them from DuckDB) and
times the core call only. Models and settings as the pipeline builds them (KURA_* from the environment).

    python bench/taxonomy_scale.py                                   # 1M window, 100k day (the lead's run)
    python bench/taxonomy_scale.py --window 3000 --day-size 1000     # a smoke run, a minute
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

TARGETS = {"rebuild_s": 600.0, "rebuild_peak_rss_gb": 8.0, "assign_s": 15.0}
FIRST_DAY = date(2026, 1, 1)
CHUNK = 50_000


# ------------------------------------------------------------------------------------------------- inputs


def prepare(scratch: Path, window: int, window_days: int, day_size: int) -> dict:
    """Summaries and embeddings of window + one day (for the rebuild) + the assigned day, in Parquet; made
    once per size (the file names carry it)."""
    per_day = max(1, window // window_days)
    days = [(FIRST_DAY + timedelta(days=d), per_day) for d in range(window_days + 1)]
    days.append((FIRST_DAY + timedelta(days=window_days + 1), day_size))
    scratch.mkdir(parents=True, exist_ok=True)
    done = scratch / f"inputs-{window}-{window_days}-{day_size}.json"
    if done.exists():
        return json.loads(done.read_text())
    from generate import generate_records

    from kura_dagster.core.stages.embeddings import WordLlamaEmbeddingModel, embed_summaries
    from kura_dagster.core.stages.summaries import ExtractiveSummaryModel
    from kura_dagster.core.storage import tables
    from kura_dagster.core.types import Conversation

    summariser, embedder = ExtractiveSummaryModel(), WordLlamaEmbeddingModel()
    started = time.perf_counter()
    files = []
    for day, n in days:
        path = scratch / f"{day.isoformat()}-{n}.parquet"
        files.append({"day": day.isoformat(), "n": n, "path": str(path)})
        if path.exists():
            continue
        writer = None
        records = generate_records(n, day, dataset="bench")
        while True:
            chunk = [Conversation.model_validate(r) for _, r in zip(range(CHUNK), records)]
            if not chunk:
                break
            summaries = summariser.summarise(chunk)
            vectors = embed_summaries(summaries, model=embedder)
            table = tables.summaries_to_arrow(summaries, "extractive").select(list(tables.CLUSTERING_FIELDS))
            embedded = tables.embeddings_to_arrow([s.chat_id for s in summaries], vectors, embedder.name)
            table = table.append_column("embedding", embedded.column("embedding"))
            if writer is None:
                writer = pq.ParquetWriter(str(path) + ".partial", table.schema)
            writer.write_table(table)
        writer.close()
        os.replace(str(path) + ".partial", path)
        print(f"prepared {day} ({n} conversations)", flush=True)
    inputs = {"files": files, "prepare_s": time.perf_counter() - started}
    done.write_text(json.dumps(inputs))
    return inputs


def load(files: list[dict]):
    """(summaries, vectors) of the files, in order."""
    from kura_dagster.core.storage import tables
    from kura_dagster.core.types import USER_ID

    table = pa.concat_tables([pq.read_table(f["path"]) for f in files])
    summaries = tables.summaries_from_arrow(table, tables.CLUSTERING_FIELDS, metadata_keys=(USER_ID,))
    _, vectors = tables.embeddings_from_arrow(table.select(["chat_id", "embedding"]))
    return summaries, vectors


# ----------------------------------------------------------------------------------------------- children


def build_child(files: list[dict], previous_path: str | None, out_path: str, seed: int) -> dict:
    from taxonomy_models import build_local_taxonomy

    from kura_dagster.core.settings import Settings
    from kura_dagster.core.storage import tables

    settings = Settings.from_env()
    loaded = time.perf_counter()
    summaries, vectors = load(files)
    previous = None
    if previous_path:
        previous = tables.taxonomy_from_arrow(pq.read_table(previous_path))
    started = time.perf_counter()
    taxonomy = build_local_taxonomy(
        settings,
        summaries,
        vectors,
        version=date.fromisoformat(files[-1]["day"]),
        window_start=date.fromisoformat(files[0]["day"]),
        previous=previous,
        seed=seed,
        window_days=len(files),
    )
    seconds = time.perf_counter() - started
    pq.write_table(tables.taxonomy_to_arrow(taxonomy), out_path)
    events: dict[str, int] = {}
    for event in taxonomy.lineage:
        events[event.event] = events.get(event.event, 0) + 1
    return {
        "seconds": seconds,
        "load_s": started - loaded,
        "conversations": len(summaries),
        "topics": len(taxonomy.topics),
        "leaves": len(taxonomy.leaves()),
        "events": events,
    }


def assign_child(files: list[dict], taxonomy_path: str) -> dict:
    from kura_dagster.core.stages.topic_assignments import assign_to_taxonomy
    from kura_dagster.core.storage import tables

    day = pq.read_table(files[0]["path"], columns=["chat_id", "embedding"])
    chat_ids, vectors = tables.embeddings_from_arrow(day)
    taxonomy = tables.taxonomy_from_arrow(pq.read_table(taxonomy_path))
    started = time.perf_counter()
    table = assign_to_taxonomy(chat_ids, vectors, taxonomy)
    seconds = time.perf_counter() - started
    unassigned = sum(1 for topic in table.column("topic_id").to_pylist() if topic == "unassigned")
    return {
        "seconds": seconds,
        "conversations": len(chat_ids),
        "unassigned_share": unassigned / len(chat_ids),
    }


def run_measured(arguments: list[str]) -> dict:
    """Run this script as a child with `arguments`, sampling its process tree's RSS."""
    from scale import TreeSampler

    result = Path(arguments[arguments.index("--result") + 1])
    started = time.time()
    process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *arguments], cwd=ROOT)
    with TreeSampler(process.pid) as sampler:
        process.wait()
    if process.returncode != 0:
        raise SystemExit(f"child {arguments[1]} failed with exit code {process.returncode}")
    measured = json.loads(result.read_text())
    measured["wall_s"] = time.time() - started
    measured["peak_rss_gb"] = max((rss for _, rss, _ in sampler.samples), default=0) / 2**30
    return measured


# ------------------------------------------------------------------------------------------------- report


def markdown(report: dict) -> str:
    r = report
    lines = [
        "# Taxonomy scale (issue 16, point 7)",
        "",
        f"Command: `{r['command']}`; {r['machine']}; {r['when']}.",
        f"Window: {r['window']:,} conversations over {r['window_days']} days; assigned day: {r['day_size']:,} "
        f"conversations; KURA_TAXONOMY_SAMPLE_SIZE={r['sample_size']:,}. Seconds: the core call only "
        "(inputs read from Parquet first); peak RSS: the child process tree, reading included.",
        "",
        "| step | conversations | seconds | peak RSS (GiB) | target | topics / leaves |",
        "|---|---:|---:|---:|---|---|",
    ]
    for name, target in (("previous", "—"), ("rebuild", "≤ 600 s, ≤ 8 GiB"), ("assign", "≤ 15 s")):
        step = r[name]
        shape = f"{step.get('topics', '—')} / {step.get('leaves', '—')}" if "topics" in step else "—"
        lines.append(
            f"| {name} | {step['conversations']:,} | {step['seconds']:.1f} | {step['peak_rss_gb']:.2f} | "
            f"{target} | {shape} |"
        )
    lines += [
        "",
        f"Rebuild lineage events: {r['rebuild'].get('events')}; assigned day unassigned share: "
        f"{r['assign']['unassigned_share']:.3f}. Inputs prepared in {r['prepare_s']:.0f} s (not part of the figures).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--window", type=int, default=1_000_000, help="conversations in the window")
    parser.add_argument("--window-days", type=int, default=28)
    parser.add_argument("--day-size", type=int, default=100_000, help="conversations of the assigned day")
    parser.add_argument(
        "--scratch", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "kura-taxonomy-scale"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "taxonomy_scale")
    parser.add_argument("--seed", type=int, default=42)
    # Children (internal): one measured step each.
    parser.add_argument("--child", choices=["build", "assign"], help=argparse.SUPPRESS)
    parser.add_argument("--files", help=argparse.SUPPRESS)
    parser.add_argument("--previous", help=argparse.SUPPRESS)
    parser.add_argument("--taxonomy", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        files = json.loads(Path(args.files).read_text())
        if args.child == "build":
            found = build_child(files, args.previous, args.taxonomy, args.seed)
        else:
            found = assign_child(files, args.taxonomy)
        Path(args.result).write_text(json.dumps(found))
        return 0

    from kura_dagster.core.settings import Settings

    settings = Settings.from_env()
    settings.prepare_home()  # numba's cache in KURA_HOME, as the pipeline does
    inputs = prepare(args.scratch, args.window, args.window_days, args.day_size)
    files = inputs["files"]
    scratch = args.scratch
    lists = {
        "previous": files[: args.window_days],
        "rebuild": files[1 : args.window_days + 1],
        "assign": files[-1:],
    }
    for name, chosen in lists.items():
        (scratch / f"{name}-files.json").write_text(json.dumps(chosen))

    def child(name: str, kind: str, **extra: str) -> dict:
        arguments = [
            "--child",
            kind,
            "--files",
            str(scratch / f"{name}-files.json"),
            "--seed",
            str(args.seed),
        ]
        arguments += ["--result", str(scratch / f"{name}-result.json")]
        for key, value in extra.items():
            arguments += [f"--{key}", value]
        print(f"measuring {name} ...", flush=True)
        return run_measured(arguments)

    previous = child("previous", "build", taxonomy=str(scratch / "previous.parquet"))
    rebuild = child(
        "rebuild",
        "build",
        previous=str(scratch / "previous.parquet"),
        taxonomy=str(scratch / "rebuild.parquet"),
    )
    assign = child("assign", "assign", taxonomy=str(scratch / "rebuild.parquet"))
    report = {
        "command": "python bench/taxonomy_scale.py"
        + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "window": sum(f["n"] for f in lists["rebuild"]),
        "window_days": args.window_days,
        "day_size": args.day_size,
        "sample_size": settings.taxonomy_sample_size,
        "prepare_s": inputs["prepare_s"],
        "previous": previous,
        "rebuild": rebuild,
        "assign": assign,
        "targets": TARGETS,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    missed = [
        name
        for name, ok in (
            ("rebuild seconds", rebuild["seconds"] <= TARGETS["rebuild_s"]),
            ("rebuild peak RSS", rebuild["peak_rss_gb"] <= TARGETS["rebuild_peak_rss_gb"]),
            ("assign seconds", assign["seconds"] <= TARGETS["assign_s"]),
        )
        if not ok
    ]
    if missed:
        print("beyond target: " + ", ".join(missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
