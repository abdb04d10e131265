"""Peak memory and speed of `kura-dagster ingest` on a large JSONL export (about 1 GB by default).

Generates a deterministic export in a temporary folder: realistic multi-turn conversations spread over
several UTC days (with time zone offsets, nested metadata, some giant messages), plus exact repeats,
same-id-different-content records and broken records (malformed JSON, missing fields, unknown roles,
invalid UTF-8, impossible dates, empty conversations). It then runs the real command in a subprocess,
twice (the second run must change nothing), and measures for each run the wall time, the throughput and
the peak resident memory of the command's process (`getrusage(RUSAGE_CHILDREN).ru_maxrss` in a wrapper
process that runs nothing else, so the figure is the kernel's high-water mark of that one process).
The counts printed by the command are checked against what the generator wrote.

    python bench/ingest_memory.py [--size-mb 1024] [--days 7] [--seed 0] [--format jsonl|kura] [--workdir DIR] [--keep]

`--format kura` writes the same records as one JSON array (Kura's dump; Claude's and ChatGPT's exports
are arrays too), without the malformed-JSON records, which would make the whole document unreadable.

Results: `bench/results/ingest_memory_<format>.json` (overwritten) and one markdown line appended to
`bench/results/ingest_memory.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"

WORDS = (
    "order refund invoice password account login error build deploy docker python pandas merge dataframe "
    "query index timeout network router wifi printer driver update install version package dependency "
    "cluster kubernetes pod memory leak crash stack trace exception null pointer database migration schema "
    "email calendar meeting schedule travel flight hotel booking cancel change address shipping delivery "
    "tracking customer support ticket priority billing subscription plan upgrade downgrade discount coupon "
    "recipe dinner vegetarian translate french spanish essay paragraph grammar summary report chart sales "
    "quarter revenue forecast budget spreadsheet formula column filter sort pivot table macro script regex "
    "function class method variable loop recursion algorithm complexity sort search tree graph cache "
    "the a to of and in is it for on with that this my you can how what why when please thanks still "
    "again not working does doesn't help need want try tried fix issue problem question answer"
).split()
TOPICS = ("support", "coding", "writing", "travel", "data", "billing")
MODELS = ("gpt-4o-mini", "claude-3-5-haiku", "llama-3.1-8b")
OFFSETS = ("Z", "+00:00", "-05:00", "+05:30", "+09:00", "")  # "" = naive, taken as UTC


def _text(rng: random.Random, low: int, high: int) -> str:
    words = rng.choices(WORDS, k=rng.randint(low, high))
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice(".?!")


def _stamp(moment: datetime, offset: str) -> str:
    if offset in ("Z", ""):
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + offset
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    local = moment + sign * timedelta(hours=hours, minutes=minutes)
    return local.strftime("%Y-%m-%dT%H:%M:%S") + offset


def _conversation(rng: random.Random, number: int, start: datetime, days: int) -> dict:
    moment = start + timedelta(seconds=rng.randrange(days * 86400))
    messages = []
    for turn in range(rng.randint(1, 4)):
        messages.append({"role": "user", "content": _text(rng, 8, 80)})
        messages.append({"role": "assistant", "content": _text(rng, 30, 400)})
    if rng.random() < 0.001:  # a giant paste: cut at 100,000 characters and flagged
        messages[0]["content"] = "log line " * 15_000
    topic = rng.choice(TOPICS)
    return {
        "chat_id": f"{topic}-{number:08d}",
        "created_at": _stamp(moment, rng.choice(OFFSETS)),
        "messages": messages,
        "metadata": {
            "user_id": f"u{rng.randrange(50_000):05d}",
            "model": rng.choice(MODELS),
            "client": {"os": rng.choice(("ios", "android", "web")), "version": rng.randint(1, 9)},
        },
    }


BROKEN = (
    lambda good: b'{"chat_id": "cut-off", "created_at": "2026-11-0',  # malformed JSON
    lambda good: json.dumps({k: v for k, v in good.items() if k != "created_at"}).encode(),  # missing field
    lambda good: json.dumps(
        {**good, "messages": [{"role": "wizard", "content": "hi"}]}
    ).encode(),  # unknown role
    lambda good: json.dumps(good).encode().replace(b'"messages"', b'"messages\xff\xfe"', 1),  # invalid UTF-8
    lambda good: json.dumps({**good, "created_at": "2026-02-30T10:00:00Z"}).encode(),  # impossible date
    lambda good: json.dumps({**good, "messages": []}).encode(),  # empty conversation
)


def generate(path: Path, size_bytes: int, days: int, seed: int, document: bool = False) -> dict:
    """Write the export (JSON lines, or one JSON array when `document`); return what the command must report."""
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    counts = {"records": 0, "good": 0, "repeats": 0, "variants": 0, "broken": 0}
    recent: list[dict] = []
    written = 0
    breakers = BROKEN[1:] if document else BROKEN  # a document cannot hold malformed JSON and still be read
    with path.open("wb") as handle:
        number = 0
        if document:
            handle.write(b"[\n")
        while written < size_bytes:
            roll = rng.random()
            if recent and roll < 0.004:  # an exact repeat of a recent record: merged as a duplicate
                line, kind = json.dumps(rng.choice(recent)).encode(), "repeats"
            elif recent and roll < 0.006:  # the same chat_id with other content: kept as ID~2
                original = recent.pop(rng.randrange(len(recent)))  # once: a second edit would repeat it
                variant = {**original, "metadata": {**original["metadata"], "edited": True}}
                line, kind = json.dumps(variant).encode(), "variants"
            elif recent and roll < 0.012:
                line, kind = rng.choice(breakers)(rng.choice(recent)), "broken"
            else:
                number += 1
                good = _conversation(rng, number, start, days)
                recent = (recent + [good])[-64:]
                line, kind = json.dumps(good).encode(), "good"
            separator = b",\n" if document and counts["records"] else b""
            handle.write(separator + line if document else line + b"\n")
            written += len(line) + 1
            counts["records"] += 1
            counts[kind] += 1
        if document:
            handle.write(b"\n]\n")
    counts["bytes"] = path.stat().st_size
    return counts


WRAPPER = (
    "import resource, subprocess, sys, json; "
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
    "print(json.dumps({'rc': done.returncode, 'peak_kib': peak, 'stdout': done.stdout, "
    "'stderr': done.stderr[-4000:]}))"
)


def run_ingest(export: Path, workdir: Path) -> dict:
    command = [
        str(Path(sys.executable).with_name("kura-dagster")),
        "ingest",
        str(export),
        "--dataset",
        "bench",
    ]
    env = {
        **os.environ,
        "KURA_HOME": str(workdir / "home"),
        "KURA_DATA_DIR": str(workdir / "data"),
        "DAGSTER_HOME": str(workdir / "home" / "dagster"),
    }
    started = time.perf_counter()
    wrapped = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, env=env, check=True
    )
    seconds = time.perf_counter() - started
    outcome = json.loads(wrapped.stdout)
    if outcome["rc"] != 0:
        raise SystemExit(f"kura-dagster ingest failed ({outcome['rc']}): {outcome['stderr']}")
    match = re.search(
        r"(\d+) accepted \+ (\d+) duplicates merged \+ (\d+) quarantined = (\d+) records read "
        r"\((\d+) of the accepted",
        outcome["stdout"],
    )
    if not match:
        raise SystemExit(f"unexpected output: {outcome['stdout']}")
    accepted, duplicates, quarantined, records, unchanged = map(int, match.groups())
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(outcome["peak_kib"] / 1024, 1),
        "accepted": accepted,
        "duplicates": duplicates,
        "quarantined": quarantined,
        "records": records,
        "unchanged": unchanged,
    }


def landed_lines(folder: Path) -> tuple[int, int]:
    files = sorted(folder.glob("*.jsonl"))
    lines = 0
    for path in files:
        with path.open("rb") as handle:
            lines += sum(1 for _ in handle)
    return len(files), lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=float, default=1024.0, help="size of the generated export (MiB)")
    parser.add_argument("--days", type=int, default=7, help="UTC days the conversations are spread over")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--format", choices=("jsonl", "kura"), default="jsonl", help="JSON lines or one JSON array"
    )
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--note", default="", help="a remark stored with the result (e.g. 'machine busy')")
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kura-ingest-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        export = workdir / ("export.jsonl" if args.format == "jsonl" else "conversations.json")
        started = time.perf_counter()
        expected = generate(
            export, int(args.size_mb * 1024 * 1024), args.days, args.seed, args.format == "kura"
        )
        print(
            f"generated {expected['bytes'] / 2**20:.0f} MiB, {expected['records']:,} records in "
            f"{time.perf_counter() - started:.0f}s: {expected}",
            flush=True,
        )
        runs = []
        for attempt in ("first", "again"):
            result = run_ingest(export, workdir)
            print(f"{attempt}: {result}", flush=True)
            runs.append(result)
        first, again = runs
        assert first["records"] == expected["records"], (first, expected)
        assert first["quarantined"] == expected["broken"], (first, expected)
        assert first["duplicates"] == expected["repeats"], (first, expected)
        assert first["accepted"] == expected["good"] + expected["variants"], (first, expected)
        assert again["unchanged"] == again["accepted"] == first["accepted"], (again, first)
        files, lines = landed_lines(workdir / "data" / "bench")
        assert lines == first["accepted"], (lines, first)
        mib = expected["bytes"] / 2**20
        result = {
            "benchmark": "ingest_memory",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "format": args.format,
            "export_mib": round(mib, 1),
            "records": expected["records"],
            "days": args.days,
            "day_files": files,
            "seed": args.seed,
            "cpus": os.cpu_count(),
            "note": args.note,
            "first": {
                **first,
                "mib_per_s": round(mib / first["seconds"], 2),
                "records_per_s": round(first["records"] / first["seconds"]),
            },
            "again": {
                **again,
                "mib_per_s": round(mib / again["seconds"], 2),
                "records_per_s": round(again["records"] / again["seconds"]),
            },
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"ingest_memory_{args.format}.json").write_text(
            json.dumps(result, indent=2) + "\n", encoding="utf-8"
        )
        line = (
            f"| {result['date']} | {args.format}, {mib:.0f} MiB, {expected['records']:,} records, {files} days | "
            f"first: {first['seconds']:.0f} s, {result['first']['mib_per_s']:.1f} MiB/s, "
            f"{result['first']['records_per_s']:,} records/s, peak RSS {first['peak_rss_mib']:.0f} MiB | "
            f"again: {again['seconds']:.0f} s, peak RSS {again['peak_rss_mib']:.0f} MiB | {args.note} |\n"
        )
        with (RESULTS / "ingest_memory.md").open("a", encoding="utf-8") as handle:
            handle.write(line)
        print(line, end="")
        return 0
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
