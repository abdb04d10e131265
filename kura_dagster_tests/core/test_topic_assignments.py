"""Daily assignment to a taxonomy: nearest leaf by cosine, `unassigned` beyond the leaf's radius, hidden leaves
under their own id, an empty day, and the version stored and read back through a DuckDB file."""

from datetime import date

import numpy as np

from kura_dagster.core.stages.topic_assignments import assign_to_taxonomy
from kura_dagster.core.storage import tables
from kura_dagster.core.storage.store import connect, read_partition, read_partitions, write_partition
from kura_dagster.core.topics import UNASSIGNED, LineageEvent, Taxonomy, Topic

VERSION = date(2026, 11, 7)


def unit(*values):
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def leaf(topic_id, direction, radius, *, parent="t00001", hidden=False, members=("x",)):
    return Topic(
        topic_id=topic_id,
        parent_id=parent,
        level=1,
        name="Below threshold" if hidden else f"name {topic_id}",
        description="",
        slug=topic_id,
        count=len(members),
        hidden=hidden,
        centroid=unit(*direction),
        radius=radius,
        chat_ids=tuple(members),
    )


def taxonomy():
    root = Topic("t00001", None, 0, "Root", "", "root", 3, False, unit(1, 1, 1), 0.5, ("a", "b", "c"))
    return Taxonomy(
        VERSION,
        date(2026, 10, 11),
        (
            root,
            leaf("t00002", (1, 0, 0), 0.2, members=("a",)),
            leaf("t00003", (0, 1, 0), 0.2, members=("b",)),
            leaf("t00004", (0, 0, 1), 0.2, hidden=True, members=("c",)),
        ),
        (LineageEvent("t00001", "born"), LineageEvent("t00002", "kept"), LineageEvent("t00009", "died")),
    )


def test_nearest_leaf_or_unassigned_beyond_its_radius():
    vectors = np.vstack([unit(1, 0.1, 0), unit(0.1, 1, 0), unit(0, 0.1, 1), unit(1, 1, 0)])
    table = assign_to_taxonomy(["p", "q", "r", "far"], vectors, taxonomy())
    assert table.schema == tables.TOPIC_ASSIGNMENTS_SCHEMA
    rows = table.to_pylist()
    assert [r["topic_id"] for r in rows] == ["t00002", "t00003", "t00004", UNASSIGNED]
    assert {r["taxonomy_version"] for r in rows} == {VERSION}
    assert abs(rows[3]["distance"] - (1 - float(unit(1, 1, 0) @ unit(1, 0, 0)))) < 1e-6


def test_empty_day_gives_an_empty_table_with_the_schema():
    table = assign_to_taxonomy([], np.zeros((0, 3), dtype=np.float32), taxonomy())
    assert table.num_rows == 0 and table.schema == tables.TOPIC_ASSIGNMENTS_SCHEMA


def test_version_read_back_from_a_duckdb_file_assigns_the_same(tmp_path):
    original = taxonomy()
    with connect(str(tmp_path / "kura.duckdb")) as connection:
        write_partition(connection, "taxonomy", "shop", VERSION, tables.taxonomy_to_arrow(original))
        write_partition(connection, "topic_lineage", "shop", VERSION, tables.lineage_to_arrow(original))
        stored = read_partitions(connection, "taxonomy", [("shop", VERSION)])
        lineage = read_partition(connection, "topic_lineage", "shop", VERSION)
    read = tables.taxonomy_from_arrow(stored, lineage)
    assert (read.version, read.window_start) == (original.version, original.window_start)
    assert [(t.topic_id, t.parent_id, t.name, t.hidden, t.chat_ids) for t in read.topics] == [
        (t.topic_id, t.parent_id, t.name, t.hidden, t.chat_ids) for t in original.topics
    ]
    assert read.lineage == original.lineage
    vectors = np.vstack([unit(1, 0.1, 0), unit(0, 0.1, 1)])
    assert assign_to_taxonomy(["p", "r"], vectors, read).equals(
        assign_to_taxonomy(["p", "r"], vectors, original)
    )
    assert tables.taxonomy_from_arrow(stored.slice(0, 0)) is None


def test_a_conversation_the_version_holds_keeps_its_leaf():
    """Chat "b" is a member of t00003: it stays there even where its vector lies nearer another leaf's centroid;
    the distance is to its own leaf's centroid."""
    vectors = np.vstack([unit(1, 0.2, 0), unit(1, 0.2, 0)])
    rows = assign_to_taxonomy(["b", "new"], vectors, taxonomy()).to_pylist()
    assert [r["topic_id"] for r in rows] == ["t00003", "t00002"]
    assert abs(rows[0]["distance"] - (1 - float(unit(1, 0.2, 0) @ unit(0, 1, 0)))) < 1e-6


def test_without_members_every_conversation_goes_to_its_nearest_leaf():
    """What `counts_under` uses for a trends series: one rule for every day, members included."""
    vectors = np.vstack([unit(1, 0.2, 0), unit(1, 0.2, 0)])
    rows = assign_to_taxonomy(["b", "new"], vectors, taxonomy(), keep_members=False).to_pylist()
    assert [r["topic_id"] for r in rows] == ["t00002", "t00002"]
