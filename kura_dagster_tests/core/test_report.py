"""The explorer's embedded data and the safety of the page against hostile names and summaries."""

import json
import re

import pyarrow as pa
import pytest

from kura_dagster.core.settings import Settings, SettingsError
from kura_dagster.core.storage import tables
from kura_dagster.core.types import Cluster
from kura_dagster.core.views.explorer import (
    build_report_data,
    embed_json,
    load_report_data,
    render_report_html,
    write_report,
)
from kura_dagster.core.views.explorer.html import embed_json_chunks
from kura_dagster_tests.synthetic_partition import synthetic_partition, write_synthetic_partition

DAY = "2026-11-07"
HOSTILE = [
    "</script><script>window.pwned = 1</script>",
    '<img src=x onerror="window.pwned = 2">',
    "</SCRIPT ><!-- <script>",
    "@@JS@@ @@DATA@@ &amp; \u2028line\u2029break",
]


def data_of(part, **extra):
    return build_report_data(
        "demo",
        DAY,
        summaries=part.summaries,
        meta_clusters=part.meta_clusters,
        projections=part.projections,
        conversations=part.conversations,
        **extra,
    )


def embedded_data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="kura-data">(.*?)</script>', page, re.DOTALL)
    return json.loads(match.group(1))


def test_every_node_is_one_contiguous_range_of_its_members():
    part = synthetic_partition(300, 12)
    data = data_of(part)
    clusters, conversations = data["clusters"], data["conversations"]
    by_id = {node.id: node for node in part.tree}
    assert sorted(clusters["id"]) == sorted(by_id)
    for i, cluster_id in enumerate(clusters["id"]):
        members = conversations["id"][clusters["start"][i] : clusters["end"][i]]
        assert sorted(members) == sorted(by_id[cluster_id].chat_ids), cluster_id
        assert clusters["count"][i] == by_id[cluster_id].count
        parent = clusters["parent"][i]
        assert (parent == -1) == (by_id[cluster_id].parent_id is None)
        if parent >= 0:  # depth-first: a parent comes before its children
            assert parent < i and clusters["id"][parent] == by_id[cluster_id].parent_id
            assert clusters["depth"][i] == clusters["depth"][parent] + 1
    assert data["totals"] == {
        "conversations": 300,
        "clustered": 300,
        "failed_summaries": 0,
        "hidden": 0,
        "hidden_withheld": False,
        "clusters": len(part.tree),
        "roots": sum(1 for n in part.tree if n.parent_id is None),
    }


def test_columns_are_compact_and_aligned():
    part = synthetic_partition(300, 12)
    data = data_of(part)
    conversations = data["conversations"]
    summaries = {row["chat_id"]: row for row in part.summaries.to_pylist()}
    assert len(conversations["frustration"]) == len(conversations["concern"]) == 300
    for k, chat in enumerate(conversations["id"]):
        row = summaries[chat]
        assert conversations["summary"][k] == row["summary"]
        assert int(conversations["frustration"][k]) == row["user_frustration"]
        assert int(conversations["concern"][k]) == row["concerning_score"]
        languages = conversations["languages"]
        assert [languages["values"][c] for c in languages["codes"][k]] == row["languages"]
    metadata = conversations["metadata"]
    assert set(metadata) == {"channel", "model"}  # user_id has 300 distinct values: not a facet
    channel = metadata["channel"]
    assert sorted(channel["values"]) == ["api", "email", "mobile", "web"]
    first = json.loads(summaries[conversations["id"][0]]["metadata"])["channel"]
    assert channel["values"][channel["codes"][0]] == first
    assert "messages" not in conversations and data["include_messages"] is False
    assert data["trends"] is None


def test_hostile_names_and_summaries_stay_text():
    part = synthetic_partition(40, 4, leaf_names=HOSTILE, summaries_text=[HOSTILE[k % 4] for k in range(40)])
    data = data_of(part, include_messages=True)
    page = render_report_html(data)
    lowered = page.lower()
    # Only the page's own two script elements close; nothing from the data opens a tag or a comment.
    assert lowered.count("</script") == 2
    assert lowered.count("<script") == 2
    assert "<img" not in lowered and "<!--" not in page
    assert "\u2028" not in page and "\u2029" not in page
    # The placeholders in the data were not expanded, and the data reads back exactly.
    assert embedded_data(page) == json.loads(json.dumps(data))
    assert set(HOSTILE) <= set(embedded_data(page)["clusters"]["name"])
    title = re.search(r"<title>(.*?)</title>", page).group(1)
    assert "<" not in title


def test_embed_json_escapes_what_could_end_a_script():
    text = embed_json({"name": "</script>&<b>", "nan": float("nan")})
    assert text == '{"name":"\\u003c/script\\u003e\\u0026\\u003cb\\u003e","nan":null}'
    assert json.loads(text) == {"name": "</script>&<b>", "nan": None}


def test_json_in_pieces_is_the_same_json():
    data = {"a": {"b": [1, float("inf")], "c": {"d": "</script>"}}, "e": "\u2028", "f": {}}
    assert "".join(embed_json_chunks(data)) == embed_json(data)
    assert json.loads("".join(embed_json_chunks(data))) == {
        "a": {"b": [1, None], "c": {"d": "</script>"}},
        "e": "\u2028",
        "f": {},
    }


def test_a_chat_in_two_leaves_or_without_a_summary_is_placed_once_or_not_at_all():
    nodes = [
        Cluster(id="a", name="A", description="", slug="a", chat_ids=["1", "2", "ghost"]),
        Cluster(id="b", name="B", description="", slug="b", chat_ids=["2", "3"]),
    ]
    meta = tables.meta_clusters_to_arrow(nodes, [0, 0])
    summaries = pa.table(
        {
            "chat_id": ["1", "2", "3", "4"],
            "summary": ["one", None, "three", "four"],
            "user_frustration": [2, None, 7.6, 12],
            "metadata": ['{"k": "v"}', "not json", None, "[1]"],
        }
    )
    data = build_report_data("demo", DAY, summaries=summaries, meta_clusters=meta)
    conversations, clusters = data["conversations"], data["clusters"]
    assert sorted(conversations["id"]) == ["1", "2", "3"]  # "4" is in no leaf, "ghost" has no summary
    assert clusters["id"] == ["a", "b"] and clusters["start"] == [0, 2] and clusters["end"] == [2, 3]
    order = {chat: k for k, chat in enumerate(conversations["id"])}
    assert conversations["summary"][order["2"]] == ""
    assert [conversations["frustration"][order[c]] for c in "123"] == ["2", "0", "7"]
    assert conversations["concern"] == "000"
    metadata = conversations["metadata"]["k"]
    assert metadata["values"] == ["v"] and [metadata["codes"][order[c]] for c in "123"] == [0, -1, -1]
    assert data["totals"]["conversations"] == 4 and data["totals"]["clustered"] == 3


def test_messages_only_when_asked():
    part = synthetic_partition(30, 3)
    secret = part.conversations.column("messages")[0].as_py()[0]["content"]
    without = data_of(part)
    assert "messages" not in without["conversations"]
    with_messages = data_of(part, include_messages=True)
    k = with_messages["conversations"]["id"].index(part.chat_ids[0])
    assert with_messages["conversations"]["messages"][k][0] == ["user", secret]
    assert "Here is how." not in render_report_html(without)
    assert "Here is how." in render_report_html(with_messages)


def test_broken_trees_still_render():
    """A missing parent, a cycle and a node without coordinates: the report shows what the tables hold."""
    nodes = [
        Cluster(id="a", name="A", description="", slug="a", chat_ids=["1"], parent_id="gone"),
        Cluster(id="b", name="B", description="", slug="b", chat_ids=["2"], parent_id="c"),
        Cluster(id="c", name="C", description="", slug="c", chat_ids=["2"], parent_id="b"),
    ]
    meta = tables.meta_clusters_to_arrow(nodes, [0, 1, 1])
    summaries = pa.table(
        {"chat_id": ["1", "2", "3"], "summary": ["one", "two", "three"], "error": [None, None, "timeout"]}
    )
    projections = pa.table({"cluster_id": ["a"], "x": [1.0], "y": [float("nan")]})
    data = build_report_data("demo", DAY, summaries=summaries, meta_clusters=meta, projections=projections)
    clusters = data["clusters"]
    assert sorted(clusters["id"]) == ["a", "b", "c"]
    assert clusters["parent"][clusters["id"].index("a")] == -1
    assert (
        clusters["x"][clusters["id"].index("a")] == 1.0 and clusters["y"][clusters["id"].index("a")] is None
    )
    assert data["totals"]["conversations"] == 3 and data["totals"]["clustered"] == 2
    assert data["totals"]["failed_summaries"] == 1
    render_report_html(data)


def test_write_report_reads_the_partition_and_its_trends(tmp_path):
    database = tmp_path / "kura.duckdb"
    part = synthetic_partition(500, 30)
    trends = write_synthetic_partition(database, "demo", DAY, part)
    result = write_report(database, "demo", DAY, tmp_path / "out" / "report.html")
    assert result.path.exists() and result.bytes == result.path.stat().st_size
    assert (result.conversations, result.clusters, result.has_trends) == (500, len(part.tree), True)
    page = result.path.read_text(encoding="utf-8")
    assert page == render_report_html(load_report_data(database, "demo", DAY))  # written in pieces, same page
    data = embedded_data(page)
    assert data["trends"]["days"][-1] == DAY and len(data["trends"]["days"]) == 7
    topic_ids = {t["id"] for t in data["trends"]["topics"]}
    assert topic_ids == {row["topic_id"] for row in trends.to_pylist() if row["level"] == 0}
    roots = {n.id for n in part.tree if n.parent_id is None}
    assert topic_ids - {"other"} == roots
    # Finer topics appear only when they move, and never twice.
    level_one = {row["topic_id"]: row["status"] for row in trends.to_pylist() if row["level"] == 1}
    moving = {t["id"] for t in data["trends"]["subtopics"]}
    assert moving == {
        i for i, status in level_one.items() if status in ("emerging", "fading") and i not in topic_ids
    }
    with pytest.raises(ValueError, match="nothing to report for dataset 'demo' on 2026-11-08"):
        write_report(database, "demo", "2026-11-08", tmp_path / "empty.html")
    with pytest.raises(FileNotFoundError):
        write_report(tmp_path / "missing.duckdb", "demo", DAY, tmp_path / "x.html")


def window_scenario() -> tuple[pa.Table, pa.Table]:
    """`topic_trends` rows of three days and the last version's lineage: t1 was a root and is now under the
    new root t3; t9 was a root and merged into t1; t2 was renamed; t8 is in the version but hidden now (no
    row of its own), and t4 split from it."""
    from datetime import date

    def row(day, topic_id, level, share, status="steady", name=None):
        return {
            "date": date(2026, 11, day),
            "topic_id": topic_id,
            "level": level,
            "name": name or f"name {topic_id}",
            "conversations": round(share * 100),
            "share": share,
            "status": status,
            "recent_share": share,
            "baseline_share": share,
            "p_value": 0.5,
        }

    earlier = [
        row(day, topic_id, 0, share)
        for day in (5, 6)
        for topic_id, share in [("t1", 0.5), ("t2", 0.3), ("t9", 0.1), ("t8", 0.1)]
    ]
    last = [
        row(7, "t3", 0, 0.6, "new"),
        row(7, "t2", 0, 0.4, name="Renamed t2"),
        row(7, "t1", 1, 0.4, "emerging"),
        row(7, "t2", 1, 0.4, name="Renamed t2"),  # a leaf repeated below its level
        row(7, "t4", 1, 0.2, "steady"),
    ]
    lineage = [
        {"topic_id": "t3", "event": "born", "related_id": None},
        {"topic_id": "t2", "event": "renamed", "related_id": None},
        {"topic_id": "t4", "event": "split", "related_id": "t8"},
        {"topic_id": "t9", "event": "merged", "related_id": "t1"},
        {"topic_id": "t1", "event": "kept", "related_id": None},
        {"topic_id": "t8", "event": "kept", "related_id": None},
    ]
    return pa.Table.from_pylist(earlier + last), pa.Table.from_pylist(lineage)


def test_window_view_shows_the_days_version_and_follows_a_topic_that_changed_level():
    """Topics and statuses are the last day's rows (as `kura-dagster trends` lists them): a topic of an earlier
    version is not shown as `gone`, and a root regrouped under a new parent keeps its earlier days. The
    lineage names topics, those gone by their last name; a topic hidden now stays an id."""
    trends, lineage = window_scenario()
    view = data_of(synthetic_partition(30, 3), trends=trends, lineage=lineage)["trends"]
    assert {t["id"]: t["status"] for t in view["topics"]} == {"t3": "new", "t2": "steady"}
    assert [(t["id"], t["shares"]) for t in view["subtopics"]] == [("t1", [0.5, 0.5, 0.4])]
    t2 = next(t for t in view["topics"] if t["id"] == "t2")
    assert t2["shares"] == [0.3, 0.3, 0.4] and t2["counts"] == [30, 30, 40]
    events = {e["id"]: (e["name"], e["related_name"], e["previous_name"]) for e in view["lineage"]}
    assert events == {
        "t3": ("name t3", None, None),
        "t2": ("Renamed t2", None, "name t2"),
        "t4": ("name t4", None, None),  # split from t8, hidden now: no name
        "t9": ("name t9", "name t1", None),
    }


def test_without_a_tree_the_leaves_are_shown_as_roots(tmp_path):
    from datetime import date

    from kura_dagster.core.storage.store import connect, write_partition

    part = synthetic_partition(60, 6)
    leaves = [node for node in part.tree if node.id.startswith("leaf-")]
    with connect(tmp_path / "kura.duckdb") as connection:
        write_partition(connection, "summaries", "demo", date.fromisoformat(DAY), part.summaries)
        write_partition(
            connection,
            "base_clusters",
            "demo",
            date.fromisoformat(DAY),
            tables.base_clusters_to_arrow(leaves),
        )
    data = load_report_data(tmp_path / "kura.duckdb", "demo", DAY)
    assert sorted(data["clusters"]["id"]) == sorted(node.id for node in leaves)
    assert set(data["clusters"]["parent"]) == {-1} and data["totals"]["clustered"] == 60


def test_settings_for_the_report(monkeypatch):
    assert Settings.from_env().report_include_messages is False
    assert Settings.from_env().trends_window_days == 28
    monkeypatch.setenv("KURA_REPORT_INCLUDE_MESSAGES", "true")
    monkeypatch.setenv("KURA_TRENDS_WINDOW_DAYS", "14")
    assert Settings.from_env().report_include_messages is True
    assert Settings.from_env().trends_window_days == 14
    monkeypatch.setenv("KURA_REPORT_INCLUDE_MESSAGES", "maybe")
    with pytest.raises(SettingsError, match="KURA_REPORT_INCLUDE_MESSAGES"):
        Settings.from_env()
