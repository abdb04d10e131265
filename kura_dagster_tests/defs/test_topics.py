"""The taxonomy assets in real Dagster runs: a date range in one run, then a day on its own, on a small
dataset (4 days of 40 conversations, a window of 3 days)."""

import os
import subprocess
import sys
from datetime import date as Date
from datetime import timedelta
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, materialize

from kura_dagster.core.settings import Settings
from kura_dagster.core.storage.store import connect, qualified, read_table
from kura_dagster.definitions import build_definitions
from kura_dagster.defs.asset_graph import build_asset_graph
from kura_dagster.defs.partitions import DATASET_PARTITIONS, partition_key
from kura_dagster.defs.resources import resources_from_settings
from kura_dagster.launch.dagster_private import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from kura_dagster_tests.conftest import kura_home_at, make_conversations, write_jsonl

DAYS = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
LATER = "2026-11-05"
WINDOW = 3


def _settings(root: Path) -> Settings:
    # Thresholds of 1: the few conversations of a test day still make named (not hidden) topics.
    settings = Settings(
        home=root / "home",
        data_dir=root / "data",
        taxonomy_window_days=WINDOW,
        trends_window_days=4,
        trends_recent_days=1,
        min_cluster_size=1,
        min_cluster_users=1,
    )
    settings.prepare_home()
    for seed, day in enumerate([*DAYS, LATER]):
        # Chat ids are unique within a dataset (each conversation lands on one day).
        conversations = [
            c.model_copy(update={"chat_id": f"{day}-{c.chat_id}"})
            for c in make_conversations(per_theme=8, seed=seed, day=day)
        ]
        write_jsonl(settings.data_dir / "shop" / f"{day}.jsonl", conversations)
    return settings


def _assets(settings: Settings):
    return build_asset_graph(settings)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """The four days in one run (what the backfill policy launches), then the fifth day alone."""
    root = tmp_path_factory.mktemp("topics")
    with kura_home_at(root):
        settings = _settings(root)
        instance = DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(DATASET_PARTITIONS.name, ["shop"])
        ranged = materialize(
            _assets(settings),
            instance=instance,
            resources=resources_from_settings(settings),
            tags={
                ASSET_PARTITION_RANGE_START_TAG: partition_key("shop", DAYS[0]),
                ASSET_PARTITION_RANGE_END_TAG: partition_key("shop", DAYS[-1]),
            },
        )
        assert ranged.success
        alone = materialize(
            _assets(settings),
            partition_key=partition_key("shop", LATER),
            instance=instance,
            resources=resources_from_settings(settings),
        )
        assert alone.success
        yield settings, ranged, alone


def _table(settings: Settings, table: str, day: str) -> list[dict]:
    return read_table(settings.duckdb_path, table, "shop", day).to_pylist()


def _chat_ids(settings: Settings, day: str) -> set[str]:
    return {row["chat_id"] for row in _table(settings, "embeddings", day)}


def test_each_day_builds_a_version_over_its_window_from_the_stored_days(ran):
    settings, _, _ = ran
    for day in [*DAYS, LATER]:
        rows = _table(settings, "taxonomy", day)
        assert rows and {row["version"] for row in rows} == {Date.fromisoformat(day)}
        start = Date.fromisoformat(day) - timedelta(days=WINDOW - 1)
        assert {row["window_start"] for row in rows} == {start}
        window_days = [(start + timedelta(days=i)).isoformat() for i in range(WINDOW)]
        window = set().union(*(_chat_ids(settings, d) for d in window_days if d >= DAYS[0]))
        leaves = [r for r in rows if r["topic_id"] not in {x["parent_id"] for x in rows}]
        members = [chat for leaf in leaves for chat in leaf["chat_ids"]]
        # Every conversation of the window (and only those) in exactly one leaf: the earlier days came from
        # the store or from the run, summarised and embedded once.
        assert sorted(members) == sorted(window)


def test_topics_keep_their_ids_and_every_change_is_in_the_lineage(ran):
    settings, _, _ = ran
    first = _table(settings, "topic_lineage", DAYS[0])
    assert first and {row["event"] for row in first} == {"born"}
    for before, day in zip([*DAYS, LATER], [*DAYS[1:], LATER]):
        ids_before = {row["topic_id"] for row in _table(settings, "taxonomy", before)}
        ids = {row["topic_id"] for row in _table(settings, "taxonomy", day)}
        events = {row["topic_id"]: row["event"] for row in _table(settings, "topic_lineage", day)}
        # Same themes every day: most topics continue under the id they had the day before, the fifth day
        # too, whose previous version came from the store (it ran alone).
        assert len(ids & ids_before) >= 0.8 * len(ids_before), (day, ids, ids_before)
        assert ids <= set(events) and all(events[i] != "born" for i in ids & ids_before)
        for gone in ids_before - ids:
            assert events[gone] in ("merged", "died")


def test_each_day_is_assigned_to_its_version_and_trends_shares_sum_to_one(ran):
    settings, _, _ = ran
    for day in [*DAYS, LATER]:
        assigned = _table(settings, "topic_assignments", day)
        leaves = {
            row["topic_id"]
            for row in _table(settings, "taxonomy", day)
            if row["topic_id"] not in {x["parent_id"] for x in _table(settings, "taxonomy", day)}
        }
        assert {row["chat_id"] for row in assigned} == _chat_ids(settings, day)
        assert {row["taxonomy_version"] for row in assigned} == {Date.fromisoformat(day)}
        assert {row["topic_id"] for row in assigned} <= leaves | {"unassigned"}
        trends = _table(settings, "topic_trends", day)
        for level in {row["level"] for row in trends}:
            assert sum(row["share"] or 0 for row in trends if row["level"] == level) == pytest.approx(1.0)
    with connect(settings.duckdb_path, read_only=True) as connection:
        first_day_status = connection.execute(
            f"SELECT DISTINCT status FROM {qualified(connection, 'topic_trends')} WHERE date = ?", [DAYS[0]]
        ).fetchall()
    assert first_day_status  # judged (insufficient history on the first day is a status, not a gap)


def test_each_taxonomy_materialisation_shows_its_tree_and_lineage(ran):
    settings, ranged, _ = ran
    events = {
        (e.asset_key.to_user_string(), e.partition): e.materialization.metadata
        for e in ranged.get_asset_materialization_events()
    }
    for day in DAYS:
        metadata = events[("taxonomy", partition_key("shop", day))]
        topics = _table(settings, "taxonomy", day)
        tree, lineage = metadata["tree"].value, metadata["lineage"].value
        assert all(f"`{row['topic_id']}`" in tree for row in topics)
        assert "| topic | name | event | related |" in lineage
        assert metadata["dagster/row_count"].value == len(topics)
        assert ("topic_lineage", partition_key("shop", day)) in events
    assert "born" in events[("taxonomy", partition_key("shop", DAYS[0]))]["tree"].value
    # What a renamed topic was called, and the name of a topic that left the version, as the previous version
    # showed them (a topic hidden then stays an id).
    checked = 0
    for earlier, day in zip(DAYS, DAYS[1:]):
        before = {row["topic_id"]: row for row in _table(settings, "taxonomy", earlier)}
        metadata = events[("taxonomy", partition_key("shop", day))]
        for event in _table(settings, "topic_lineage", day):
            old = before.get(event["topic_id"])
            if old is None or event["event"] not in ("renamed", "merged", "died"):
                continue
            name = "" if old["hidden"] else old["name"]
            if event["event"] == "renamed":
                assert (f"renamed, was {name}" if name else "— renamed") in metadata["tree"].value
            else:
                assert f"| `{event['topic_id']}` | {name} | {event['event']} |" in metadata["lineage"].value
            checked += 1
    assert checked


def test_the_asset_graph_goes_stages_then_taxonomy_assignments_trends_report(kura_env):
    graph = build_definitions(Settings.from_env()).resolve_asset_graph()

    def parents(name: str) -> set[str]:
        return {key.to_user_string() for key in graph.get(AssetKey(name)).parent_keys}

    assert parents("taxonomy") == parents("topic_lineage") == {"summaries", "embeddings"}
    assert parents("topic_assignments") == {"taxonomy", "embeddings"}
    assert parents("topic_trends") == {"taxonomy", "topic_lineage", "topic_assignments", "embeddings"}
    assert "topic_trends" in parents("report")


def _readme_sql() -> str:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("-- topic share per ISO week and per calendar month")
    return readme[start : readme.index("```", start)]


def test_the_readme_week_and_month_query_runs_on_the_database(ran):
    settings, _, _ = ran
    sql = _readme_sql().replace("'support_bot'", "'shop'")
    with connect(settings.duckdb_path, read_only=True) as connection:
        rows = connection.execute(sql).fetchall()
        assigned = connection.execute(
            f"SELECT count(*) FROM {qualified(connection, 'topic_assignments')} WHERE dataset = 'shop'"
        ).fetchone()[0]
    periods = {row[1] for row in rows}
    # 2026-11-01 is a Sunday: ISO week 44; the 2nd to the 5th are week 45; all five days are November.
    assert periods == {"2026-W44", "2026-W45", "2026-11"}
    for period in periods:
        for level in {row[2] for row in rows if row[1] == period}:
            shares = [row[6] for row in rows if row[1] == period and row[2] == level]
            assert sum(shares) == pytest.approx(1.0)
    month_roots = sum(row[5] for row in rows if row[1] == "2026-11" and row[2] == 0)
    assert month_roots == assigned  # every conversation of the month counted once per level


def _kura(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "kura-dagster"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "kura_dagster.cli"]
    return subprocess.run(
        command + list(args), env=dict(os.environ), capture_output=True, text=True, timeout=300
    )


def test_topics_prints_the_tree_with_status_and_change(ran):
    settings, _, _ = ran
    shown = _kura("topics", "--dataset", "shop")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"Taxonomy of 'shop', version {LATER} (window 2026-11-03..{LATER}, ")
    topics = _table(settings, "taxonomy", LATER)
    events = {row["topic_id"]: row["event"] for row in _table(settings, "topic_lineage", LATER)}
    statuses = {row["topic_id"]: row["status"] for row in _table(settings, "topic_trends", LATER)}
    for topic in topics:
        line = next(line for line in lines if line.strip().startswith(topic["topic_id"] + " "))
        assert f"{topic['count']} conv" in line and statuses[topic["topic_id"]] in line
        assert events[topic["topic_id"]] in line

    earlier = _kura("topics", "--dataset", "shop", "--date", DAYS[1])
    assert earlier.returncode == 0 and f"version {DAYS[1]} (window 2026-10-31..{DAYS[1]}" in earlier.stdout
    born = _kura("topics", "--dataset", "shop", "--date", DAYS[0])
    assert all("born" in line for line in born.stdout.splitlines()[1:] if line.strip().startswith("t"))


def test_trends_lists_each_flag_with_shares_before_and_after(ran):
    settings, _, _ = ran
    listed = _kura("trends", "--dataset", "shop", "--date", DAYS[-1])
    assert listed.returncode == 0, listed.stderr
    out = listed.stdout
    assert out.startswith(f"Topic trends of 'shop' on {DAYS[-1]} (taxonomy version {DAYS[-1]})")
    for status in ("New", "Emerging", "Fading", "Gone"):
        assert f"\n{status} (" in out
    flagged = [
        row
        for row in _table(settings, "topic_trends", DAYS[-1])
        if row["status"] in ("new", "emerging", "fading", "gone")
    ]
    for row in flagged:
        assert f"{row['topic_id']} " in out and " before → " in out
    shallowest = {}  # a topic is listed once, at its shallowest level
    for row in sorted(_table(settings, "topic_trends", DAYS[-1]), key=lambda r: r["level"]):
        shallowest.setdefault(row["topic_id"], row)
    steady = sum(1 for row in shallowest.values() if row["status"] == "steady")
    assert f"Steady: {steady};" in out


def test_trends_says_what_it_takes_when_the_history_is_too_short_to_judge(ran):
    settings, _, _ = ran
    # A 4-day window with 1 recent day leaves 3 baseline days, fewer than the 5 a status needs.
    assert {row["status"] for row in _table(settings, "topic_trends", DAYS[-1])} == {"insufficient"}
    out = _kura("trends", "--dataset", "shop", "--date", DAYS[-1]).stdout
    # The command names the settings in force where it runs (here the defaults).
    assert (
        "Nothing could be judged: a status needs conversations on at least 5 days before the last 3 "
        "(KURA_TRENDS_RECENT_DAYS) of the 28-day window (KURA_TRENDS_WINDOW_DAYS)" in out
    )


def test_topics_and_trends_say_what_is_missing_in_one_line(ran, tmp_path):
    unknown = _kura("topics", "--dataset", "shopp")
    assert unknown.returncode == 2 and "unknown dataset 'shopp'" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    too_early = _kura("trends", "--dataset", "shop", "--date", "2026-10-01")
    assert too_early.returncode == 2
    assert (
        f"no taxonomy of dataset 'shop' on or before 2026-10-01: its first version is {DAYS[0]}"
        in too_early.stderr
    )
    assert "Traceback" not in too_early.stderr
