"""One partition through the real Dagster machinery into a real DuckDB file."""

import duckdb
import numpy as np

from kura_dagster.core.settings import Settings
from kura_dagster.core.storage.store import qualified
from kura_dagster_tests.conftest import write_jsonl
from kura_dagster_tests.defs.conftest import DAY

TABLES = ("conversations", "summaries", "embeddings", "base_clusters", "meta_clusters", "projections")


def rows(settings: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        sql = sql.replace("kura.", qualified(connection) + ".")
        return connection.execute(sql).fetchall()


def test_materialising_a_partition_fills_every_table(pipeline):
    settings, conversations, run = pipeline
    run()
    chat_ids = sorted(c.chat_id for c in conversations)
    for table in ("conversations", "summaries", "embeddings"):
        assert sorted(r[0] for r in rows(settings, f"SELECT chat_id FROM kura.{table}")) == chat_ids, table
    # Exactly one base cluster per conversation.
    members = rows(settings, "SELECT unnest(chat_ids) FROM kura.base_clusters")
    assert sorted(m[0] for m in members) == chat_ids
    # The tree: leaves are the base clusters, one parent each, counts add up.
    nodes = rows(settings, "SELECT cluster_id, parent_id, level, count FROM kura.meta_clusters")
    node_ids = {n[0] for n in nodes}
    parents = {n[1] for n in nodes}
    leaves = {n[0] for n in nodes if n[0] not in parents}
    assert leaves == {r[0] for r in rows(settings, "SELECT cluster_id FROM kura.base_clusters")}
    assert all(p is None or p in node_ids for p in parents)
    for node_id, _, _, count in nodes:
        children = [n[3] for n in nodes if n[1] == node_id]
        assert not children or (len(children) >= 2 and sum(children) == count)
    assert sum(n[3] for n in nodes if n[1] is None) == len(conversations)
    assert all((n[2] == 0) == (n[1] is None) for n in nodes)
    # Projections: every node, finite coordinates.
    points = rows(settings, "SELECT cluster_id, x, y FROM kura.projections")
    assert {p[0] for p in points} == node_ids
    assert np.isfinite(np.array([p[1:] for p in points], dtype=float)).all()
    # Partition columns follow the contract: dataset text, date a DATE.
    types = dict(
        rows(
            settings,
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'summaries'",
        )
    )
    assert types["date"] == "DATE" and types["dataset"] == "VARCHAR"
    assert rows(settings, "SELECT DISTINCT dataset, CAST(date AS VARCHAR) FROM kura.projections") == [
        ("demo", DAY)
    ]


def test_rematerialising_replaces_rows_and_gives_identical_clusters(pipeline):
    settings, conversations, run = pipeline
    run()
    first = rows(settings, "SELECT cluster_id, name, chat_ids FROM kura.meta_clusters ORDER BY cluster_id")
    first_xy = rows(settings, "SELECT cluster_id, x, y FROM kura.projections ORDER BY cluster_id")
    run()
    for table in TABLES:
        duplicates = rows(
            settings,
            f"SELECT count(*) - count(DISTINCT {'chat_id' if table in TABLES[:3] else 'cluster_id'}) "
            f"FROM kura.{table}",
        )
        assert duplicates == [(0,)], table
    assert rows(settings, "SELECT count(*) FROM kura.conversations") == [(len(conversations),)]
    assert (
        rows(settings, "SELECT cluster_id, name, chat_ids FROM kura.meta_clusters ORDER BY cluster_id")
        == first
    )
    assert rows(settings, "SELECT cluster_id, x, y FROM kura.projections ORDER BY cluster_id") == first_xy


def test_a_day_without_conversations_materialises_empty_tables(pipeline):
    settings, _, run = pipeline
    result = run("2026-11-02")
    for table in TABLES:
        assert rows(settings, f"SELECT count(*) FROM kura.{table} WHERE date = DATE '2026-11-02'") == [(0,)]
    materialisations = result.asset_materializations_for_node("meta_clusters")
    assert materialisations[0].metadata["dagster/row_count"].value == 0


def test_metadata_shows_counts_and_the_tree(pipeline):
    _, conversations, run = pipeline
    result = run()
    summaries_meta = result.asset_materializations_for_node("summaries")[0].metadata
    assert summaries_meta["dagster/row_count"].value == len(conversations)
    tree_meta = result.asset_materializations_for_node("meta_clusters")[0].metadata
    assert tree_meta["tree"].value.startswith("- **")


def test_projections_show_the_map_inline_with_its_top_level_topics_named(pipeline):
    """Dagster 1.13 shows markdown metadata in the asset's table only under 1,000 characters (longer: a
    "[Show Markdown]" link): the map is an SVG that fits, its bubbles labelled with the root topics' names."""
    import xml.etree.ElementTree as ET
    from urllib.parse import unquote

    from kura_dagster.core.privacy.thresholds import HIDDEN_NAMES

    settings, _, run = pipeline
    metadata = run().asset_materializations_for_node("projections")[0].metadata
    inline = metadata["map"].value
    assert len(inline) < 1000 and inline.startswith("![map of ") and "](<data:image/svg+xml,%3Csvg " in inline
    svg = ET.fromstring(unquote(inline.split(",", 1)[1].removesuffix(">)")))
    labels = [text.text for text in svg.iter("{http://www.w3.org/2000/svg}text")]
    roots = rows(
        settings, "SELECT name, count FROM kura.meta_clusters WHERE parent_id IS NULL ORDER BY count DESC"
    )
    shown = [name for name, _ in roots if name not in HIDDEN_NAMES]
    assert labels and labels[0].rstrip("…") == shown[0][: len(labels[0].rstrip("…"))]  # the largest first
    assert all(any(name.startswith(label.rstrip("…")) for name in shown) for label in labels)
    assert not set(labels) & HIDDEN_NAMES
    # Every node, in the same colours, behind the link.
    assert (
        metadata["map_detail"].value.startswith("![map of ")
        and "](data:image/png;base64,iVBORw0KGgo" in metadata["map_detail"].value
    )


def test_conversations_data_version_is_the_file_hash(pipeline):
    import hashlib

    settings, conversations, run = pipeline
    path = settings.data_dir / "demo" / f"{DAY}.jsonl"
    first = run().asset_materializations_for_node("conversations")[0]
    assert first.tags["dagster/data_version"] == hashlib.sha256(path.read_bytes()).hexdigest()
    write_jsonl(path, conversations[:-1])
    second = run().asset_materializations_for_node("conversations")[0]
    assert second.tags["dagster/data_version"] != first.tags["dagster/data_version"]
