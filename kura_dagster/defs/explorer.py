"""Topics over time and the HTML explorer as assets, downstream of the six pipeline stages.

    embeddings, meta_clusters ─→ topic_trends ─┐
    summaries, meta_clusters, projections ─────┴→ report  ($KURA_HOME/reports/<dataset>/<date>.html)

`topic_trends` of a day needs the embeddings of the days before it too. They are read from the DuckDB
store rather than through a partition mapping: a mapping to other days would make Dagster's backfill put
`topic_trends` in later runs than the stages (it will not plan a step before all of its mapped parents), so a
date range would no longer be one run (the backfill policy). Within a run, the input holds the run's own days;
earlier days come from the store, as materialised when the run starts. The algorithm is
`kura_dagster.core.stages.topic_trends`; the page is `kura_dagster.core.views.explorer`.
"""

# No `from __future__ import annotations` here: Dagster inspects the real type hints of asset functions.

from datetime import date as Date
from pathlib import Path

import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    MetadataValue,
    MultiPartitionsDefinition,
    RetryRequested,
)

from kura_dagster.core.settings import Settings
from kura_dagster.core.stages.topic_trends import (  # the per-day method, until this asset is rewired
    ReferenceTrendOptions as TrendOptions,
)
from kura_dagster.core.stages.topic_trends import (
    compute_reference_trends as compute_topic_trends,
)
from kura_dagster.core.stages.topic_trends import (
    daily_embeddings_from_arrow,
)
from kura_dagster.core.storage import tables
from kura_dagster.core.views.explorer import InconsistentPartition, report_path, write_report
from kura_dagster.defs.io_manager import partitions_of, release_freed_memory
from kura_dagster.defs.partitions import partition_key
from kura_dagster.defs.resources import ExplorerResource
from kura_dagster.defs.steps import build_assets, each_partition, pipeline_asset, row_metadata


def _status_list(table: pa.Table, status: str) -> str:
    names = sorted({row["topic"] for row in table.to_pylist() if row["status"] == status})
    return ", ".join(names) or "none"


@pipeline_asset(code_version="1")
def topic_trends(
    context: AssetExecutionContext, meta_clusters: pa.Table, embeddings: pa.Table, explorer: ExplorerResource
) -> pa.Table:
    """Daily volume and share of this day's topics (roots and the level below) over the last
    KURA_TRENDS_WINDOW_DAYS days, each day's conversations assigned by nearest centroid in embedding space;
    emerging and fading topics flagged."""
    options = TrendOptions(window_days=explorer.trends_window_days)
    run_days: dict[str, set[Date]] = {}
    for dataset, day in partitions_of(context.partition_keys):
        run_days.setdefault(dataset, set()).add(day)

    def trends_day(dataset: str, day: Date, key: str, meta_clusters: pa.Table) -> pa.Table:
        window = explorer.window_embeddings(dataset, day, embeddings, run_days[dataset])
        daily = daily_embeddings_from_arrow(window)
        table = compute_topic_trends(tables.clusters_from_arrow(meta_clusters), daily, day, options)
        context.add_asset_metadata(
            row_metadata(
                table,
                window_days=MetadataValue.int(options.window_days),
                days_with_conversations=MetadataValue.int(sum(1 for ids, _ in daily.values() if len(ids))),
                emerging=_status_list(table, "emerging"),
                fading=_status_list(table, "fading"),
            ),
            partition_key=key,
        )
        return table

    return each_partition(context, trends_day, meta_clusters=meta_clusters)


REPORT_RETRIES, REPORT_RETRY_WAIT_S = 6, 10.0  # a minute for another run of the day to finish its steps


@pipeline_asset(code_version="1", deps=["summaries", "meta_clusters", "projections", "topic_trends"])
def report(context: AssetExecutionContext, explorer: ExplorerResource) -> None:
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


EXPLORER_STAGES = [topic_trends, report]


def build_explorer_assets(
    settings: Settings, partitions_def: MultiPartitionsDefinition | None = None
) -> list[AssetsDefinition]:
    """topic_trends and report, partitioned like the stages (default: built from `settings`)."""
    return build_assets(EXPLORER_STAGES, settings, partitions_def)
