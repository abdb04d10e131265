"""The six pipeline assets, one per stage, each a thin call into `kura_dagster.core.stages`.

conversations → summaries → embeddings → base_clusters → meta_clusters → projections

Declared here, built from the settings by `build_pipeline_assets` (partitions and backfill policy, see
`defs/steps.py`); each stage's step works one partition of its run at a time (`each_partition`).
"""

# No `from __future__ import annotations` here: Dagster inspects the real type hints of asset functions.

from datetime import date as Date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    DataVersion,
    MetadataValue,
    MultiPartitionsDefinition,
    Output,
)

from kura_dagster.core.settings import Settings
from kura_dagster.core.stages.base_clusters import generate_base_clusters_from_conversation_summaries
from kura_dagster.core.stages.embeddings import embed_texts, embedding_texts
from kura_dagster.core.stages.meta_clusters import reduce_clusters_from_base_clusters
from kura_dagster.core.stages.projections import project_tree
from kura_dagster.core.stages.summaries import summarise_table
from kura_dagster.core.storage import tables
from kura_dagster.core.tree import depth_first
from kura_dagster.core.types import USER_ID, ConversationSummary
from kura_dagster.core.views.map_image import (
    map_svg_markdown,
    png_markdown,
    points_from_projection,
    render_map_png,
)
from kura_dagster.core.views.tree_view import tree_markdown
from kura_dagster.defs.resources import (
    ClusteringResource,
    EmbeddingModelResource,
    KuraLLMResource,
    LandingZone,
    SummaryModelResource,
)
from kura_dagster.defs.steps import build_assets, each_partition, pipeline_asset, row_metadata


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


@pipeline_asset(code_version="1")
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
        context.add_asset_metadata(
            row_metadata(
                table, rejected_records=MetadataValue.int(len(rejects)), file_sha256=fingerprints[-1]
            ),
            partition_key=key,
        )
        return table

    table = each_partition(context, load_day)
    version = fingerprints[0] if len(fingerprints) == 1 else landing_zone.combined_fingerprint(fingerprints)
    return Output(table, data_version=DataVersion(version))


@pipeline_asset(code_version="3")
def summaries(
    context: AssetExecutionContext,
    conversations: pa.Table,
    summary_model: SummaryModelResource,
    llm: KuraLLMResource,
) -> pa.Table:
    """Clio facets of every conversation; a conversation that fails keeps its row with `error` set."""

    def summarise_day(dataset: str, day: Date, key: str, conversations: pa.Table) -> pa.Table:
        with llm.open_client() as client:
            model = summary_model.get_model(client, llm.custom_facet_schemas())
            table = summarise_table(
                conversations,
                model=model,
                workers=summary_model.workers,
                progress=lambda done, total: context.log.info(f"{key}: summarised {done}/{total}"),
            )
            context.add_asset_metadata(
                row_metadata(
                    table,
                    client,
                    errors=MetadataValue.int(table.num_rows - pc.count(table.column("error")).as_py()),
                    truncated=MetadataValue.int(pc.sum(table.column("truncated")).as_py() or 0),
                    model=model.name,
                ),
                partition_key=key,
            )
        return table

    return each_partition(context, summarise_day, conversations=conversations)


# What each stage reads of its inputs (the IO manager loads only these columns, see io_manager.py).
EMBEDDED_COLUMNS = ["chat_id", "summary", "request", "error"]
CLUSTERING_COLUMNS = list(tables.CLUSTERING_FIELDS)


@pipeline_asset(code_version="2", ins={"summaries": AssetIn(metadata={"columns": EMBEDDED_COLUMNS})})
def embeddings(
    context: AssetExecutionContext,
    summaries: pa.Table,
    embedding_model: EmbeddingModelResource,
    llm: KuraLLMResource,
) -> pa.Table:
    """One vector per successfully summarised conversation, built from its request."""

    def embed_day(dataset: str, day: Date, key: str, summaries: pa.Table) -> pa.Table:
        summarised = summaries.filter(pc.is_null(summaries.column("error")))
        with llm.open_client() as client:
            model = embedding_model.get_model(client)
            vectors = embed_texts(embedding_texts(summarised), model=model)
            table = tables.embeddings_to_arrow(summarised.column("chat_id").to_pylist(), vectors, model.name)
            dimensions = int(vectors.shape[1]) if vectors.size else 0
            context.add_asset_metadata(
                row_metadata(table, client, model=model.name, dimensions=MetadataValue.int(dimensions)),
                partition_key=key,
            )
        return table

    return each_partition(context, embed_day, summaries=summaries)


@pipeline_asset(code_version="3", ins={"summaries": AssetIn(metadata={"columns": CLUSTERING_COLUMNS})})
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
                summary_objects,
                vectors,
                clustering_method=clustering.get_clustering_method(),
                namer=clustering.get_namer(client),
                lexical_weight=clustering.lexical_weight,
                manifold=clustering.manifold == "umap",
                random_state=clustering.seed,
            )
            clusters = (privacy := clustering.get_privacy_guard(client)).protect_leaves(
                clusters, summary_objects
            )
            table = tables.base_clusters_to_arrow(clusters)
            context.add_asset_metadata(
                row_metadata(
                    table,
                    client,
                    **privacy.metadata(),
                    largest_clusters=MetadataValue.md(_largest_clusters_markdown(table)),
                ),
                partition_key=key,
            )
        return table

    return each_partition(context, cluster_day, summaries=summaries, embeddings=embeddings)


@pipeline_asset(code_version="3", ins={"summaries": AssetIn(metadata={"columns": CLUSTERING_COLUMNS})})
def meta_clusters(
    context: AssetExecutionContext,
    base_clusters: pa.Table,
    summaries: pa.Table,
    embeddings: pa.Table,
    clustering: ClusteringResource,
    llm: KuraLLMResource,
) -> pa.Table:
    """The topic tree: every node, leaves included, with parent_id (NULL at a root) and level (0 = root)."""

    def build_tree(
        dataset: str, day: Date, key: str, base_clusters: pa.Table, summaries: pa.Table, embeddings: pa.Table
    ) -> pa.Table:
        summary_objects, vectors = _clusterable(summaries, embeddings)
        with llm.open_client() as client:
            privacy = clustering.get_privacy_guard(client)
            model = privacy.protect_hierarchy(clustering.get_meta_model(client))
            nodes = reduce_clusters_from_base_clusters(
                tables.clusters_from_arrow(base_clusters), summary_objects, vectors, model=model
            )
            ordered = depth_first(nodes)
            table = tables.meta_clusters_to_arrow(
                [node for node, _ in ordered], [level for _, level in ordered]
            )
            fell_back = MetadataValue.bool(model.fell_back)
            context.add_asset_metadata(
                row_metadata(
                    table,
                    client,
                    **privacy.metadata(),
                    roots=MetadataValue.int(sum(1 for node in nodes if node.parent_id is None)),
                    hierarchy_fallback=fell_back,
                    tree=MetadataValue.md(tree_markdown(nodes)),
                ),
                partition_key=key,
            )
        return table

    return each_partition(
        context, build_tree, base_clusters=base_clusters, summaries=summaries, embeddings=embeddings
    )


@pipeline_asset(code_version="1")
def projections(
    context: AssetExecutionContext,
    meta_clusters: pa.Table,
    embeddings: pa.Table,
    clustering: ClusteringResource,
) -> pa.Table:
    """2D position of every tree node (UMAP of leaf centroids; parents at their leaves' weighted mean)."""

    def project_day(
        dataset: str, day: Date, key: str, meta_clusters: pa.Table, embeddings: pa.Table
    ) -> pa.Table:
        chat_ids, vectors = tables.embeddings_from_arrow(embeddings)
        projected = project_tree(
            tables.clusters_from_arrow(meta_clusters), chat_ids, vectors, model=clustering.get_projection()
        )
        table = tables.projections_to_arrow(projected)
        # `map` is short enough for the UI to show inline (labelled top-level topics); `map_detail`, every node
        # in the same colours, opens from its "[Show Markdown]" link.
        points = points_from_projection(projected)
        picture = png_markdown(render_map_png(points), alt=f"map of {len(points)} topics")
        context.add_asset_metadata(
            row_metadata(
                table, map=MetadataValue.md(map_svg_markdown(projected)), map_detail=MetadataValue.md(picture)
            ),
            partition_key=key,
        )
        return table

    return each_partition(context, project_day, meta_clusters=meta_clusters, embeddings=embeddings)


PIPELINE_STAGES = [conversations, summaries, embeddings, base_clusters, meta_clusters, projections]


def build_pipeline_assets(
    settings: Settings, partitions_def: MultiPartitionsDefinition | None = None
) -> list[AssetsDefinition]:
    """The six stages, partitioned by `partitions_def` (default: built from `settings`)."""
    return build_assets(PIPELINE_STAGES, settings, partitions_def)
