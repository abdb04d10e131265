"""Asset checks: blocking where a bad result must not flow downstream.

Each check loads the partition it checks (same run, same partition key) and calls a function of
`kura_dagster.core.validation`.
"""

from __future__ import annotations

import os
import warnings

import pyarrow as pa
import pyarrow.compute as pc
from dagster import AssetCheckResult, AssetIn, asset_check

from kura_dagster.core import tables
from kura_dagster.core.thresholds import Thresholds, threshold_problems, user_ids_of
from kura_dagster.core.validation import coverage_problems, hierarchy_problems, missing_and_extra, non_finite_points
from kura_dagster.defs.assets import base_clusters, meta_clusters, projections, summaries
from kura_dagster.defs.partitions import KURA_PARTITIONS
from kura_dagster.defs.resources import ClusteringResource

# Partitioned asset checks are marked "preview" in dagster 1.13; they are what makes a check load the same
# (dataset, date) partition as the asset it guards, so we use them and keep the warning out of every import.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")


def _result(problems: list[str], **metadata) -> AssetCheckResult:
    return AssetCheckResult(passed=not problems, metadata={"problems": "\n".join(problems) or "none", **metadata})


@asset_check(asset=summaries, blocking=True, partitions_def=KURA_PARTITIONS,
             additional_ins={"conversations": AssetIn("conversations")})
def every_conversation_has_a_summary(summaries: pa.Table, conversations: pa.Table) -> AssetCheckResult:
    """One summary row per conversation: failures keep a row with `error`, they are never dropped."""
    missing, extra = missing_and_extra(conversations.column("chat_id").to_pylist(), summaries.column("chat_id").to_pylist())
    problems = ([f"{len(missing)} conversations without a summary (first: {missing[0]})"] if missing else []) + (
        [f"{len(extra)} summaries of unknown conversations (first: {extra[0]})"] if extra else [])
    return _result(problems, conversations=conversations.num_rows, summaries=summaries.num_rows)


@asset_check(asset=summaries, blocking=True, partitions_def=KURA_PARTITIONS)
def summary_error_rate_is_low(summaries: pa.Table) -> AssetCheckResult:
    """Share of conversations whose summary failed stays under KURA_MAX_SUMMARY_ERROR_RATE (default 5%)."""
    threshold = float(os.environ.get("KURA_MAX_SUMMARY_ERROR_RATE", "0.05"))
    errors = summaries.num_rows - pc.sum(pc.is_null(summaries.column("error"))).as_py() if summaries.num_rows else 0
    rate = errors / summaries.num_rows if summaries.num_rows else 0.0
    problems = [f"{rate:.1%} of summaries failed (threshold {threshold:.1%})"] if rate > threshold else []
    return _result(problems, error_rate=rate, threshold=threshold)


@asset_check(asset=base_clusters, blocking=True, partitions_def=KURA_PARTITIONS,
             additional_ins={"embeddings": AssetIn("embeddings")})
def every_embedded_conversation_in_exactly_one_cluster(base_clusters: pa.Table, embeddings: pa.Table) -> AssetCheckResult:
    problems = coverage_problems(embeddings.column("chat_id").to_pylist(), tables.clusters_from_arrow(base_clusters))
    return _result(problems, clusters=base_clusters.num_rows)


@asset_check(asset=meta_clusters, blocking=True, partitions_def=KURA_PARTITIONS,
             additional_ins={"base_clusters": AssetIn("base_clusters")})
def tree_is_valid(meta_clusters: pa.Table, base_clusters: pa.Table) -> AssetCheckResult:
    """One parent each, no cycles, no single-child chains, counts add up, leaves are the base clusters."""
    problems = hierarchy_problems(tables.clusters_from_arrow(meta_clusters), tables.clusters_from_arrow(base_clusters))
    return _result(problems, nodes=meta_clusters.num_rows)


@asset_check(asset=projections, blocking=True, partitions_def=KURA_PARTITIONS)
def projections_are_finite(projections: pa.Table) -> AssetCheckResult:
    bad = non_finite_points(projections.column("x").to_pylist(), projections.column("y").to_pylist())
    return _result([f"{bad} nodes with non-finite coordinates"] if bad else [], points=projections.num_rows)


def _threshold_result(clusters: pa.Table, summaries: pa.Table, clustering: ClusteringResource) -> AssetCheckResult:
    thresholds = Thresholds(min_conversations=clustering.min_cluster_size, min_users=clustering.min_cluster_users)
    nodes = tables.clusters_from_arrow(clusters)
    problems = threshold_problems(nodes, user_ids_of(tables.summaries_from_arrow(summaries)), thresholds)
    return _result(problems, clusters=len(nodes), min_cluster_size=thresholds.min_conversations,
                   min_cluster_users=thresholds.min_users)


@asset_check(asset=base_clusters, blocking=True, partitions_def=KURA_PARTITIONS,
             additional_ins={"summaries": AssetIn("summaries")})
def no_base_cluster_below_the_privacy_thresholds_is_named(
    base_clusters: pa.Table, summaries: pa.Table, clustering: ClusteringResource
) -> AssetCheckResult:
    """No cluster below KURA_MIN_CLUSTER_SIZE / KURA_MIN_CLUSTER_USERS is shown by name."""
    return _threshold_result(base_clusters, summaries, clustering)


@asset_check(asset=meta_clusters, blocking=True, partitions_def=KURA_PARTITIONS,
             additional_ins={"summaries": AssetIn("summaries")})
def no_tree_node_below_the_privacy_thresholds_is_named(
    meta_clusters: pa.Table, summaries: pa.Table, clustering: ClusteringResource
) -> AssetCheckResult:
    """No node below KURA_MIN_CLUSTER_SIZE / KURA_MIN_CLUSTER_USERS is shown by name, and no parent is named
    when every leaf below it is hidden (its name could only have come from hidden content)."""
    return _threshold_result(meta_clusters, summaries, clustering)


PIPELINE_CHECKS = [
    every_conversation_has_a_summary,
    summary_error_rate_is_low,
    every_embedded_conversation_in_exactly_one_cluster,
    tree_is_valid,
    projections_are_finite,
    no_base_cluster_below_the_privacy_thresholds_is_named,
    no_tree_node_below_the_privacy_thresholds_is_named,
]
