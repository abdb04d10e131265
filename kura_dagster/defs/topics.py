"""Topics that last: the taxonomy of each dataset rebuilt daily over a window, each day assigned to it, and
the trends of its topics, as assets partitioned (dataset, date) like the stages.

    summaries, embeddings ─→ taxonomy + topic_lineage ─→ topic_assignments ─→ topic_trends ─→ report
                  embeddings ───────────────────────────────────────────↗

`taxonomy` of a day clusters the conversations of the KURA_TAXONOMY_WINDOW_DAYS days ending on it, read
from the stored `summaries` and `embeddings` (nothing is summarised or embedded again), and matches its
topics to the previous version (the latest one before that day) so that a topic keeps its id; the one step
writes two tables, `taxonomy` and `topic_lineage`. `topic_assignments` gives each conversation of the day
the nearest leaf of the day's version; `topic_trends` judges each topic on the days up to it, the window's
conversations counted under the day's version.

Why the earlier days are read from the store and not through a partition mapping (nor a self-dependency of
`taxonomy` on its previous day): measured with dagster 1.13.27's asset backfills, a self-dependent asset gets
runs of its own, one or two days each, never with the stages; as a multi-asset its backfill stalled after
its first day ("no materialization status despite all runs being complete"), and as a single asset two of
its days ran in parallel runs out of date order. So these assets sit in the stages' runs (one run per date
range, the backfill policy), a step works its days in date order, each day's version is the next day's
previous one in memory, and the version before the run's first day comes from the store. Runs of a dataset's
successive ranges start one after the other in date order, whether `kura-dagster run` launches them
(launch/backfills.py) or the `make dev` daemon's queue does for a backfill from the UI (one run per dataset at
a time, oldest queued first: launch/run_queue.py), so the versions of a backfill are built in date order.
"""

# No `from __future__ import annotations` here: Dagster inspects the real type hints of asset functions.

from collections import Counter
from datetime import date as Date

import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetOut,
    AssetsDefinition,
    MetadataValue,
    MultiPartitionsDefinition,
    Output,
)

from kura_dagster.core.settings import Settings
from kura_dagster.core.stages.taxonomy import Taxonomy, TaxonomyOptions, build_taxonomy, window_days
from kura_dagster.core.stages.topic_assignments import assign_to_taxonomy
from kura_dagster.core.stages.topic_novelty import RecentConcentration
from kura_dagster.core.stages.topic_trends import (
    compute_topic_trends,
    counts_of,
    daily_embeddings_from_arrow,
    leaves_under,
)
from kura_dagster.core.storage import tables
from kura_dagster.core.storage.store import partition_slice, with_partition_columns
from kura_dagster.core.views.topic_view import lineage_markdown, taxonomy_markdown
from kura_dagster.defs.assets import CLUSTERING_COLUMNS, _clusterable
from kura_dagster.defs.io_manager import partitions_of
from kura_dagster.defs.partitions import partition_key
from kura_dagster.defs.resources import ClusteringResource, KuraLLMResource, TopicsResource
from kura_dagster.defs.steps import build_assets, pipeline_asset, pipeline_multi_asset, row_metadata


def _run_days(context: AssetExecutionContext) -> dict[str, set[Date]]:
    days: dict[str, set[Date]] = {}
    for dataset, day in partitions_of(context.partition_keys):
        days.setdefault(dataset, set()).add(day)
    return days


def _concat(tables_: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables_, promote_options="default")


@pipeline_multi_asset(
    outs={
        "taxonomy": AssetOut(
            code_version="1",
            description="Every topic of the version built on this day over the window ending on it: stable "
            "topic_id, parent_id, level, name, description, count, hidden, centroid, radius, chat_ids.",
        ),
        "topic_lineage": AssetOut(
            code_version="1",
            description="What happened to each topic in this version: born, kept, renamed, split (from "
            "related_id), merged (into related_id), died.",
        ),
    },
    ins={"summaries": AssetIn(metadata={"columns": CLUSTERING_COLUMNS}), "embeddings": AssetIn()},
)
def taxonomy(
    context: AssetExecutionContext,
    summaries: pa.Table,
    embeddings: pa.Table,
    clustering: ClusteringResource,
    llm: KuraLLMResource,
    topics: TopicsResource,
):
    """The taxonomy of the window of KURA_TAXONOMY_WINDOW_DAYS days ending on each day, topics matched to the
    previous version's so that they keep their ids; its lineage events alongside."""
    run_days = _run_days(context)
    built: dict[str, Taxonomy] = {}  # the latest version of each dataset in this run: the next day's previous
    used_ids: dict[str, set[str]] = {}  # every id a dataset used (stored, and in this run): never given twice
    taxonomies, lineages = [], []
    for dataset, day in partitions_of(context.partition_keys):
        days = window_days(day, topics.window_days)
        window_summaries = topics.window_rows(
            "summaries", dataset, days, summaries, run_days[dataset], CLUSTERING_COLUMNS
        )
        window_embeddings = topics.window_rows("embeddings", dataset, days, embeddings, run_days[dataset])
        summary_objects, vectors = _clusterable(window_summaries, window_embeddings)
        previous = built.get(dataset) or topics.previous_taxonomy(dataset, day)
        used = used_ids.setdefault(dataset, topics.used_ids(dataset, day))
        with llm.open_client() as client:
            privacy = clustering.get_privacy_guard(client)
            version = build_taxonomy(
                summary_objects,
                vectors,
                version=day,
                window_start=days[0],
                previous=previous,
                clustering_method=clustering.get_clustering_method(),
                namer=clustering.get_namer(client),
                meta_model=clustering.get_meta_model(client),  # build_taxonomy applies the privacy guard
                privacy=privacy,
                options=TaxonomyOptions(
                    window_days=topics.window_days,
                    sample_size=topics.sample_size,
                    random_state=clustering.seed,
                    lexical_weight=clustering.lexical_weight,
                    manifold=clustering.manifold == "umap",
                ),
                retired_ids=sorted(used),
            )
            used |= version.known_ids()
            if version.topics:  # a window without conversations leaves the previous version in force
                built[dataset] = version
            taxonomy_table = tables.taxonomy_to_arrow(version)
            lineage_table = tables.lineage_to_arrow(version)
            events = Counter(event.event for event in version.lineage)
            was = {t.topic_id: t.name for t in previous.topics if not t.hidden} if previous else {}
            context.add_asset_metadata(
                row_metadata(
                    taxonomy_table,
                    client,
                    window_start=days[0].isoformat(),
                    window_conversations=MetadataValue.int(len(summary_objects)),
                    previous_version=previous.version.isoformat() if previous is not None else "none",
                    tree=MetadataValue.md(taxonomy_markdown(taxonomy_table, lineage_table, was)),
                    lineage=MetadataValue.md(lineage_markdown(taxonomy_table, lineage_table, was)),
                    **{f"topics_{name}": MetadataValue.int(n) for name, n in sorted(events.items())},
                ),
                asset_key="taxonomy",
                partition_key=partition_key(dataset, day.isoformat()),
            )
            context.add_asset_metadata(
                row_metadata(
                    lineage_table, **{name: MetadataValue.int(n) for name, n in sorted(events.items())}
                ),
                asset_key="topic_lineage",
                partition_key=partition_key(dataset, day.isoformat()),
            )
        taxonomies.append(with_partition_columns(taxonomy_table, dataset, day))
        lineages.append(with_partition_columns(lineage_table, dataset, day))
    return (
        Output(_concat(taxonomies), output_name="taxonomy"),
        Output(_concat(lineages), output_name="topic_lineage"),
    )


@pipeline_asset(code_version="1", ins={"taxonomy": AssetIn(), "embeddings": AssetIn()})
def topic_assignments(
    context: AssetExecutionContext, taxonomy: pa.Table, embeddings: pa.Table, topics: TopicsResource
) -> pa.Table:
    """Each conversation of the day with the nearest leaf of the latest taxonomy on or before it, or
    `unassigned` when further from it than the topic's own members."""
    results = []
    for dataset, day in partitions_of(context.partition_keys):
        own = partition_slice(taxonomy, dataset, day)
        version = (
            tables.taxonomy_from_arrow(own) if own.num_rows else topics.previous_taxonomy(dataset, day, True)
        )
        chat_ids, vectors = tables.embeddings_from_arrow(partition_slice(embeddings, dataset, day))
        table = (
            assign_to_taxonomy(chat_ids, vectors, version)
            if version is not None
            else topics.no_taxonomy_assignments(chat_ids)
        )
        by_topic = Counter(table.column("topic_id").to_pylist())
        context.add_asset_metadata(
            row_metadata(
                table,
                taxonomy_version=version.version.isoformat() if version is not None else "none",
                unassigned=MetadataValue.int(by_topic.get("unassigned", 0)),
                topics_used=MetadataValue.int(len(set(by_topic) - {"unassigned"})),
            ),
            partition_key=partition_key(dataset, day.isoformat()),
        )
        results.append(with_partition_columns(table, dataset, day))
    return _concat(results)


def _status_list(table: pa.Table, status: str) -> str:
    names = sorted({row["name"] or row["topic_id"] for row in table.to_pylist() if row["status"] == status})
    return ", ".join(names) or "none"


@pipeline_asset(
    code_version="3",
    ins={"taxonomy": AssetIn(), "topic_lineage": AssetIn(), "embeddings": AssetIn()},
    # Its series are the window's conversations under the day's version (below), not the stored
    # assignments: the dependency says that it comes after the day's assignments, in the graph and in a run.
    deps=["topic_assignments"],
)
def topic_trends(
    context: AssetExecutionContext,
    taxonomy: pa.Table,
    topic_lineage: pa.Table,
    embeddings: pa.Table,
    topics: TopicsResource,
) -> pa.Table:
    """Each topic of the taxonomy (every level) and `unassigned` on this day: conversations, share and status
    (new, emerging, steady, fading, gone, insufficient) judged from the days up to it."""
    run_days = _run_days(context)
    results = []
    for dataset, day in partitions_of(context.partition_keys):
        own = partition_slice(taxonomy, dataset, day)
        version = (
            tables.taxonomy_from_arrow(own) if own.num_rows else topics.previous_taxonomy(dataset, day, True)
        )
        if version is None:
            table = topics.empty_trends()
        else:
            days = window_days(day, topics.trends_window_days)
            window = topics.window_rows("embeddings", dataset, days, embeddings, run_days[dataset])
            # Every day of the window under the day's version: a topic's series does not change because the
            # taxonomy was rebuilt while its content did not (tax-trends measured fewer false flags so,
            # bench/results/trends.md); the day itself gets exactly its `topic_assignments`.
            daily = daily_embeddings_from_arrow(window)
            leaves = leaves_under(version, daily)
            options = topics.trend_options()
            # a growing leaf whose recent conversations sit together holds something new (topic_novelty)
            concentration = RecentConcentration(daily, leaves, day, options.recent_days)
            history = topics.trend_history(dataset, day, topic_lineage, taxonomy, run_days[dataset])
            table = compute_topic_trends(day, counts_of(leaves), version, history, options, concentration)
        context.add_asset_metadata(
            row_metadata(
                table,
                taxonomy_version=version.version.isoformat() if version is not None else "none",
                **{status: _status_list(table, status) for status in ("new", "emerging", "fading", "gone")},
            ),
            partition_key=partition_key(dataset, day.isoformat()),
        )
        results.append(with_partition_columns(table, dataset, day))
    return _concat(results)


TOPIC_STAGES = [taxonomy, topic_assignments, topic_trends]


def build_topic_assets(
    settings: Settings, partitions_def: MultiPartitionsDefinition | None = None
) -> list[AssetsDefinition]:
    """taxonomy (+ topic_lineage), topic_assignments and topic_trends, partitioned like the stages."""
    return build_assets(TOPIC_STAGES, settings, partitions_def)
