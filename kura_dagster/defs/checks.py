"""Asset checks: blocking where a bad result must not flow downstream.

Each check evaluates every (dataset, date) partition its run materialised (one, or a backfill's date
range) and records one result per partition, so the UI shows which day failed; any failure blocks the
downstream steps of the run. The rules themselves are functions of `kura_dagster.core.validation` and
`kura_dagster.core.privacy.thresholds`. Checks are declared here and built from the settings
(`build_pipeline_checks`): their partitions, and a rule's `settings` argument when it has one.
"""

# No `from __future__ import annotations`: Dagster inspects the real type hint of `context`.

import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetChecksDefinition,
    AssetCheckSpec,
    AssetIn,
    AssetKey,
    MultiPartitionsDefinition,
    Output,
    multi_asset_check,
)

from kura_dagster.core.privacy.thresholds import Thresholds, threshold_problems
from kura_dagster.core.settings import Settings
from kura_dagster.core.storage import tables
from kura_dagster.core.storage.store import partition_slice
from kura_dagster.core.validation import (
    coverage_problems,
    hierarchy_problems,
    missing_and_extra,
    non_finite_points,
)
from kura_dagster.defs.io_manager import partitions_of
from kura_dagster.defs.partitions import kura_partitions, partition_key
from kura_dagster.defs.resources import ClusteringResource

# Partitioned asset checks are marked "preview" in dagster 1.13; they are what makes a check load the same
# (dataset, date) partitions as the asset it guards, so we use them and keep the warning out of every import.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")

Problems = tuple[list[str], dict]


@dataclass(frozen=True)
class CheckDeclaration:
    """A rule guarding `asset`, the other assets it reads and the resources it is given."""

    rule: Callable[..., Problems]
    asset: str
    also: tuple[str, ...]
    resources: tuple[str, ...]

    def build(self, partitions_def: MultiPartitionsDefinition, settings: Settings) -> AssetChecksDefinition:
        """The blocking check: it loads `asset` and the assets named in `also` for its run's partitions and
        yields one evaluation per partition; the resources named in `resources` are passed by name, and
        `settings` when the rule takes it. (Why evaluations rather than one `AssetCheckResult`: a result is
        recorded for the step's single partition key, and a run over a date range has none.)"""
        rule, asset_key, resources = self.rule, AssetKey(self.asset), self.resources
        name = rule.__name__
        inputs = (self.asset, *self.also)
        given_settings = {"settings": settings} if "settings" in inspect.signature(rule).parameters else {}
        spec = AssetCheckSpec(
            name,
            asset=asset_key,
            blocking=True,
            partitions_def=partitions_def,
            description=inspect.getdoc(rule),
            additional_deps=[AssetKey(n) for n in self.also],
        )

        @multi_asset_check(
            specs=[spec],
            name=name,
            ins={n: AssetIn(n) for n in inputs},
            can_subset=True,
            required_resource_keys=set(resources),
        )
        def check(context: AssetCheckExecutionContext, **loaded: pa.Table):
            given = {key: getattr(context.resources, key) for key in resources}
            for dataset, day in partitions_of(context.partition_keys):
                problems, metadata = rule(
                    **{n: partition_slice(loaded[n], dataset, day) for n in inputs}, **given, **given_settings
                )
                yield AssetCheckEvaluation(
                    asset_key=asset_key,
                    check_name=name,
                    passed=not problems,
                    blocking=True,
                    partition=partition_key(dataset, day.isoformat()),
                    metadata={"problems": "\n".join(problems) or "none", **metadata},
                )
            # The check's output (never stored) tells the executor the check ran; without it Dagster warns
            # that downstream steps proceed ungated. A failed evaluation fails this step, which is what
            # stops the steps downstream.
            yield Output(None, output_name=spec.get_python_identifier())

        return check


def partition_check(
    asset: str, *also: str, resources: tuple[str, ...] = ()
) -> Callable[[Callable[..., Problems]], CheckDeclaration]:
    """Declare `rule(**one partition's tables, **resources[, settings]) -> (problems, metadata)` a blocking
    check of `asset`, reading the assets named in `also` too."""
    return lambda rule: CheckDeclaration(rule, asset, also, resources)


@partition_check("summaries", "conversations")
def every_conversation_has_a_summary(summaries: pa.Table, conversations: pa.Table) -> Problems:
    """One summary row per conversation: failures keep a row with `error`, they are never dropped."""
    missing, extra = missing_and_extra(
        conversations.column("chat_id").to_pylist() if conversations.num_rows else [],
        summaries.column("chat_id").to_pylist() if summaries.num_rows else [],
    )
    problems = (
        [f"{len(missing)} conversations without a summary (first: {missing[0]})"] if missing else []
    ) + ([f"{len(extra)} summaries of unknown conversations (first: {extra[0]})"] if extra else [])
    return problems, {"conversations": conversations.num_rows, "summaries": summaries.num_rows}


@partition_check("summaries")
def summary_error_rate_is_low(summaries: pa.Table, settings: Settings) -> Problems:
    """Share of conversations whose summary failed stays under KURA_MAX_SUMMARY_ERROR_RATE."""
    threshold = settings.max_summary_error_rate
    errors = (
        summaries.num_rows - pc.sum(pc.is_null(summaries.column("error"))).as_py()
        if summaries.num_rows
        else 0
    )
    rate = errors / summaries.num_rows if summaries.num_rows else 0.0
    problems = [f"{rate:.1%} of summaries failed (threshold {threshold:.1%})"] if rate > threshold else []
    return problems, {"error_rate": rate, "threshold": threshold}


@partition_check("base_clusters", "embeddings")
def every_embedded_conversation_in_exactly_one_cluster(
    base_clusters: pa.Table, embeddings: pa.Table
) -> Problems:
    """Base clusters cover every embedded conversation exactly once."""
    chat_ids = embeddings.column("chat_id").to_pylist() if embeddings.num_rows else []
    return coverage_problems(chat_ids, tables.clusters_from_arrow(base_clusters)), {
        "clusters": base_clusters.num_rows
    }


@partition_check("meta_clusters", "base_clusters")
def tree_is_valid(meta_clusters: pa.Table, base_clusters: pa.Table) -> Problems:
    """One parent each, no cycles, no single-child chains, counts add up, leaves are the base clusters."""
    problems = hierarchy_problems(
        tables.clusters_from_arrow(meta_clusters), tables.clusters_from_arrow(base_clusters)
    )
    return problems, {"nodes": meta_clusters.num_rows}


@partition_check("projections")
def projections_are_finite(projections: pa.Table) -> Problems:
    """Every projected tree node has finite x and y."""
    if not projections.num_rows:
        return [], {"points": 0}
    bad = non_finite_points(projections.column("x").to_pylist(), projections.column("y").to_pylist())
    return ([f"{bad} nodes with non-finite coordinates"] if bad else []), {"points": projections.num_rows}


def _threshold_problems(clusters: pa.Table, summaries: pa.Table, clustering: ClusteringResource) -> Problems:
    thresholds = Thresholds(
        min_conversations=clustering.min_cluster_size, min_users=clustering.min_cluster_users
    )
    nodes = tables.clusters_from_arrow(clusters)
    problems = threshold_problems(nodes, tables.user_ids_from_arrow(summaries), thresholds)
    return problems, {
        "clusters": len(nodes),
        "min_cluster_size": thresholds.min_conversations,
        "min_cluster_users": thresholds.min_users,
    }


@partition_check("base_clusters", "summaries", resources=("clustering",))
def no_base_cluster_below_the_privacy_thresholds_is_named(
    base_clusters: pa.Table, summaries: pa.Table, clustering: ClusteringResource
) -> Problems:
    """No cluster below KURA_MIN_CLUSTER_SIZE / KURA_MIN_CLUSTER_USERS is shown by name."""
    return _threshold_problems(base_clusters, summaries, clustering)


@partition_check("meta_clusters", "summaries", resources=("clustering",))
def no_tree_node_below_the_privacy_thresholds_is_named(
    meta_clusters: pa.Table, summaries: pa.Table, clustering: ClusteringResource
) -> Problems:
    """No node below KURA_MIN_CLUSTER_SIZE / KURA_MIN_CLUSTER_USERS is shown by name, and no parent is named
    when every leaf below it is hidden (its name could only have come from hidden content)."""
    return _threshold_problems(meta_clusters, summaries, clustering)


CHECKS = [
    every_conversation_has_a_summary,
    summary_error_rate_is_low,
    every_embedded_conversation_in_exactly_one_cluster,
    tree_is_valid,
    projections_are_finite,
    no_base_cluster_below_the_privacy_thresholds_is_named,
    no_tree_node_below_the_privacy_thresholds_is_named,
]


def build_pipeline_checks(
    settings: Settings, partitions_def: MultiPartitionsDefinition | None = None
) -> list[AssetChecksDefinition]:
    """Every check, partitioned like the assets (default: built from `settings`)."""
    partitions_def = partitions_def or kura_partitions(settings)
    return [check.build(partitions_def, settings) for check in CHECKS]
