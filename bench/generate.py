"""Exactly N synthetic conversations in ONE landing-zone partition, for the scale benchmark.

It reuses `scripts/generate_sample.py`'s 30 hand-written themes (15 coding, 15 customer support), their
slot-filled details, multi-turn follow-ups (thanks, "still failing", clarifications, frustration, rare
concerning requests) and ~13% non-English chats. Differences from the sample generator:

- one partition holds both datasets' themes, in the proportion of their popularity, so a big day looks
  like a busy assistant rather than 10,000 copies of one day's mix;
- the count is exact (the sample generator varies it ±8% per day);
- the user's opening turn gets, a quarter of the time, a trailing context sentence (`CONTEXT`: their setting, urgency,
  what they tried) and, now and then, typing habits (all lower case, no final punctuation): the templates
  alone give ~20k distinct openings per 100k conversations, real traffic has a longer tail;
- conversations are produced and written in streaming chunks, so 1M rows never sit in memory at once.

Deterministic: `random.Random` seeded from `seed:n:date`; the same arguments give a byte-identical file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import random
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CONTEXT = (
    [
        "I'm on {os}.",
        "This is for a {project} I'm building.",
        "Deadline is {when}, so it's a bit urgent.",
        "I already searched the docs and a few forum threads.",
        "Not sure if this matters but I'm using {os}.",
        "Colleague says it worked for them last {when}.",
        "I'm fairly new to this, sorry if it's obvious.",
        "It started after I updated everything {when}.",
        "Same thing happens on my second machine.",
    ],
    [
        "I'm writing from {country}.",
        "I've been a customer for {years} years.",
        "I need this sorted by {when}.",
        "I already tried the help centre.",
        "My partner has the same problem on their account.",
        "I ordered it as a gift for {when}.",
        "I contacted you {count} times already.",
        "I'm using the app on {os}.",
    ],
)
CONTEXT_SLOTS = {
    "os": [
        "Windows 11",
        "macOS Sonoma",
        "Ubuntu 24.04",
        "an old ThinkPad",
        "my phone",
        "Android 14",
        "iOS 18",
        "a Chromebook",
        "WSL2",
        "Debian 12",
    ],
    "project": ["side project", "university course", "client", "startup", "thesis", "hackathon", "work tool"],
    "when": ["tomorrow", "Friday", "Monday", "week", "month", "tonight", "the weekend", "end of day"],
    "country": ["Germany", "Spain", "Ireland", "Canada", "the Netherlands", "Portugal", "Austria", "Belgium"],
    "years": ["2", "3", "5", "8", "10"],
    "count": ["two", "three", "four", "five"],
}


@lru_cache(maxsize=1)
def sample_generator():
    """`scripts/generate_sample.py` as a module (scripts/ is not a package)."""
    path = ROOT / "scripts" / "generate_sample.py"
    spec = importlib.util.spec_from_file_location("generate_sample", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate_sample", module)
    spec.loader.exec_module(module)
    return module


def _theme_table(gen, seed: int) -> list[tuple[str, str, str, float]]:
    """(dataset, language, theme, weight) for every combination the sample generator knows."""
    table = []
    for dataset, themes in gen.DATASETS.items():
        # Day index 6: the week's last day, when the emerging themes are already popular.
        weights = gen.theme_weights(themes, 6, seed, dataset)
        total_lang = sum(gen.LANG_WEIGHTS.values())
        for theme, weight in weights.items():
            table.append((dataset, "en", theme, weight * (1 - gen.LANG_SHARE)))
            for lang, lang_weight in gen.LANG_WEIGHTS.items():
                if theme in gen.FOREIGN_BY[lang, dataset]:
                    table.append((dataset, lang, theme, weight * gen.LANG_SHARE * lang_weight / total_lang))
    return table


def generate_records(
    n: int, day: dt.date, *, seed: int = 7, dataset: str = "bench", labels: list | None = None
):
    """Yield `n` landing-zone records (dicts) in chat_id order, all on `day`; with `labels`, append each one's
    (chat_id, source dataset, theme, language) to it (ground truth, never written into the records)."""
    gen = sample_generator()
    rng = random.Random(f"{seed}:{n}:{day.isoformat()}")
    table = _theme_table(gen, seed)
    choices = list(range(len(table)))
    cumulative = []
    running = 0.0
    for *_, weight in table:
        running += max(weight, 0.01)
        cumulative.append(running)
    pools = {name: gen.user_pools(seed, name) for name in gen.DATASETS}
    width = len(str(max(n - 1, 0)))
    for index in range(n):
        source, lang, theme, _ = table[rng.choices(choices, cum_weights=cumulative)[0]]
        users, activity, prefs = pools[source]
        user = rng.choices(users[lang], activity[lang])[0]
        channel = prefs[user] if rng.random() < 0.8 else rng.choices(*gen.CHANNELS[source])[0]
        # Seconds spread over the day in index order, so created_at increases with chat_id.
        seconds = (index * 86_400) // max(n, 1)
        created = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)
        messages = vary_opening(rng, gen.Conversation(rng, source, theme, lang, day).build(), source)
        chat_id = f"{dataset}-{day.isoformat()}-{index:0{width}d}"
        if labels is not None:
            labels.append((chat_id, source, theme, lang))
        yield {
            "chat_id": chat_id,
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "messages": [{"role": role, "content": content} for role, content in messages],
            "metadata": {
                "user_id": user,
                "model": gen.pick_model(rng, source, 6),
                "channel": channel,
                "source": source,
            },
        }


def vary_opening(rng: random.Random, messages: list[tuple[str, str]], source: str) -> list[tuple[str, str]]:
    """The opening turn with an optional context sentence and typing habits (see the module docstring)."""
    role, opening = messages[0]
    if rng.random() < 0.25:
        sentence = rng.choice(CONTEXT[0 if source == "coding_assistant" else 1])
        for name, values in CONTEXT_SLOTS.items():
            if "{" + name + "}" in sentence:
                sentence = sentence.replace("{" + name + "}", rng.choice(values))
        opening = f"{opening} {sentence}"
    if rng.random() < 0.15 and "```" not in opening:
        opening = opening.lower().rstrip(".?!")
    return [(role, opening), *messages[1:]]


def write_partition(
    data_dir: Path,
    n: int,
    day: dt.date,
    *,
    seed: int = 7,
    dataset: str = "bench",
    labels_path: Path | None = None,
) -> Path:
    """Write `<data_dir>/<dataset>/<day>.jsonl` with exactly `n` conversations; returns its path. With
    `labels_path`, also a CSV chat_id,dataset,theme,language there (outside the landing zone)."""
    folder = Path(data_dir) / dataset
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{day.isoformat()}.jsonl"
    partial = path.with_suffix(".jsonl.partial")
    with partial.open("w", encoding="utf-8", newline="\n") as handle:
        lines = []
        labels: list | None = [] if labels_path is not None else None
        for record in generate_records(n, day, seed=seed, dataset=dataset, labels=labels):
            lines.append(json.dumps(record, ensure_ascii=False))
            if len(lines) == 10_000:
                handle.write("\n".join(lines) + "\n")
                lines = []
        if lines:
            handle.write("\n".join(lines) + "\n")
    partial.replace(path)  # a half-written file never looks like a finished partition
    if labels_path is not None:
        import csv

        with open(labels_path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["chat_id", "dataset", "theme", "language"])
            writer.writerows(labels)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True, help="number of conversations")
    parser.add_argument("--out", default="data", help="landing zone root (default: data)")
    parser.add_argument("--date", default="2026-11-01")
    parser.add_argument("--dataset", default="bench")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--labels",
        type=Path,
        metavar="FILE",
        help="also write a CSV chat_id,dataset,theme,language (ground truth), outside --out",
    )
    args = parser.parse_args(argv)
    if args.labels and Path(args.out).resolve() in args.labels.resolve().parents:
        parser.error(f"--labels {args.labels} is inside the landing zone {args.out}: write it elsewhere")
    path = write_partition(
        Path(args.out),
        args.n,
        dt.date.fromisoformat(args.date),
        seed=args.seed,
        dataset=args.dataset,
        labels_path=args.labels,
    )
    print(f"wrote {path} ({args.n} conversations)")


if __name__ == "__main__":
    main()
