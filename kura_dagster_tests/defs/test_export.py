"""Export of a materialised partition: Kura's checkpoint files, Parquet and CSV."""

import csv
import json

import pyarrow.parquet as pq

from kura_dagster.core.privacy.thresholds import HIDDEN_NAMES
from kura_dagster.core.storage.export import export_partition
from kura_dagster.core.storage.store import read_table
from kura_dagster.core.types import Cluster, Conversation, ConversationSummary, ProjectedCluster
from kura_dagster_tests.defs.conftest import DAY


def hidden_members(settings) -> int:
    """Conversations of the leaves hidden by the privacy thresholds: the cluster files leave them out."""
    return sum(
        row["count"]
        for row in read_table(settings.duckdb_path, "base_clusters", "demo", DAY).to_pylist()
        if row["name"] in HIDDEN_NAMES
    )


def test_kura_checkpoints_load_as_kura_models(pipeline, tmp_path):
    settings, conversations, run = pipeline
    run()
    out = tmp_path / "checkpoints"
    counts = export_partition(settings.duckdb_path, "demo", DAY, out, "kura")
    assert counts["conversations.jsonl"] == counts["summaries.jsonl"] == len(conversations)
    lines = {name: [json.loads(line) for line in (out / name).read_text().splitlines()] for name in counts}
    assert [Conversation.model_validate(r).chat_id for r in lines["conversations.jsonl"]]
    assert all(m["created_at"] for r in lines["conversations.jsonl"] for m in r["messages"])
    summaries = [ConversationSummary.model_validate(r) for r in lines["summaries.jsonl"]]
    assert all(len(s.embedding) == 256 for s in summaries)
    clusters = [Cluster.model_validate(r) for r in lines["clusters.jsonl"]]
    assert sum(c.count for c in clusters) + hidden_members(settings) == len(conversations)
    assert not [c for c in clusters if c.name in HIDDEN_NAMES]
    assert {"id", "name", "description", "slug", "chat_ids", "parent_id", "count"} <= set(
        lines["clusters.jsonl"][0]
    )
    projected = [ProjectedCluster.model_validate(r) for r in lines["dimensionality.jsonl"]]
    assert len(projected) == len(lines["meta_clusters.jsonl"]) and {"x_coord", "y_coord", "level"} <= set(
        lines["dimensionality.jsonl"][0]
    )


def test_parquet_and_csv(pipeline, tmp_path):
    settings, conversations, run = pipeline
    run()
    parquet = export_partition(settings.duckdb_path, "demo", DAY, tmp_path / "pq", "parquet")
    assert pq.read_table(tmp_path / "pq" / "summaries.parquet").num_rows == len(conversations)
    assert parquet["embeddings.parquet"] == len(conversations)
    export_partition(settings.duckdb_path, "demo", DAY, tmp_path / "csv", "csv")
    with (tmp_path / "csv" / "base_clusters.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert sum(len(json.loads(r["chat_ids"])) for r in rows) + hidden_members(settings) == len(conversations)
