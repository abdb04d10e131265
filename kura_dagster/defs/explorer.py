"""Topics over time and the HTML explorer as assets, downstream of the six pipeline stages.

    embeddings (the last KURA_TRENDS_WINDOW_DAYS days) ─┐
    meta_clusters ──────────────────────────────────────┴→ topic_trends ─┐
    summaries, meta_clusters, projections ───────────────────────────────┴→ report  ($KURA_HOME/reports/…)

`topic_trends` reads a window of days of `embeddings` through a partition mapping (same dataset, the
date and the days before it), so Dagster knows the dependency: the trends of a day go stale when an
earlier day of its window is re-materialised. The algorithm is `kura_dagster.core.trends`; the page is
`kura_dagster.core.report`.
"""

# No `from __future__ import annotations` here: Dagster inspects the real type hints of asset functions.

import warnings
from datetime import date as Date
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from dagster import (
    AssetExecutionContext,
    AssetIn,
    ConfigurableResource,
    DimensionPartitionMapping,
    IdentityPartitionMapping,
    MetadataValue,
    MultiPartitionMapping,
    TimeWindowPartitionMapping,
    asset,
)

from kura_dagster.core import tables
from kura_dagster.core.report import report_path, write_report
from kura_dagster.core.settings import Settings
from kura_dagster.core.trends import TrendOptions, compute_topic_trends, daily_embeddings_from_arrow
from kura_dagster.defs.assets import COMMON, _each_partition, _rows, meta_clusters, projections, summaries

# The window is a partition mapping, and both mappings it needs are marked beta in dagster 1.13.
warnings.filterwarnings("ignore", message="Class `MultiPartitionMapping` is currently in beta")
warnings.filterwarnings("ignore", message="Parameter `allow_nonexistent_upstream_partitions`")

# Read when the definitions load: the window shapes the dependency graph, so changing it is a code change.
TRENDS_WINDOW_DAYS = Settings.from_env().trends_window_days

# The same dataset; on the date dimension, the day and the (window - 1) days before it. Days before the first
# date partition do not exist, and are simply not read.
TRENDS_WINDOW = MultiPartitionMapping({
    "dataset": DimensionPartitionMapping("dataset", IdentityPartitionMapping()),
    "date": DimensionPartitionMapping("date", TimeWindowPartitionMapping(
        start_offset=-(TRENDS_WINDOW_DAYS - 1), end_offset=0, allow_nonexistent_upstream_partitions=True)),
})


class ExplorerResource(ConfigurableResource):
    """Where the explorer reads the tables and writes its pages, and whether pages carry raw messages."""

    database: str
    home: str
    include_messages: bool = False


def _window_of(embeddings: pa.Table, dataset: str, day: Date) -> pa.Table:
    """The embeddings of `dataset` over the window that ends on `day` (the input may span more days)."""
    if embeddings.num_rows == 0:
        return embeddings
    first = pa.scalar(day - timedelta(days=TRENDS_WINDOW_DAYS - 1), pa.date32())
    dates = embeddings.column("date")
    mask = pc.and_(pc.equal(embeddings.column("dataset"), dataset),
                   pc.and_(pc.greater_equal(dates, first), pc.less_equal(dates, pa.scalar(day, pa.date32()))))
    return embeddings.filter(mask)


def _status_list(table: pa.Table, status: str) -> str:
    names = sorted({row["topic"] for row in table.to_pylist() if row["status"] == status})
    return ", ".join(names) or "none"


@asset(code_version="1", ins={"embeddings": AssetIn(partition_mapping=TRENDS_WINDOW)}, **COMMON)
def topic_trends(context: AssetExecutionContext, meta_clusters: pa.Table, embeddings: pa.Table) -> pa.Table:
    """Daily volume and share of this day's top-level topics over the last KURA_TRENDS_WINDOW_DAYS days, each
    day's conversations assigned by nearest centroid in embedding space; emerging and fading topics flagged."""
    options = TrendOptions(window_days=TRENDS_WINDOW_DAYS)

    def trends_day(dataset: str, day: Date, key: str, meta_clusters: pa.Table) -> pa.Table:
        daily = daily_embeddings_from_arrow(_window_of(embeddings, dataset, day))
        table = compute_topic_trends(tables.clusters_from_arrow(meta_clusters), daily, day, options)
        context.add_asset_metadata(_rows(
            table, window_days=MetadataValue.int(options.window_days),
            days_with_conversations=MetadataValue.int(sum(1 for ids, _ in daily.values() if len(ids))),
            emerging=_status_list(table, "emerging"), fading=_status_list(table, "fading"),
        ), partition_key=key)
        return table

    return _each_partition(context, trends_day, meta_clusters=meta_clusters)


@asset(code_version="1", deps=[summaries, meta_clusters, projections, topic_trends], **COMMON)
def report(context: AssetExecutionContext, explorer: ExplorerResource) -> None:
    """The HTML explorer of each day: one offline file under $KURA_HOME/reports/<dataset>/<date>.html."""
    from kura_dagster.defs.io_manager import partitions_of
    from kura_dagster.defs.partitions import partition_key

    for dataset, day in partitions_of(context.partition_keys):
        path = report_path(Path(explorer.home), dataset, day.isoformat())
        result = write_report(explorer.database, dataset, day.isoformat(), path,
                              include_messages=explorer.include_messages, allow_empty=True)
        context.add_asset_metadata({
            "path": MetadataValue.path(str(result.path)),
            "url": MetadataValue.url(result.path.as_uri()),
            "size_mb": MetadataValue.float(round(result.bytes / 1e6, 3)),
            "conversations": MetadataValue.int(result.conversations),
            "clusters": MetadataValue.int(result.clusters),
            "has_trends": MetadataValue.bool(result.has_trends),
            "messages_included": MetadataValue.bool(explorer.include_messages),
        }, partition_key=partition_key(dataset, day.isoformat()))


EXPLORER_ASSETS = [topic_trends, report]
