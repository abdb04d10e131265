"""Scale and speed benchmark: the whole pipeline through Dagster on 10k, 100k and 1M conversations.

For each size it writes one landing-zone partition (`bench/generate.py`), then, per repeat, runs the real
`kura_pipeline` job (conversations → projections, asset checks included, DuckDB writes included) in a child
process on a fresh KURA_HOME, exactly as `kura-dagster demo` runs a partition. Measured:

- per-stage wall time: from the run's STEP_START / STEP_SUCCESS events in the Dagster event log;
- peak RSS: the child's process tree sampled every 0.2 s with psutil (per stage: the samples that fall inside
  the stage's step), and the kernel's high-water mark (`ru_maxrss`) of the whole child as a cross-check;
- throughput: conversations per second of each stage.

Besides the Dagster run it times the child's start-up (imports and definitions) and, side by side, a
BERTopic-style baseline (UMAP to 5 dimensions → HDBSCAN → c-TF-IDF) on the same stored embeddings.
Results: `bench/results/scale.json` and `bench/results/scale.md` (medians over the repeats, and the fitted
exponent b of time ≈ a·n^b over the sizes).

    python bench/scale.py                       # 10k, 100k (3 runs each), 1M (1 run)
    python bench/scale.py --sizes 10000 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date as Date
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DATASET = "bench"
DAY = "2026-11-01"
STAGES = ["conversations", "summaries", "embeddings", "base_clusters", "meta_clusters", "projections"]
EXPLORER = ["topic_trends", "report"]  # in the job too (group kura), reported apart from the six stages
OTHERS = ["explorer", "checks"]
SAMPLE_EVERY_S = 0.2


# ---------------------------------------------------------------------------------------------- child side


def child_run(home: Path, data_dir: Path, out: Path) -> None:
    """Run the pipeline job for the bench partition in this process; write its step timings to `out`."""
    started = time.time()
    os.environ["KURA_HOME"] = str(home)
    os.environ["KURA_DATA_DIR"] = str(data_dir)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    from dagster import DagsterEventType

    from kura_dagster.core.settings import Settings
    from kura_dagster.definitions import build_definitions
    from kura_dagster.launch.runs import kura_instance, run_partitions, run_partitions_in_process

    imported = time.time()
    settings = Settings.from_env()
    build_definitions(settings)  # what the start-up time measures; the runs rebuild them (execute_job)
    instance = kura_instance(settings)
    loaded = time.time()
    if os.environ.get("KURA_BENCH_VIA") == "backfill":
        # `kura-dagster run`'s path: a backfill whose run is launched in its own process, with the executor
        # KURA_EXECUTOR names (multiprocess: every step in a fresh process).
        [result] = run_partitions(instance, [(DATASET, DAY)], settings=settings, max_concurrent=1)
    else:
        [result] = run_partitions_in_process(instance, [(DATASET, DAY)], settings=settings)
    finished = time.time()
    steps: dict[str, dict[str, float]] = {}
    kinds = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
    for record in instance.all_logs(result.run_id, of_type=kinds):
        event = record.dagster_event
        step = steps.setdefault(event.step_key, {})
        key = "start" if event.event_type == DagsterEventType.STEP_START else "end"
        step[key] = record.timestamp
        if event.event_type == DagsterEventType.STEP_FAILURE:
            step["failed"] = 1.0
    out.write_text(
        json.dumps(
            {
                "run_id": result.run_id,
                "success": result.success,
                "error": result.error,
                "process_start": started,
                "imported": imported,
                "definitions_loaded": loaded,
                "run_end": finished,
                "steps": steps,
            },
            indent=1,
        )
    )


def child_baseline(home: Path, out: Path) -> None:
    """Time the BERTopic-style baseline on the embeddings the pipeline stored in `home`."""
    import numpy as np

    from kura_dagster.core.storage import tables
    from kura_dagster.core.storage.store import read_table

    embeddings = read_table(home / "kura.duckdb", "embeddings", DATASET, DAY)
    summaries = read_table(home / "kura.duckdb", "summaries", DATASET, DAY)
    chat_ids, vectors = tables.embeddings_from_arrow(embeddings)
    request_of = dict(zip(summaries.column("chat_id").to_pylist(), summaries.column("request").to_pylist()))
    texts = [request_of[chat_id] or "" for chat_id in chat_ids]
    from baseline import bertopic_style  # bench/baseline.py, the same recipe bench/quality.py scores

    started = time.time()
    labels, words = bertopic_style(vectors, texts, random_state=42)
    keywords = [words[topic] for topic in sorted(words) if topic != -1]
    stage_seconds = {"umap_hdbscan_ctfidf": time.time() - started}
    out.write_text(
        json.dumps(
            {
                "seconds": time.time() - started,
                "stages": stage_seconds,
                "rows": len(chat_ids),
                "topics": int(len(set(labels.tolist()) - {-1})),
                "noise_share": float(np.mean(labels == -1)),
                "example_keywords": keywords[:5],
            },
            indent=1,
        )
    )


# --------------------------------------------------------------------------------------------- parent side


class TreeSampler:
    """Samples the resident memory of a process and all its descendants until stopped."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._process = psutil.Process(pid)
        self.samples: list[tuple[float, int, float]] = []  # (time, RSS bytes, CPU seconds so far)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> "TreeSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        import psutil

        while not self._stop.is_set():
            total, cpu = 0, 0.0
            try:
                for process in [self._process, *self._process.children(recursive=True)]:
                    try:
                        total += process.memory_info().rss
                        times = process.cpu_times()
                        # children_*: workers that already exited (e.g. the summariser's pool) and were reaped.
                        cpu += times.user + times.system + times.children_user + times.children_system
                    except psutil.Error:
                        pass
            except psutil.Error:
                break
            self.samples.append((time.time(), total, cpu))
            self._stop.wait(SAMPLE_EVERY_S)


def run_child(args: list[str], timeout_s: float | None = None) -> dict:
    """Run `python bench/scale.py <args>` and sample its memory; returns timings, samples and exit code."""
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    started = time.time()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    process = subprocess.Popen(command, cwd=ROOT)
    timed_out = False
    with TreeSampler(process.pid) as sampler:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            process.kill()
            process.wait()
    # ru_maxrss is the largest of all waited-for children so far (KiB on Linux): only meaningful when it grew.
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "returncode": process.returncode,
        "timed_out": timed_out,
        "wall_s": time.time() - started,
        "samples": sampler.samples,
        "maxrss_bytes": after * 1024 if after > before else None,
    }


def peak_between(samples: list[tuple[float, int, float]], start: float, end: float) -> int:
    inside = [rss for t, rss, _ in samples if start <= t <= end]
    return max(inside) if inside else 0


def cpu_between(samples: list[tuple[float, int, float]], start: float, end: float) -> float:
    """CPU seconds the process tree used between two moments (from the nearest samples inside)."""
    inside = [cpu for t, _, cpu in samples if start <= t <= end]
    return inside[-1] - inside[0] if len(inside) >= 2 else 0.0


def stage_of(step_key: str) -> str:
    """Asset steps are named after the asset; anything else is an asset check."""
    if step_key in STAGES:
        return step_key
    return "explorer" if step_key in EXPLORER else "checks"


def one_pipeline_run(size: int, data_dir: Path, scratch: Path, numba_cache: Path) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"home{size}-", dir=scratch))
    out = home / "timings.json"
    os.environ["NUMBA_CACHE_DIR"] = str(numba_cache)
    measured = run_child(["--child-run", str(home), str(data_dir), str(out)])
    if measured["returncode"] != 0 or not out.exists():
        raise RuntimeError(
            f"pipeline child failed for n={size} (exit {measured['returncode']}); see its output"
        )
    timings = json.loads(out.read_text())
    if not timings["success"]:
        raise RuntimeError(f"pipeline run failed for n={size}: {timings['error']}")
    samples = measured["samples"]
    stages: dict[str, dict] = {}
    for step_key, step in sorted(timings["steps"].items(), key=lambda item: item[1]["start"]):
        name = stage_of(step_key)
        entry = stages.setdefault(name, {"seconds": 0.0, "cpu_s": 0.0, "peak_rss_bytes": 0, "steps": []})
        entry["seconds"] += step["end"] - step["start"]
        entry["cpu_s"] += cpu_between(samples, step["start"], step["end"])
        peak = peak_between(samples, step["start"], step["end"])
        entry["peak_rss_bytes"] = max(entry["peak_rss_bytes"], peak)
        entry["steps"].append(step_key)
        entry.setdefault("step_peak_rss_bytes", {})[step_key] = peak  # which step of a stage was the peak
    assets_s = sum(stages[s]["seconds"] for s in STAGES if s in stages)
    first = min(step["start"] for step in timings["steps"].values())
    last = max(step["end"] for step in timings["steps"].values())
    return {
        "home": str(home),
        "run_id": timings["run_id"],
        "stages": stages,
        "assets_s": assets_s,  # conversations → projections, DuckDB writes included, checks excluded
        "steps_wall_s": last - first,  # first step start → last step end (assets and checks)
        "startup_s": timings["definitions_loaded"] - timings["process_start"],
        "import_s": timings["imported"] - timings["process_start"],
        "process_wall_s": measured["wall_s"],
        "peak_rss_bytes": max((rss for _, rss, _ in samples), default=0),
        "stages_peak_rss_bytes": max((stages[s]["peak_rss_bytes"] for s in STAGES if s in stages), default=0),
        "maxrss_bytes": measured["maxrss_bytes"],
        "assets_cpu_s": sum(stages[s]["cpu_s"] for s in STAGES if s in stages),
        "load_average": os.getloadavg(),
    }


def warm_up(scratch: Path, numba_cache: Path, write_partition) -> str:
    """One untimed small run before the timed ones: it compiles UMAP's numba functions into the shared cache,
    as a machine's first run does once (KURA_HOME/numba_cache), so every timed run sees what later runs see.
    Returns a line for the report saying what the first run cost."""
    size = 2_000
    data_dir = scratch / f"data-{size}"
    if not (data_dir / DATASET / f"{DAY}.jsonl").exists():
        write_partition(data_dir, size, Date.fromisoformat(DAY))
    was_cold = not any(numba_cache.rglob("*.nbi")) if numba_cache.exists() else True
    run = one_pipeline_run(size, data_dir, scratch, numba_cache)
    shutil.rmtree(run["home"], ignore_errors=True)
    state = "compiling UMAP into an empty numba cache" if was_cold else "numba cache already warm"
    line = (
        f"Warm-up before the timed runs: one {size:,}-conversation run, {run['assets_s']:.1f} s of assets "
        f"({state}; projections {run['stages']['projections']['seconds']:.1f} s). A machine pays the "
        "compilation once; the timed runs share the cache."
    )
    print(line, flush=True)
    return line


def baseline_run(home: Path, timeout_s: float) -> dict:
    out = home / "baseline.json"
    measured = run_child(["--child-baseline", str(home), str(out)], timeout_s=timeout_s)
    peak = max((rss for _, rss, _ in measured["samples"]), default=0)
    cpu = measured["samples"][-1][2] if measured["samples"] else 0.0
    if measured["timed_out"]:
        return {"status": f"timeout after {timeout_s:.0f} s", "peak_rss_bytes": peak}
    if measured["returncode"] != 0 or not out.exists():
        status = (
            "killed (out of memory?)"
            if measured["returncode"] in (-9, 137)
            else f"exit {measured['returncode']}"
        )
        return {"status": status, "peak_rss_bytes": peak}
    return {"status": "ok", **json.loads(out.read_text()), "peak_rss_bytes": peak, "process_cpu_s": cpu}


def fitted_exponent(sizes: list[int], seconds: list[float]) -> float | None:
    """Least-squares slope of log(seconds) against log(n): time grows about as n^slope."""
    points = [(math.log(n), math.log(s)) for n, s in zip(sizes, seconds) if s > 0]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    numerator = sum((x - mean_x) * (y - mean_y) for x, y in points)
    denominator = sum((x - mean_x) ** 2 for x, _ in points)
    return numerator / denominator if denominator else None


def summarise_size(size: int, runs: list[dict]) -> dict:
    def median(values):
        return statistics.median(values) if values else None

    names = STAGES + OTHERS
    stages = {}
    for name in names:
        seconds = [run["stages"][name]["seconds"] for run in runs if name in run["stages"]]
        cpu = [run["stages"][name]["cpu_s"] for run in runs if name in run["stages"]]
        peaks = [run["stages"][name]["peak_rss_bytes"] for run in runs if name in run["stages"]]
        if seconds:
            step_peaks: dict[str, int] = {}
            for run in runs:
                for step, peak in run["stages"].get(name, {}).get("step_peak_rss_bytes", {}).items():
                    step_peaks[step] = max(step_peaks.get(step, 0), peak)
            stages[name] = {
                "seconds": median(seconds),
                "cpu_s": median(cpu),
                "peak_rss_bytes": max(peaks),
                "per_second": size / median(seconds) if median(seconds) else None,
                "step_peak_rss_bytes": step_peaks,
            }
    return {
        "n": size,
        "runs": len(runs),
        "stages": stages,
        "assets_s": median([r["assets_s"] for r in runs]),
        "assets_s_all": [r["assets_s"] for r in runs],
        "assets_cpu_s": median([r["assets_cpu_s"] for r in runs]),
        "load_average": [r["load_average"][0] for r in runs],
        "steps_wall_s": median([r["steps_wall_s"] for r in runs]),
        "startup_s": median([r["startup_s"] for r in runs]),
        "process_wall_s": median([r["process_wall_s"] for r in runs]),
        "peak_rss_bytes": max(r["peak_rss_bytes"] for r in runs),
        "stages_peak_rss_bytes": max(r.get("stages_peak_rss_bytes", 0) for r in runs),
        "maxrss_bytes": max((r["maxrss_bytes"] or 0) for r in runs) or None,
    }


def gib(value: int | None) -> str:
    return "—" if not value else f"{value / 2**30:.2f}"


def markdown(report: dict) -> str:
    sizes = report["sizes"]
    lines = [
        "# Scale benchmark",
        "",
        f"{report['machine']['cores']} cores, {report['machine']['memory_gib']:.0f} GiB, Python "
        f"{report['machine']['python']}; {report['date']}; local defaults (extractive summaries, WordLlama, "
        "k-means, Ward hierarchy, UMAP map). Seconds are medians over the runs; peak RSS is the largest "
        "sample of the run process tree (GiB), the run process and its workers together. The six stages are "
        "conversations through projections (DuckDB writes included); the job also runs the asset checks and "
        "the explorer assets (topic_trends, report), shown apart.",
        "",
        "CPU s is the user+system time of the run's process tree over the same steps: on a shared machine "
        "(see the load average, 2 = both cores busy) it says what the run costs when it has the cores to itself.",
        "",
        "| n | runs | six stages end to end (s) | their CPU (s) | whole run: + checks, explorer (s) | start-up (s) | "
        "peak RSS, six stages (GiB) | peak RSS, whole run (GiB) | conversations/s | load avg |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in sizes:
        load = ", ".join(f"{value:.1f}" for value in s["load_average"])
        lines.append(
            f"| {s['n']:,} | {s['runs']} | {s['assets_s']:.1f} | {s['assets_cpu_s']:.1f} | "
            f"{s['steps_wall_s']:.1f} | {s['startup_s']:.1f} | {gib(s.get('stages_peak_rss_bytes'))} | "
            f"{gib(s['peak_rss_bytes'])} | "
            f"{s['n'] / s['assets_s']:,.0f} | {load} |"
        )
    lines += [
        "",
        "Per stage: wall seconds / CPU seconds / peak RSS GiB / conversations per second (wall)",
        "",
        "| stage | " + " | ".join(f"{s['n']:,}" for s in sizes) + " | exponent |",
        "|---|" + "---:|" * (len(sizes) + 1),
    ]
    for name in STAGES + OTHERS:
        cells = []
        for s in sizes:
            stage = s["stages"].get(name)
            cells.append(
                "—"
                if stage is None
                else f"{stage['seconds']:.1f} / {stage['cpu_s']:.1f} / {gib(stage['peak_rss_bytes'])} / "
                f"{stage['per_second']:,.0f}"
            )
        exponent = report["exponents"].get(name)
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {'—' if exponent is None else f'{exponent:.2f}'} |"
        )
    explorer = [
        f"{s['n']:,}: "
        + ", ".join(
            f"{step} {gib(peak)}"
            for step, peak in s["stages"]["explorer"].get("step_peak_rss_bytes", {}).items()
        )
        for s in sizes
        if "explorer" in s["stages"]
    ]
    if explorer:
        lines += ["", "Peak RSS (GiB) of the explorer's steps: " + "; ".join(explorer) + "."]
    total = report["exponents"].get("assets")
    total_cpu = report["exponents"].get("assets_cpu")
    if total:
        lines += [
            "",
            f"Wall time grows as n^{total:.2f} end to end, CPU time as n^{total_cpu:.2f} "
            "(least-squares slope of log time against log n over the sizes; exponents per stage are of wall time).",
        ]
        steps = [
            f"{a['n']:,} → {b['n']:,}: wall n^{fitted_exponent([a['n'], b['n']], [a['assets_s'], b['assets_s']]):.2f}, "
            f"CPU n^{fitted_exponent([a['n'], b['n']], [a['assets_cpu_s'], b['assets_cpu_s']]):.2f}"
            for a, b in zip(sizes, sizes[1:])
        ]
        lines += [
            "",
            "Between consecutive sizes (above 20,000 conversations the base clusters take the large-input "
            "path, so the step from 10k is not like for like): " + "; ".join(steps) + ".",
        ]
    if report.get("baseline"):
        lines += [
            "",
            "## BERTopic-style baseline on the same embeddings",
            "",
            "UMAP(5, cosine) → HDBSCAN(min_cluster_size=10) → c-TF-IDF, against this pipeline's "
            "base_clusters + meta_clusters + projections (from the same stored embeddings).",
            "",
            "| n | baseline | baseline (s) | ours (s) | baseline / ours | topics | noise | peak RSS (GiB) |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for row in report["baseline"]:
            ours = row["ours_s"]
            if row["status"] == "ok":
                lines.append(
                    f"| {row['n']:,} | ok | {row['seconds']:.1f} | {ours:.1f} | {row['seconds'] / ours:.2f}× | "
                    f"{row['topics']} | {row['noise_share']:.0%} | {gib(row['peak_rss_bytes'])} |"
                )
            else:
                lines.append(
                    f"| {row['n']:,} | {row['status']} | — | {ours:.1f} | — | — | — | "
                    f"{gib(row['peak_rss_bytes'])} |"
                )
    if report.get("notes"):
        lines += ["", *report["notes"]]
    return "\n".join(lines) + "\n"


def write_report(args: argparse.Namespace, summaries: list[dict], raw: dict, baseline: list[dict]) -> dict:
    """Write scale.json and scale.md for the sizes done so far (called after each size: a long run that is
    stopped still leaves its smaller sizes on disk)."""
    import psutil

    sizes = [s["n"] for s in summaries]
    exponents = {
        "assets": fitted_exponent(sizes, [s["assets_s"] for s in summaries]),
        "assets_cpu": fitted_exponent(sizes, [s["assets_cpu_s"] for s in summaries]),
    }
    for name in STAGES + OTHERS:
        if all(name in s["stages"] for s in summaries):
            exponents[name] = fitted_exponent(sizes, [s["stages"][name]["seconds"] for s in summaries])
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {
            "cores": os.cpu_count(),
            "memory_gib": psutil.virtual_memory().total / 2**30,
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
        },
        "sizes": summaries,
        "exponents": exponents,
        "baseline": baseline,
        "notes": args.note,
        "runs": {str(k): v for k, v in raw.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=1, default=str))
    (args.out / f"{args.name}.md").write_text(markdown(report))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scale benchmark of the kura-dagster pipeline.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3, help="runs per size below 1M (default 3)")
    parser.add_argument(
        "--repeats-large", type=int, default=1, help="runs per size of 1M and more (default 1)"
    )
    parser.add_argument("--baseline-sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--baseline-timeout", type=float, default=900.0)
    parser.add_argument(
        "--scratch",
        type=Path,
        default=Path(os.environ.get("KURA_BENCH_SCRATCH", ROOT / ".bench")),
        help="generated data and run homes (default .bench/, never committed)",
    )
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="where scale.json/.md go")
    parser.add_argument("--name", default="scale", help="file name stem of the results")
    parser.add_argument("--keep-homes", action="store_true", help="keep each run's KURA_HOME")
    parser.add_argument(
        "--via",
        choices=["in-process", "backfill"],
        default="in-process",
        help="in-process: the job in the child process, as `kura-dagster demo` runs it (default); "
        "backfill: as `kura-dagster run` does, with KURA_EXECUTOR's executor",
    )
    parser.add_argument("--note", action="append", default=[], help="a line added to the markdown")
    parser.add_argument(
        "--no-warm-up",
        action="store_true",
        help="skip the untimed first run that compiles UMAP into the shared numba cache",
    )
    # Internal: the child processes.
    parser.add_argument("--child-run", nargs=3, metavar=("HOME", "DATA", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--child-baseline", nargs=2, metavar=("HOME", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_run:
        child_run(*(Path(p) for p in args.child_run))
        return 0
    if args.child_baseline:
        child_baseline(*(Path(p) for p in args.child_baseline))
        return 0

    sys.path.insert(0, str(BENCH_DIR))
    import psutil  # noqa: F401  (missing, it fails here, before any run: the sampler needs it)
    from generate import write_partition

    os.environ["KURA_BENCH_VIA"] = args.via
    args.scratch.mkdir(parents=True, exist_ok=True)
    numba_cache = args.scratch / "numba_cache"  # shared by the runs: UMAP's JIT is compiled once per machine
    summaries, raw, baseline = [], {}, []
    if not args.no_warm_up:
        args.note.append(warm_up(args.scratch, numba_cache, write_partition))
    for size in sorted(args.sizes):
        data_dir = args.scratch / f"data-{size}"
        path = data_dir / DATASET / f"{DAY}.jsonl"
        if not path.exists():
            started = time.time()
            write_partition(data_dir, size, Date.fromisoformat(DAY))
            print(f"generated {size:,} conversations in {time.time() - started:.0f} s", flush=True)
        repeats = args.repeats_large if size >= 1_000_000 else args.repeats
        runs = []
        for attempt in range(repeats):
            run = one_pipeline_run(size, data_dir, args.scratch, numba_cache)
            print(
                f"n={size:,} run {attempt + 1}/{repeats}: assets {run['assets_s']:.1f} s, "
                f"peak RSS {gib(run['peak_rss_bytes'])} GiB",
                flush=True,
            )
            runs.append(run)
            last_home = Path(run["home"])
            if attempt < repeats - 1 and not args.keep_homes:
                shutil.rmtree(last_home, ignore_errors=True)
        raw[size] = runs
        summary = summarise_size(size, runs)
        summaries.append(summary)
        if size in args.baseline_sizes:
            row = baseline_run(last_home, args.baseline_timeout)
            ours = sum(
                summary["stages"][s]["seconds"] for s in ("base_clusters", "meta_clusters", "projections")
            )
            baseline.append({"n": size, "ours_s": ours, **row})
            print(
                f"baseline n={size:,}: {row['status']} {row.get('seconds', 0):.1f} s (ours {ours:.1f} s)",
                flush=True,
            )
        if not args.keep_homes:
            shutil.rmtree(last_home, ignore_errors=True)
        write_report(args, summaries, raw, baseline)

    print(markdown(write_report(args, summaries, raw, baseline)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
