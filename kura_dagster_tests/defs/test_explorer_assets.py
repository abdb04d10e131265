"""The explorer and the topics through real Dagster runs: the window of days read from the store, the page
written under KURA_HOME, linked from the materialisation, with the taxonomy's window view."""

import json
import re
from datetime import date

from dagster import AssetKey, DagsterInstance, materialize

from kura_dagster.core.settings import Settings
from kura_dagster.core.storage.store import read_table
from kura_dagster.defs.asset_graph import build_asset_graph
from kura_dagster.defs.assets import build_pipeline_assets
from kura_dagster.defs.partitions import DATASET_PARTITIONS, partition_key
from kura_dagster.defs.resources import resources_from_settings
from kura_dagster.launch.dagster_private import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from kura_dagster_tests.conftest import make_conversations, write_jsonl

DAYS = ["2026-11-01", "2026-11-02", "2026-11-03"]


def assets(settings: Settings) -> list:
    return build_asset_graph(settings)


def _setup(tmp_path):
    settings = Settings(home=tmp_path / "home", data_dir=tmp_path / "data")
    settings.prepare_home()
    for seed, day in enumerate(DAYS):
        conversations = make_conversations(per_theme=6 + 3 * seed, seed=seed, day=day)
        for c in conversations:
            c.chat_id = f"{day}-{c.chat_id}"
        write_jsonl(settings.data_dir / "trend" / f"{day}.jsonl", conversations)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(DATASET_PARTITIONS.name, ["trend"])
    return settings, instance


def test_the_explorer_shows_the_window_of_the_taxonomy_topics_day_by_day(tmp_path):
    settings, instance = _setup(tmp_path)
    result = materialize(
        assets(settings),
        instance=instance,
        resources=resources_from_settings(settings),
        tags={
            ASSET_PARTITION_RANGE_START_TAG: partition_key("trend", DAYS[0]),
            ASSET_PARTITION_RANGE_END_TAG: partition_key("trend", DAYS[-1]),
        },
    )
    assert result.success

    last = DAYS[-1]
    taxonomy = read_table(settings.duckdb_path, "taxonomy", "trend", last).to_pylist()
    trends = read_table(settings.duckdb_path, "topic_trends", "trend", last).to_pylist()
    top = {row["topic_id"]: row for row in taxonomy if row["level"] == 0}
    assert {row["topic_id"] for row in trends if row["level"] == 0} - {"unassigned", "hidden"} <= set(top)

    # The explorer of each day: a file under KURA_HOME, linked from that day's materialisation.
    events = {
        event.partition: event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key.to_user_string() == "report"
    }
    assert set(events) == {partition_key("trend", day) for day in DAYS}
    page_path = settings.home / "reports" / "trend" / f"{last}.html"
    metadata = events[partition_key("trend", last)]
    assert metadata["path"].value == str(page_path) and metadata["url"].value == page_path.as_uri()
    assert metadata["has_trends"].value is True and metadata["messages_included"].value is False
    page = page_path.read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="kura-data">(.*?)</script>', page, re.DOTALL).group(1))
    assert (
        data["totals"]["conversations"]
        == read_table(settings.duckdb_path, "summaries", "trend", last).num_rows
    )
    # The window view: the days of the window, each top-level topic of the taxonomy with one value a day,
    # followed by its stable id (the same id on every day), with its status on the last day.
    view = data["trends"]
    assert view["days"] == DAYS and view["level"] == 0
    shown = {t["id"]: t for t in view["topics"]}
    assert set(shown) == {row["topic_id"] for row in trends if row["level"] == 0}
    for day_index, day in enumerate(DAYS):
        day_rows = read_table(settings.duckdb_path, "topic_trends", "trend", day).to_pylist()
        for row in day_rows:
            if row["level"] == 0 and row["topic_id"] in shown:
                assert shown[row["topic_id"]]["counts"][day_index] == row["conversations"]
        # Every day's conversations are counted once at the top level.
        embedded = read_table(settings.duckdb_path, "embeddings", "trend", day).num_rows
        assert sum(t["counts"][day_index] for t in view["topics"]) == embedded
    statuses = {row["topic_id"]: row["status"] for row in trends if row["level"] == 0}
    assert all(shown[i]["status"] == status for i, status in statuses.items())
    lineage = read_table(settings.duckdb_path, "topic_lineage", "trend", last).to_pylist()
    events_of = {row["topic_id"]: row["event"] for row in lineage}
    assert all(t["event"] == events_of.get(t["id"]) for t in view["topics"])
    # The per-day tree stays: the page's own clusters are that day's meta_clusters (hidden ones left out).
    day_tree = read_table(settings.duckdb_path, "meta_clusters", "trend", last).num_rows
    assert 0 < data["totals"]["clusters"] <= day_tree


def test_a_single_day_run_reads_earlier_days_already_materialised(tmp_path):
    """The taxonomy of a day run alone is built over its window from the days already in the store."""
    settings, instance = _setup(tmp_path)
    for day in DAYS[:2]:
        assert materialize(
            build_pipeline_assets(settings),
            partition_key=partition_key("trend", day),
            instance=instance,
            resources=resources_from_settings(settings),
        ).success
    result = materialize(
        assets(settings),
        partition_key=partition_key("trend", DAYS[2]),
        instance=instance,
        resources=resources_from_settings(settings),
    )
    assert result.success
    taxonomy = read_table(settings.duckdb_path, "taxonomy", "trend", DAYS[2]).to_pylist()
    parents = {row["parent_id"] for row in taxonomy}
    assert sum(row["count"] for row in taxonomy if row["topic_id"] not in parents) == 24 + 36 + 48
    metadata = result.asset_materializations_for_node("taxonomy")[0].metadata
    assert metadata["window_conversations"].value == 24 + 36 + 48


def test_report_waits_for_another_run_of_its_day_to_finish_its_steps(tmp_path):
    """Two runs of one day take turns step by step in the DuckDB pool: the report of one can find new summaries
    under the other's old tree. It asks for a retry (freeing its pool slot) and writes the page once the other
    run has written its tree, instead of failing or mixing two versions."""
    import threading

    from dagster import DagsterEventType

    from kura_dagster.core.storage.store import connect, read_partition, write_partition

    settings, instance = _setup(tmp_path)
    key, day = partition_key("trend", DAYS[0]), date.fromisoformat(DAYS[0])
    everything = assets(settings)
    report = next(asset for asset in everything if AssetKey("report") in asset.keys)
    assert materialize(
        everything, partition_key=key, instance=instance, resources=resources_from_settings(settings)
    ).success

    def rewrite(*names: str) -> None:  # as another run's steps do: the same rows, written again
        with connect(settings.duckdb_path) as connection:
            for name in names:
                write_partition(
                    connection, name, "trend", day, read_partition(connection, name, "trend", day)
                )

    rewrite("summaries")  # the other run is between its summaries and its tree
    other_run = threading.Timer(
        3.0, rewrite, args=("base_clusters", "meta_clusters", "projections", "topic_trends")
    )
    other_run.start()
    try:
        result = materialize(
            [report], partition_key=key, instance=instance, resources=resources_from_settings(settings)
        )
    finally:
        other_run.join()
    assert result.success
    retries = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retries) >= 1  # it did find the day part-way through, and waited
    assert (settings.home / "reports" / "trend" / f"{DAYS[0]}.html").exists()


def test_report_leaves_the_page_as_it_was_when_the_other_run_stays_part_way(tmp_path, monkeypatch):
    """If the other run is still between its steps after the retries, the page already there is kept (its own
    report step writes the new one) and the metadata says why: never a mixed page, never a failed run."""
    from kura_dagster.core.storage.store import connect, read_partition, write_partition
    from kura_dagster.defs import explorer

    monkeypatch.setattr(explorer, "REPORT_RETRIES", 1)
    monkeypatch.setattr(explorer, "REPORT_RETRY_WAIT_S", 0.1)
    settings, instance = _setup(tmp_path)
    key, day = partition_key("trend", DAYS[0]), date.fromisoformat(DAYS[0])
    everything = assets(settings)
    assert materialize(
        everything, partition_key=key, instance=instance, resources=resources_from_settings(settings)
    ).success
    page = settings.home / "reports" / "trend" / f"{DAYS[0]}.html"
    before = page.read_bytes()
    with connect(settings.duckdb_path) as connection:  # new summaries under the old tree, and nobody finishes
        write_partition(
            connection, "summaries", "trend", day, read_partition(connection, "summaries", "trend", day)
        )

    report = next(asset for asset in everything if AssetKey("report") in asset.keys)
    result = materialize(
        [report], partition_key=key, instance=instance, resources=resources_from_settings(settings)
    )
    assert result.success
    metadata = result.asset_materializations_for_node("report")[0].metadata
    assert "part-way through a rewrite" in metadata["not_rewritten"].value
    assert page.read_bytes() == before
