"""Planted-topic benchmark of topic_trends (issue 16 point 4): are new, growing and vanishing themes flagged,
and is nothing else?

Data: labelled intents from ../shared/eval (clinc150 without `oos`, banking77), each text a one-message
conversation. Per seed, 30 labels are "steady" with fixed shares (Dirichlet weights: a long tail, as real
traffic), and three labels are planted:
- `emerging_10`: absent, then 10% of every day from day PLANT_DAY;
- `emerging_3`: absent, then 3% of every day from day PLANT_DAY;
- `fading`: 10% of every day, then 5%, 2% and 0 from day PLANT_DAY on.
Each day draws 100-300 conversations (uniform) by a multinomial over those shares (sampling noise only), each
one a random text of its label (texts repeat across days: a label has 30-40 of them). Null runs are the same
days with nothing planted (the three labels left out). A run is WARMUP (14) days of steady traffic, then 21
judged days; the themes are planted on the 11th judged day (PLANT_DAY).

Modes:
- `oracle`: the taxonomy is the labels themselves (a leaf per label seen in the trailing window, parents = fixed
  random groups of five labels, born the day a label first appears), each conversation assigned to its own
  label. Isolates the statistics of `compute_topic_trends` from clustering.
- `e2e`: the real path (bench/e2e_trends.py): local extractive summaries and WordLlama embeddings,
  `build_taxonomy` rebuilt every day over the trailing KURA_TAXONOMY_WINDOW_DAYS days with the previous
  version for stable ids, each day assigned with `assign_to_taxonomy`, then trends on the lineage. The first
  version is built on the last warm-up day (the warm-up days are assigned to it), so that every judged day's
  taxonomy has a full window (run it with KURA_TAXONOMY_WINDOW_DAYS <= WARMUP).
- `before`: the previous method's statistic (`flag_topic`: two-proportion z-test over a 7-day window whose last
  2 days are the recent ones, the reference day's own topics only, `ReferenceTrendOptions` defaults), on the
  oracle's assignments: how the old alerts do with perfect clustering.

Judging. A planted theme is judged by the topic(s) its conversations land in (the majority one, and any other
holding >= 25% of them): an emerging theme by its conversations from PLANT_DAY up to the judged day, the
fading one by its conversations before PLANT_DAY. On each
of the days PLANT_DAY+2 .. PLANT_DAY+4 one of those topics must be flagged `new`/`emerging` (emerging themes) or
`fading`/`gone` (the fading one): recall = hits / (runs x 3 days). Precision counts every flag (any level, any
day from FIRST_JUDGED on) of every run with planted themes: a flag is right when its topic is, or is an
ancestor of, a judged topic of a planted theme of the same direction, on or after PLANT_DAY. Null runs: every
flag is false; reported per 7 judged days (flag rows; a topic flagged 3 days running counts 3), and as false
alerts: each topic once a day, as `kura-dagster trends` lists it (the table repeats a leaf that ends above the
deepest level, and `unassigned`, at every level below it: one series, one alert).
`--judges topics themes` adds rows judged by `themes`: a topic made mostly of a theme's conversations is one
of its judged topics too (JUDGES says why).

    python bench/trends.py                               # oracle + before, 10 seeds, both datasets
    python bench/trends.py --modes oracle e2e before --seeds 0 1 2 --datasets clinc150
    python bench/trends.py --out bench/results/trends    # writes trends.md and trends.json
    python bench/trends.py --modes e2e-window --seeds 0 1 2 --datasets clinc150 --judges topics themes
    python bench/trends.py --seeds --merge a.json b.json --out bench/results/trends   # tables of earlier runs

The data is read from ../shared/eval and never copied into the repository.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import EVAL_DIR  # noqa: E402  (../shared/eval, found as every bench finds it)

from kura_dagster.core.stages.topic_novelty import RecentConcentration  # noqa: E402
from kura_dagster.core.stages.topic_trends import (  # noqa: E402
    FLAGS,
    ReferenceTrendOptions,
    TrendHistory,
    TrendOptions,
    compute_topic_trends,
    flag_topic,
)

DATASETS = {"clinc150": ("clinc150_test.jsonl", "oos"), "banking77": ("banking77_test.jsonl", None)}
START = Date(2026, 1, 1)
# Two weeks of steady traffic first: the dataset had been running (a full taxonomy window in e2e mode, a
# baseline for the trends), then 21 judged days, themes planted on the 11th.
WARMUP = 14
DAYS = WARMUP + 21
PLANT_DAY = WARMUP + 10
JUDGED = (PLANT_DAY + 2, PLANT_DAY + 3, PLANT_DAY + 4)
FIRST_JUDGED = WARMUP  # precision and false flags are counted from this day on
STEADY_LABELS = 30
SIZE = (100, 300)
PLANTED = ("emerging_10", "emerging_3", "fading")
GROWS = {"emerging_10": True, "emerging_3": True, "fading": False}
TARGETS = {"recall_emerging_10": 0.9, "recall_emerging_3": 0.7, "recall_fading": 0.9, "precision": 0.8}
MAX_FALSE_PER_WEEK = 1.0
SHARE_OF_THEME = 0.25
# `topics` (the default): the judged topics of a theme are those holding SHARE_OF_THEME of it. `themes` also
# counts every topic made mostly (> 50%) of the theme's conversations: the default counts a flag on such a
# topic as false once the clustering spreads the theme over five or more leaves, which measures the
# taxonomy's granularity (a label of clinc150 at 10% of the day is ~280 conversations in a 14-day window:
# 5-8 leaves at the local target of 30), not whether the alert was about the theme. That holds at every
# level: a parent whose conversations are mostly the theme's is judged by it too (a fading theme's nine
# leaves of a few conversations each are too small to judge alone, their parent is not). The oracle (one
# topic per label) judges the same under both.
JUDGES = ("topics", "themes")


def planted_share(theme: str, day: int) -> float:
    if theme == "emerging_10":
        return 0.10 if day >= PLANT_DAY else 0.0
    if theme == "emerging_3":
        return 0.03 if day >= PLANT_DAY else 0.0
    return {PLANT_DAY: 0.05, PLANT_DAY + 1: 0.02}.get(day, 0.10 if day < PLANT_DAY else 0.0)


@dataclass
class Run:
    """One generated sequence of days: each conversation's chat id, text and label, by day."""

    dataset: str
    seed: int
    null: bool
    planted: dict[str, str]  # theme -> label
    days: list[list[tuple[str, str, str]]]  # day -> [(chat_id, text, label)]
    groups: dict[str, str] = field(default_factory=dict)  # label -> parent group (oracle hierarchy)


def load(name: str) -> dict[str, list[str]]:
    file, drop = DATASETS[name]
    texts: dict[str, list[str]] = defaultdict(list)
    for line in (EVAL_DIR / file).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row["label"] != drop:
                texts[row["label"]].append(row["text"])
    return dict(sorted(texts.items()))


def generate(name: str, texts: Mapping[str, list[str]], seed: int, null: bool) -> Run:
    rng = np.random.default_rng([seed, 1 if null else 0, len(texts)])
    labels = list(texts)
    chosen = [labels[i] for i in rng.choice(len(labels), STEADY_LABELS + len(PLANTED), replace=False)]
    planted = {} if null else dict(zip(PLANTED, chosen[:3]))
    steady = chosen[3:]
    weights = rng.dirichlet(np.full(len(steady), 4.0))
    days = []
    for day in range(DAYS):
        extra = {label: planted_share(theme, day) for theme, label in planted.items()}
        shares = np.concatenate([weights * (1 - sum(extra.values())), list(extra.values())])
        pool = steady + list(extra)
        draw = rng.multinomial(int(rng.integers(SIZE[0], SIZE[1], endpoint=True)), shares / shares.sum())
        rows = []
        for label, n in zip(pool, draw):
            for pick in rng.integers(0, len(texts[label]), size=n):
                rows.append((f"{name}-s{seed}-d{day:02d}-{len(rows):03d}", texts[label][pick], label))
        days.append(rows)
    order = rng.permutation(chosen)  # the oracle's parents: fixed random groups of five labels
    groups = {str(label): f"g{i // 5}" for i, label in enumerate(order)}
    return Run(name, seed, null, planted, days, groups)


# ---- What a mode produces: per day, the counts by leaf, the taxonomy, the history, and each chat's topic ----


@dataclass(frozen=True)
class T:
    topic_id: str
    parent_id: str | None
    level: int
    name: str
    hidden: bool = False


@dataclass(frozen=True)
class Tax:
    topics: tuple


@dataclass
class Assigned:
    """A mode's output for one run: per day, the counts, the taxonomy, the history and each chat's topic."""

    counts: dict[Date, dict[str, int]]
    taxonomies: list  # per day
    histories: list  # per day
    topic_of: dict[str, str]  # chat_id -> leaf topic id
    parents: list  # per day: {topic_id: parent_id}
    window_view: Callable | None = (
        None  # (day, days) -> Assigned with the window re-assigned to day's version
    )
    # a window view's {date: (chat_ids, embeddings)} and {date: each row's leaf}: for RecentConcentration
    window: tuple[dict, dict] | None = None


def day_of(index: int) -> Date:
    return START + timedelta(days=index)


def oracle(run: Run, window: int = 28, min_count: int = 5) -> Assigned:
    """Assignments from the labels; a leaf per label seen in the window, hidden under `min_count` there."""
    ids = {
        label: f"t{i + 1:05d}" for i, label in enumerate(sorted({lab for d in run.days for _, _, lab in d}))
    }
    group_ids = {g: f"t9{i:04d}" for i, g in enumerate(sorted(set(run.groups.values())))}
    counts, taxonomies, histories, parents, topic_of = {}, [], [], [], {}
    born: dict[str, Date] = {}
    for index, rows in enumerate(run.days):
        counts[day_of(index)] = dict(Counter(ids[label] for _, _, label in rows))
        topic_of.update((chat, ids[label]) for chat, _, label in rows)
        in_window = Counter(lab for d in run.days[max(0, index - window + 1) : index + 1] for _, _, lab in d)
        topics, group_count = [], Counter()
        for label, n in sorted(in_window.items()):
            group_count[run.groups[label]] += n
            topics.append(T(ids[label], group_ids[run.groups[label]], 1, label, hidden=n < min_count))
        topics += [T(group_ids[g], None, 0, g, hidden=n < min_count) for g, n in sorted(group_count.items())]
        for topic in topics:
            born.setdefault(topic.topic_id, day_of(index))
        taxonomies.append(Tax(tuple(topics)))
        histories.append(TrendHistory(first_version=day_of(0), born=dict(born)))
        parents.append({t.topic_id: t.parent_id for t in topics})
    return Assigned(counts, taxonomies, histories, topic_of, parents)


def e2e(run: Run, cache: dict) -> Assigned:
    """The real path: local summaries and embeddings, a taxonomy rebuilt daily with stable ids, daily assignment."""
    from e2e_trends import real_path  # tax-core's modules; kept apart so that oracle mode runs without them

    return real_path(run, cache, day_of, Assigned, WARMUP)


# ---- Judging ----


def judged_topics(run: Run, assigned: Assigned, theme: str, day: int, judge: str = "topics") -> set[str]:
    """The topic(s) a planted theme's conversations land in: the majority one, and any other holding at least
    SHARE_OF_THEME of them (a theme the clustering splits between two topics is judged by both). Judge
    `themes` adds every topic whose conversations (over the same days) are mostly the theme's (see JUDGES)."""
    label = run.planted[theme]
    span = range(PLANT_DAY, day + 1) if GROWS[theme] else range(0, PLANT_DAY)
    topics, held = Counter(), Counter()
    for d in span:
        for chat, _, lab in run.days[d]:
            if chat in assigned.topic_of:  # a window view holds only its own days
                held[assigned.topic_of[chat]] += 1
                topics[assigned.topic_of[chat]] += lab == label
    topics = +topics  # only the topics holding some of the theme
    if not topics:
        return set()
    total = sum(topics.values())
    found = {topics.most_common(1)[0][0]} | {t for t, n in topics.items() if n >= SHARE_OF_THEME * total}
    if judge == "themes":  # any level: a parent whose leaves are mostly the theme's is about it too
        parents = assigned.parents[day]
        under, theme_under = Counter(), Counter()
        for leaf, n in held.items():
            for topic in ancestors(leaf, parents):
                under[topic] += n
                theme_under[topic] += topics[leaf]
        found |= {t for t, n in theme_under.items() if t != "unassigned" and n > 0.5 * under[t]}
    return found


def ancestors(topic: str, parents: Mapping[str, str | None]) -> set[str]:
    found, seen = {topic}, 0
    while parents.get(topic) and seen < 20:
        topic = parents[topic]
        found.add(topic)
        seen += 1
    return found


def statuses_new(assigned: Assigned, day: int, options: TrendOptions) -> dict[str, str]:
    """{topic_id@level: status} of the new method on `day`."""
    counts = {d: c for d, c in assigned.counts.items() if d <= day_of(day)}
    concentration = (
        RecentConcentration(*assigned.window, day_of(day), options.recent_days)
        if assigned.window is not None
        else None  # the oracle and the daily-versions path: counts alone
    )
    table = compute_topic_trends(
        day_of(day), counts, assigned.taxonomies[day], assigned.histories[day], options, concentration
    )
    return {f"{r['topic_id']}@{r['level']}": r["status"] for r in table.to_pylist()}


def statuses_before(run: Run, assigned: Assigned, day: int) -> dict[str, str]:
    """The old statistic: the reference day's topics (levels 0 and 1), 7 days, the last 2 recent; z-test."""
    options = ReferenceTrendOptions()
    days = [d for d in range(day - options.window_days + 1, day + 1) if d >= 0]
    if len(days) < 2:
        return {}
    recent = days[-options.recent :]
    parents = assigned.parents[day]
    present = {assigned.topic_of[chat] for chat, _, _ in run.days[day]}
    out = {}
    for level in (0, 1):

        def key(leaf: str) -> str:
            return parents.get(leaf) or leaf if level == 0 else leaf

        topics = {key(leaf) for leaf in present}
        per_day = {d: Counter(key(assigned.topic_of[c]) for c, _, _ in run.days[d]) for d in days}
        totals = {d: len(run.days[d]) for d in days}
        for topic in topics:
            flag = flag_topic(
                sum(per_day[d][topic] for d in recent),
                sum(totals[d] for d in recent),
                sum(per_day[d][topic] for d in days if d not in recent),
                sum(totals[d] for d in days if d not in recent),
                options,
            )
            out[f"{topic}@{level}"] = flag.status
    return out


def judge_run(
    run: Run,
    assigned: Assigned,
    statuses_of: Callable[[int], dict[str, str]],
    view=None,
    judge: str = "topics",
) -> dict:
    """Hits per planted theme on the judged days, and every flag with whether it is right. `view(day)`: the
    assignments as that day's judgement saw them (e2e-window: re-assigned to that day's version)."""
    hits = {theme: 0 for theme in run.planted}
    right = wrong = 0
    false_rows = []
    for day in range(FIRST_JUDGED, DAYS):
        statuses = statuses_of(day)
        seen = view(day) if view else assigned
        targets = (
            {theme: judged_topics(run, seen, theme, day, judge) for theme in run.planted}
            if day >= PLANT_DAY
            else {}
        )
        for theme, topics in targets.items():
            if day in JUDGED and topics:
                wanted = ("new", "emerging") if GROWS[theme] else ("fading", "gone")
                # a topic's row at any level (a leaf shows at its own level and, in the cut, below it)
                if any(status in wanted for key, status in statuses.items() if key.split("@")[0] in topics):
                    hits[theme] += 1
        for key, status in statuses.items():
            if status not in FLAGS:
                continue
            topic = key.split("@")[0]
            grows = status in ("new", "emerging")
            ok = any(
                GROWS[theme] == grows
                and topic in set().union(*(ancestors(t, seen.parents[day]) for t in targets_))
                for theme, targets_ in targets.items()
                if targets_
            )
            right += ok
            wrong += not ok
            if not ok:
                false_rows.append((day, key, status))
    return {"hits": hits, "right": right, "wrong": wrong, "false": false_rows}


@dataclass
class Tally:
    hits: Counter = field(default_factory=Counter)
    cases: Counter = field(default_factory=Counter)
    right: int = 0
    wrong: int = 0
    null_flags: int = 0
    # the same null flags as `kura-dagster trends` lists them: a topic once a day (`once_per_topic`), where
    # the table repeats a leaf that ends above the deepest level, and `unassigned`, at every level below it
    null_alerts: int = 0
    null_days: int = 0
    examples: list = field(default_factory=list)
    # per run and planted theme: seed, theme, label, the embeddings' agreement (e2e modes) and its hits
    themes: list = field(default_factory=list)

    def add(self, result: dict, null: bool, run: Run | None = None, agreement: Mapping | None = None) -> None:
        if run is not None and not null:
            self.themes += [
                {
                    "seed": run.seed,
                    "theme": theme,
                    "label": run.planted[theme],
                    "agreement": (agreement or {}).get(theme),
                    "hits": n,
                }
                for theme, n in result["hits"].items()
            ]
        if null:
            self.null_flags += result["wrong"]
            self.null_alerts += len({(day, key.split("@")[0]) for day, key, _ in result["false"]})
            self.null_days += DAYS - FIRST_JUDGED
            self.examples.extend(result["false"][:3])
            return
        for theme, n in result["hits"].items():
            self.hits[theme] += n
            self.cases[theme] += len(JUDGED)
        self.right += result["right"]
        self.wrong += result["wrong"]

    def figures(self) -> dict:
        rate = lambda t: round(self.hits[t] / self.cases[t], 3) if self.cases[t] else None  # noqa: E731
        flags = self.right + self.wrong
        return {
            "recall_emerging_10": rate("emerging_10"),
            "recall_emerging_3": rate("emerging_3"),
            "recall_fading": rate("fading"),
            "precision": round(self.right / flags, 3) if flags else None,
            "flags": flags,
            "false_flags_per_7_days_null": round(7 * self.null_flags / self.null_days, 3)
            if self.null_days
            else None,
            "false_alerts_per_7_days_null": round(7 * self.null_alerts / self.null_days, 3)
            if self.null_days
            else None,
            "null_flags": self.null_flags,
            "null_alerts": self.null_alerts,
            "null_days": self.null_days,
            "null_examples": self.examples[:5],
            "themes": self.themes,
        }


def pooled(a: dict, b: dict) -> dict:
    """Two result sets of the same dataset and mode (other seeds) as one: counts added, rates recomputed."""
    out = {"seeds": sorted(set(a["seeds"]) | set(b["seeds"]))}
    for theme in PLANTED:
        key = f"recall_{theme}"
        cases_a, cases_b = len(JUDGED) * len(a["seeds"]), len(JUDGED) * len(b["seeds"])
        hits = round(a[key] * cases_a) + round(b[key] * cases_b)
        out[key] = round(hits / (cases_a + cases_b), 3)
    right = round(a["precision"] * a["flags"]) + round(b["precision"] * b["flags"])
    out["flags"] = a["flags"] + b["flags"]
    out["precision"] = round(right / out["flags"], 3) if out["flags"] else None
    out["null_flags"] = a["null_flags"] + b["null_flags"]
    out["null_days"] = a["null_days"] + b["null_days"]
    out["false_flags_per_7_days_null"] = round(7 * out["null_flags"] / out["null_days"], 3)
    if "null_alerts" in a and "null_alerts" in b:  # results written before the alerts were counted lack it
        out["null_alerts"] = a["null_alerts"] + b["null_alerts"]
        out["false_alerts_per_7_days_null"] = round(7 * out["null_alerts"] / out["null_days"], 3)
    out["null_examples"] = (a["null_examples"] + b["null_examples"])[:5]
    out["themes"] = a.get("themes", []) + b.get("themes", [])
    return out


def evaluate(
    dataset: str,
    seeds: Sequence[int],
    modes: Sequence[str],
    options: TrendOptions,
    judges: Sequence[str] = ("topics",),
) -> dict[str, dict]:
    """Figures per mode, and per judge after the first under "<mode>, <judge> judge"."""
    texts = load(dataset)
    names = {
        (mode, judge): mode if judge == judges[0] else f"{mode}, {judge} judge"
        for mode in modes
        for judge in judges
    }
    tallies = {name: Tally() for name in names.values()}
    cache: dict = {}
    for seed in seeds:
        for null in (False, True):
            run = generate(dataset, texts, seed, null)
            truth = oracle(run, window=options.window_days)
            real = agreement = None
            for mode in modes:
                view = None
                if mode == "oracle":
                    statuses_of = lambda d, a=truth: statuses_new(a, d, options)  # noqa: E731
                    assigned = truth
                elif mode == "before":
                    statuses_of = lambda d, a=truth: statuses_before(run, a, d)  # noqa: E731
                    assigned = truth
                elif mode == "e2e":
                    assigned = real = real or e2e(run, cache)
                    statuses_of = lambda d, a=real: statuses_new(a, d, options)  # noqa: E731
                else:  # e2e-window: each judged day re-assigns the trends window to that day's version
                    assigned = real = real or e2e(run, cache)
                    views: dict = {}

                    def view(d, a=real, views=views):
                        if d not in views:
                            views[d] = a.window_view(d, options.window_days)
                        return views[d]

                    one = dataclasses.replace(options, daily_versions=False)  # counts under one version
                    statuses_of = lambda d, v=view: statuses_new(v(d), d, one)  # noqa: E731
                memo: dict = {}
                once = lambda d, f=statuses_of, memo=memo: memo[d] if d in memo else memo.setdefault(d, f(d))  # noqa: E731
                if real is not None and agreement is None and not null:
                    from e2e_trends import label_agreement

                    agreement = label_agreement(run, cache)
                for judge in judges:
                    result = judge_run(run, assigned, once, view, judge)
                    tallies[names[mode, judge]].add(result, null, run, agreement)
            print(f"  {dataset} seed {seed}{' null' if null else ''}: done", file=sys.stderr, flush=True)
    return {name: tally.figures() for name, tally in tallies.items()}


def markdown(results: dict, commands: Sequence[str], options: TrendOptions) -> str:
    lines = [
        "# Planted-topic benchmark of topic_trends",
        "",
        "Commands: " + "; ".join(f"`{c}`" for c in commands) + ".",
        f"{DAYS} days of {SIZE[0]}-{SIZE[1]} conversations ({WARMUP} warm-up days), themes planted on day "
        f"{PLANT_DAY}, judged on days {list(JUDGED)}; flags counted from day {FIRST_JUDGED}. Options: {options}.",
        "Method and judging: the docstring of bench/trends.py. Targets: emerging/new recall ≥ 0.9 at 10% and "
        "≥ 0.7 at 3%, fading/gone recall ≥ 0.9, precision ≥ 0.8, ≤ 1 false flag per 7 days with nothing planted.",
        "",
        "| dataset | mode | recall 10% | recall 3% | recall fading | precision (flags) | false flags / 7 days, null "
        "| false alerts / 7 days, null |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for dataset, by_mode in results.items():
        for mode, f in by_mode.items():
            lines.append(
                f"| {dataset} | {mode} | {f['recall_emerging_10']} | {f['recall_emerging_3']} | {f['recall_fading']} "
                f"| {f['precision']} ({f['flags']}) | {f['false_flags_per_7_days_null']} "
                f"| {f.get('false_alerts_per_7_days_null', '—')} |"
            )
    lines += [
        "",
        "Seeds per row: "
        + "; ".join(f"{d} {m}: {f.get('seeds')}" for d, by in results.items() for m, f in by.items())
        + ".",
        "",
        "Modes: `oracle` = the new trends on label assignments (statistics alone); `e2e` = the new trends on the "
        "real path (local summaries + embeddings, daily taxonomy rebuild with stable ids, daily assignment); "
        "`e2e-window` = the same real path, but each judged day's series is the trends window re-assigned to that day's version (`counts_under`, `daily_versions=False`); `before` = the previous method's flag (7-day window, last 2 days recent, reference day's topics, "
        "two-proportion z ≥ 1.96 and ratio ≥ 1.5) on the same oracle assignments.",
    ]
    return "\n".join(lines + theme_lines(results)) + "\n"


def theme_lines(results: dict) -> list[str]:
    """Per dataset, one row per seed and planted theme of the real path: the embeddings' kNN label agreement of
    its texts (`e2e_trends.label_agreement`) beside the judged days it was flagged on, per result row."""
    lines = []
    for dataset, by_mode in results.items():
        measured = {
            m: f["themes"]
            for m, f in by_mode.items()
            if any(r.get("agreement") is not None for r in f.get("themes", []))
        }
        if not measured:
            continue
        cases: dict = {}
        for mode, rows in measured.items():
            for r in rows:
                case = cases.setdefault(
                    (r["theme"], r["seed"]), {"label": r["label"], "agreement": r["agreement"]}
                )
                case[mode] = r["hits"]
        lines += [
            "",
            f"Planted themes, {dataset}: kNN label agreement of each theme's texts (the share of their 10 nearest "
            f"texts, by the embeddings, with the same label) and the judged days it was flagged on (of {len(JUDGED)}).",
            "",
            "| theme | seed | label | agreement | " + " | ".join(f"flagged, {m}" for m in measured) + " |",
            "|---|---:|---|---:|" + "---:|" * len(measured),
        ]
        lines += [
            f"| {theme} | {seed} | {case['label']} | {case['agreement']} | "
            + " | ".join(str(case.get(m, "")) for m in measured)
            + " |"
            for (theme, seed), case in sorted(cases.items())
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=list(range(10)), help="none: only --merge")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument(
        "--modes", nargs="+", default=["oracle", "before"], choices=["oracle", "e2e", "e2e-window", "before"]
    )
    parser.add_argument(
        "--judges", nargs="+", default=["topics"], choices=list(JUDGES), help="the first names the plain rows"
    )
    parser.add_argument(
        "--alpha-within",
        default=str(TrendOptions().alpha_within),
        help="TrendOptions.alpha_within, or none (children judged alone, as before it existed)",
    )
    parser.add_argument(
        "--window-days",
        type=int,
        default=TrendOptions().window_days,
        help="TrendOptions.window_days (KURA_TRENDS_WINDOW_DAYS); e2e modes compare best at the taxonomy's window",
    )
    parser.add_argument("--out", type=Path, default=None, help="write OUT.md and OUT.json")
    parser.add_argument("--merge", type=Path, nargs="+", default=None, help="earlier OUT.json files to add")
    args = parser.parse_args(argv)
    command = "python bench/trends.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if not EVAL_DIR.is_dir():
        print(f"bench/trends.py: no labelled data at {EVAL_DIR}: it needs ../shared/eval", file=sys.stderr)
        return 2
    within = None if args.alpha_within.lower() == "none" else float(args.alpha_within)
    options = TrendOptions(window_days=args.window_days, alpha_within=within)
    results: dict = {}
    commands = []
    for earlier in args.merge or []:
        payload = json.loads(earlier.read_text(encoding="utf-8"))
        commands += payload.get("commands", [])
        for dataset, by_mode in payload["results"].items():
            for mode, figures in by_mode.items():
                figures = {"seeds": payload.get("seeds"), **figures}
                known = results.setdefault(dataset, {}).get(mode)
                results[dataset][mode] = pooled(known, figures) if known else figures
    if args.seeds:
        commands.append(command)
        for name in args.datasets:
            for mode, figures in evaluate(name, args.seeds, args.modes, options, args.judges).items():
                results.setdefault(name, {})[mode] = {**figures, "seeds": list(args.seeds)}
    text = markdown(results, commands, options)
    print(text)
    print(json.dumps(results, indent=1, default=str))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".md").write_text(text, encoding="utf-8")
        payload = {"commands": commands, "options": options.__dict__, "results": results}
        args.out.with_suffix(".json").write_text(
            json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
