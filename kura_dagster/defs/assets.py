"""The six pipeline assets, one per stage, each a thin call into `kura_dagster.core`.

conversations → summaries → embeddings → base_clusters → meta_clusters → projections

Every stage works one (dataset, date) partition at a time, but a run may cover several: a backfill runs a
dataset's date range in runs of up to KURA_PARTITIONS_PER_RUN days (the backfill policy), so imports, model
loading and UMAP's compilation are paid once per run instead of once per day. Inputs then hold the rows of
all the run's partitions; `_each_partition` hands each stage its own day.
"""

# No `from __future__ import annotations` here: Dagster inspects the real type hints of asset functions.

import warnings
from collections.abc import Callable
from datetime import date as Date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from dagster import AssetExecutionContext, AssetIn, BackfillPolicy, DataVersion, MetadataValue, Output, asset

from kura_dagster.core import tables
from kura_dagster.core.cluster import generate_base_clusters_from_conversation_summaries
from kura_dagster.core.embed import embed_texts, embedding_texts
from kura_dagster.core.map_image import map_svg_markdown, png_markdown, points_from_projection, render_map_png
from kura_dagster.core.meta_cluster import reduce_clusters_from_base_clusters
from kura_dagster.core.project import project_tree
from kura_dagster.core.settings import Settings
from kura_dagster.core.store import partition_slice, with_partition_columns
from kura_dagster.core.summarise import summarise_table
from kura_dagster.core.thresholds import USER_ID
from kura_dagster.core.tree import depth_first
from kura_dagster.core.types import ConversationSummary
from kura_dagster.core.visualise import tree_markdown
from kura_dagster.defs.instance import POOL
from kura_dagster.defs.io_manager import partitions_of
from kura_dagster.defs.partitions import KURA_PARTITIONS, partition_key
from kura_dagster.defs.resources import (
    ClusteringResource,
    EmbeddingModelResource,
    KuraLLMResource,
    LandingZone,
    SummaryModelResource,
)

# `Output(data_version=...)` is marked beta in dagster 1.13; it is how `conversations` versions its data by the
# file's hash, so the warning would only repeat on every run.
warnings.filterwarnings("ignore", message="Parameter `data_version` of initializer `Output.__init__`")
# Likewise `backfill_policy` (beta): it is what lets one run cover a date range.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy` of function `asset`")

# Every asset writes the one DuckDB file: they share the pool that the instance limits to one step.
# One backfill policy for all six, so a backfill puts the whole pipeline of a date range in one run.
BACKFILL_POLICY = BackfillPolicy.multi_run(max_partitions_per_run=Settings.from_env().partitions_per_run)
COMMON = dict(partitions_def=KURA_PARTITIONS, group_name="kura", pool=POOL, backfill_policy=BACKFILL_POLICY)


def _each_partition(context: AssetExecutionContext, stage: Callable[..., pa.Table], **inputs: pa.Table) -> pa.Table:
    """Call `stage(dataset, day, key, **inputs of that day)` for each partition of this run, in order;
    the results, with their partition columns, make the step's output."""
    results = []
    for dataset, day in partitions_of(context.partition_keys):
        day_inputs = {name: partition_slice(table, dataset, day) for name, table in inputs.items()}
        result = stage(dataset, day, partition_key(dataset, day.isoformat()), **day_inputs)
        results.append(with_partition_columns(result, dataset, day))
    return pa.concat_tables(results, promote_options="default")


def _rows(table: pa.Table, client=None, **extra) -> dict:
    """Row count, plus the LLM calls, tokens and dollars of this materialisation when the hosted path ran."""
    usage = client.usage.as_metadata() if client is not None else {}
    return {"dagster/row_count": MetadataValue.int(table.num_rows), **usage, **extra}


def _clusterable(summaries: pa.Table, embeddings: pa.Table) -> tuple[list[ConversationSummary], np.ndarray]:
    """Summaries that have an embedding, aligned row by row with their vectors."""
    chat_ids, vectors = tables.embeddings_from_arrow(embeddings)
    if not chat_ids:
        return [], np.zeros((0, 0), dtype=np.float32)
    # Metadata is read for the privacy thresholds' user ids only.
    read = tables.summaries_from_arrow(summaries, tables.CLUSTERING_FIELDS, metadata_keys=(USER_ID,))
    by_chat = {s.chat_id: s for s in read}
    return [by_chat[chat_id] for chat_id in chat_ids], vectors


def _largest_clusters_markdown(table: pa.Table, limit: int = 10) -> str:
    rows = sorted(table.select(["name", "count"]).to_pylist(), key=lambda r: (-r["count"], r["name"]))[:limit]
    lines = ["| cluster | conversations |", "|---|---:|"] + [f"| {r['name']} | {r['count']} |" for r in rows]
    return "\n".join(lines)


@asset(code_version="1", **COMMON)
def conversations(context: AssetExecutionContext, landing_zone: LandingZone) -> Output[pa.Table]:
    """Conversations of one dataset and day, validated from the landing zone `data/<dataset>/<date>.jsonl`.

    Its data version is the file's SHA-256, so "Materialize changed and missing" re-runs a day exactly
    when its file changed (downstream data versions follow from it and the code versions). A run over a
    date range gets one version for the range (Dagster versions a step's output as a whole): the hash of
    its files' hashes; each day's own hash is in that day's metadata.
    """
    fingerprints = []

    def load_day(dataset: str, day: Date, key: str) -> pa.Table:
        table, rejects = landing_zone.load_table(dataset, day.isoformat())
        for rejected in rejects:
            context.log.warning(f"skipped {rejected.describe()}")
        fingerprints.append(landing_zone.fingerprint(dataset, day.isoformat()))
        context.add_asset_metadata(_rows(table, rejected_records=MetadataValue.int(len(rejects)),
                                         file_sha256=fingerprints[-1]), partition_key=key)
        return table

    table = _each_partition(context, load_day)
    version = fingerprints[0] if len(fingerprints) == 1 else landing_zone.combined_fingerprint(fingerprints)
    return Output(table, data_version=DataVersion(version))


@asset(code_version="3", **COMMON)
def summaries(
    context: AssetExecutionContext, conversations: pa.Table, summary_model: SummaryModelResource, llm: KuraLLMResource
) -> pa.Table:
    """Clio facets of every conversation; a conversation that fails keeps its row with `error` set."""

    def summarise_day(dataset: str, day: Date, key: str, conversations: pa.Table) -> pa.Table:
        with llm.open_client() as client:
            model = summary_model.get_model(client, llm.custom_facet_schemas())
            table = summarise_table(
                conversations, model=model, workers=summary_model.workers,
                progress=lambda done, total: context.log.info(f"{key}: summarised {done}/{total}"),
            )
            context.add_asset_metadata(_rows(
                table, client, errors=MetadataValue.int(table.num_rows - pc.count(table.column("error")).as_py()),
                truncated=MetadataValue.int(pc.sum(table.column("truncated")).as_py() or 0), model=model.name,
            ), partition_key=key)
        return table

    return _each_partition(context, summarise_day, conversations=conversations)


# What each stage reads of its inputs (the IO manager loads only these columns, see io_manager.py).
EMBEDDED_COLUMNS = ["chat_id", "summary", "request", "error"]
CLUSTERING_COLUMNS = list(tables.CLUSTERING_FIELDS)


@asset(code_version="2", ins={"summaries": AssetIn(metadata={"columns": EMBEDDED_COLUMNS})}, **COMMON)
def embeddings(
    context: AssetExecutionContext, summaries: pa.Table, embedding_model: EmbeddingModelResource, llm: KuraLLMResource
) -> pa.Table:
    """One vector per successfully summarised conversation, built from its request."""

    def embed_day(dataset: str, day: Date, key: str, summaries: pa.Table) -> pa.Table:
        summarised = summaries.filter(pc.is_null(summaries.column("error")))
        with llm.open_client() as client:
            model = embedding_model.get_model(client)
            vectors = embed_texts(embedding_texts(summarised), model=model)
            table = tables.embeddings_to_arrow(summarised.column("chat_id").to_pylist(), vectors, model.name)
            dimensions = int(vectors.shape[1]) if vectors.size else 0
            context.add_asset_metadata(_rows(table, client, model=model.name,
                                             dimensions=MetadataValue.int(dimensions)), partition_key=key)
        return table

    return _each_partition(context, embed_day, summaries=summaries)


@asset(code_version="3", ins={"summaries": AssetIn(metadata={"columns": CLUSTERING_COLUMNS})}, **COMMON)
def base_clusters(
    context: AssetExecutionContext,
    summaries: pa.Table,
    embeddings: pa.Table,
    clustering: ClusteringResource,
    llm: KuraLLMResource,
) -> pa.Table:
    """Leaf topics: every embedded conversation in exactly one cluster, named from its members."""

    def cluster_day(dataset: str, day: Date, key: str, summaries: pa.Table, embeddings: pa.Table) -> pa.Table:
        summary_objects, vectors = _clusterable(summaries, embeddings)
        with llm.open_client() as client:
            clusters = generate_base_clusters_from_conversation_summaries(
                summary_objects, vectors, clustering_method=clustering.get_clustering_method(),
                namer=clustering.get_namer(client), lexical_weight=clustering.lexical_weight,
                manifold=clustering.manifold == "umap", random_state=clustering.seed,
            )
            clusters = (privacy := clustering.get_privacy_guard(client)).protect_leaves(clusters, summary_objects)
            table = tables.base_clusters_to_arrow(clusters)
            context.add_asset_metadata(_rows(
                table, client, **privacy.metadata(),
                largest_clusters=MetadataValue.md(_largest_clusters_markdown(table))), partition_key=key)
        return table

    return _each_partition(context, cluster_day, summaries=summaries, embeddings=embeddings)


@asset(code_version="3", ins={"summaries": AssetIn(metadata={"columns": CLUSTERING_COLUMNS})}, **COMMON)
def meta_clusters(
    context: AssetExecutionContext,
    base_clusters: pa.Table,
    summaries: pa.Table,
    embeddings: pa.Table,
    clustering: ClusteringResource,
    llm: KuraLLMResource,
) -> pa.Table:
    """The topic tree: every node, leaves included, with parent_id (NULL at a root) and level (0 = root)."""

    def build_tree(dataset: str, day: Date, key: str, base_clusters: pa.Table, summaries: pa.Table,
                   embeddings: pa.Table) -> pa.Table:
        summary_objects, vectors = _clusterable(summaries, embeddings)
        with llm.open_client() as client:
            privacy = clustering.get_privacy_guard(client)
            model = privacy.protect_hierarchy(clustering.get_meta_model(client))
            nodes = reduce_clusters_from_base_clusters(
                tables.clusters_from_arrow(base_clusters), summary_objects, vectors, model=model
            )
            ordered = depth_first(nodes)
            table = tables.meta_clusters_to_arrow([node for node, _ in ordered], [level for _, level in ordered])
            fell_back = MetadataValue.bool(bool(getattr(model, "fell_back", False)))
            context.add_asset_metadata(_rows(
                table, client, **privacy.metadata(), roots=MetadataValue.int(sum(1 for node in nodes if node.parent_id is None)),
                hierarchy_fallback=fell_back, tree=MetadataValue.md(tree_markdown(nodes))), partition_key=key)
        return table

    return _each_partition(context, build_tree, base_clusters=base_clusters, summaries=summaries,
                           embeddings=embeddings)


@asset(code_version="1", **COMMON)
def projections(
    context: AssetExecutionContext,
    meta_clusters: pa.Table,
    embeddings: pa.Table,
    clustering: ClusteringResource,
) -> pa.Table:
    """2D position of every tree node (UMAP of leaf centroids; parents at their leaves' weighted mean)."""

    def project_day(dataset: str, day: Date, key: str, meta_clusters: pa.Table, embeddings: pa.Table) -> pa.Table:
        chat_ids, vectors = tables.embeddings_from_arrow(embeddings)
        projected = project_tree(tables.clusters_from_arrow(meta_clusters), chat_ids, vectors,
                                 model=clustering.get_projection())
        table = tables.projections_to_arrow(projected)
        # `map` is short enough for the UI to show inline (labelled top-level topics); `map_detail`, every node
        # in the same colours, opens from its "[Show Markdown]" link.
        points = points_from_projection(projected)
        picture = png_markdown(render_map_png(points), alt=f"map of {len(points)} topics")
        context.add_asset_metadata(_rows(table, map=MetadataValue.md(map_svg_markdown(projected)),
                                         map_detail=MetadataValue.md(picture)), partition_key=key)
        return table

    return _each_partition(context, project_day, meta_clusters=meta_clusters, embeddings=embeddings)


PIPELINE_ASSETS = [conversations, summaries, embeddings, base_clusters, meta_clusters, projections]
