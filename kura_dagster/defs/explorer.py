"""The HTML explorer as an asset, downstream of the pipeline stages and the topic trends.

    summaries, meta_clusters, projections, topic_trends ─→ report  ($KURA_HOME/reports/<dataset>/<date>.html)

`topic_trends` is in `defs/topics.py` with the taxonomy it follows. The page is
`kura_dagster.core.views.explorer`.
"""

# No `from __future__ import annotations` here: Dagster inspects the real type hints of asset functions.

from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    MetadataValue,
    MultiPartitionsDefinition,
    RetryRequested,
)

from kura_dagster.core.privacy.thresholds import Thresholds
from kura_dagster.core.settings import Settings
from kura_dagster.core.views.explorer import InconsistentPartition, report_path, write_report
from kura_dagster.defs.io_manager import partitions_of, release_freed_memory
from kura_dagster.defs.partitions import partition_key
from kura_dagster.defs.resources import ClusteringResource, ExplorerResource
from kura_dagster.defs.steps import build_assets, pipeline_asset

REPORT_RETRIES, REPORT_RETRY_WAIT_S = 6, 10.0  # a minute for another run of the day to finish its steps


@pipeline_asset(code_version="1", deps=["summaries", "meta_clusters", "projections", "topic_trends"])
def report(
    context: AssetExecutionContext, explorer: ExplorerResource, clustering: ClusteringResource
) -> None:
    """The HTML explorer of each day: one offline file under $KURA_HOME/reports/<dataset>/<date>.html."""
    release_freed_memory()  # it loads no input through the IO manager, which does this for the other steps
    for dataset, day in partitions_of(context.partition_keys):
        path = report_path(Path(explorer.home), dataset, day.isoformat())
        try:
            result = write_report(
                explorer.database,
                dataset,
                day.isoformat(),
                path,
                include_messages=explorer.include_messages,
                allow_empty=True,
                # the page says which setting would show the groups the thresholds hide
                thresholds=Thresholds(clustering.min_cluster_size, clustering.min_cluster_users),
                window_days=explorer.trends_window_days,
            )
        except InconsistentPartition as error:
            # Another run of this partition is between two of its steps (the DuckDB pool lets runs take turns
            # step by step). Asking for a retry frees this step's pool slot, so that run can write its next
            # table; the page is written once the partition is one version again.
            if context.retry_number < REPORT_RETRIES:
                raise RetryRequested(
                    max_retries=REPORT_RETRIES, seconds_to_wait=REPORT_RETRY_WAIT_S
                ) from error
            # Still part-way after a minute: the other run is slow, and its own report step writes the page
            # when it is done. Never a mixed page: the one already there stays, and the metadata says why.
            context.log.warning(f"{error}; the page already there is left as it was")
            context.add_asset_metadata(
                {"not_rewritten": MetadataValue.text(str(error))},
                partition_key=partition_key(dataset, day.isoformat()),
            )
            continue
        context.add_asset_metadata(
            {
                "path": MetadataValue.path(str(result.path)),
                "url": MetadataValue.url(result.path.as_uri()),
                "size_mb": MetadataValue.float(round(result.bytes / 1e6, 3)),
                "conversations": MetadataValue.int(result.conversations),
                "clusters": MetadataValue.int(result.clusters),
                "has_trends": MetadataValue.bool(result.has_trends),
                "messages_included": MetadataValue.bool(explorer.include_messages),
            },
            partition_key=partition_key(dataset, day.isoformat()),
        )


EXPLORER_STAGES = [report]


def build_explorer_assets(
    settings: Settings, partitions_def: MultiPartitionsDefinition | None = None
) -> list[AssetsDefinition]:
    """report, partitioned like the stages (default: built from `settings`)."""
    return build_assets(EXPLORER_STAGES, settings, partitions_def)
