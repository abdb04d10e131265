"""What every asset of the pipeline shares: how it is declared and built from the settings, and how its step
works partition by partition.

Assets are declared at import (`@pipeline_asset`, the function and its own arguments) and built by
`build_assets(declarations, settings)`, which adds what depends on the settings: the (dataset, date)
partitions and the backfill policy. So importing the definitions reads no environment; `definitions.py`
builds them from one `Settings`.

Every step works one (dataset, date) partition at a time, but a run may cover several: a backfill runs a
dataset's date range in runs of up to KURA_PARTITIONS_PER_RUN days (the backfill policy), so imports, model
loading and UMAP's compilation are paid once per run instead of once per day. Inputs then hold the rows of
all the run's partitions; `each_partition` hands each stage its own day.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    MetadataValue,
    MultiPartitionsDefinition,
    asset,
    multi_asset,
)

from kura_dagster.core.settings import Settings
from kura_dagster.core.storage.store import partition_slice, with_partition_columns
from kura_dagster.defs.io_manager import partitions_of
from kura_dagster.defs.names import GROUP, POOL
from kura_dagster.defs.partitions import kura_partitions, partition_key

# `Output(data_version=...)` is marked beta in dagster 1.13; it is how `conversations` versions its data by the
# file's hash, so the warning would only repeat on every run.
warnings.filterwarnings("ignore", message="Parameter `data_version` of initializer `Output.__init__`")
# Likewise `backfill_policy` (beta): it is what lets one run cover a date range.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy` of function `asset`")


@dataclass(frozen=True)
class AssetDeclaration:
    """An asset function with its own `@asset` arguments (code version, inputs, deps)."""

    compute: Callable[..., Any]
    arguments: dict[str, Any] = field(default_factory=dict)
    multi: bool = False  # a `@multi_asset` (several tables from one step, each with its `AssetOut`)

    @property
    def name(self) -> str:
        return self.compute.__name__

    def build(
        self, partitions_def: MultiPartitionsDefinition, backfill_policy: BackfillPolicy
    ) -> AssetsDefinition:
        # Every asset writes the one DuckDB file: they share the pool that the instance limits to one step.
        decorator = multi_asset if self.multi else asset
        return decorator(
            partitions_def=partitions_def,
            backfill_policy=backfill_policy,
            group_name=GROUP,
            pool=POOL,
            **self.arguments,
        )(self.compute)


def pipeline_asset(**arguments: Any) -> Callable[[Callable[..., Any]], AssetDeclaration]:
    """Declare an asset of the pipeline; `build_assets` makes it with the settings' partitions."""
    return lambda compute: AssetDeclaration(compute, arguments)


def pipeline_multi_asset(**arguments: Any) -> Callable[[Callable[..., Any]], AssetDeclaration]:
    """Declare a multi-asset of the pipeline (`outs=...`), built like `pipeline_asset`."""
    return lambda compute: AssetDeclaration(compute, arguments, multi=True)


def build_assets(
    declarations: Sequence[AssetDeclaration],
    settings: Settings,
    partitions_def: MultiPartitionsDefinition | None = None,
) -> list[AssetsDefinition]:
    """The declared assets, partitioned by `partitions_def` (default: built from `settings`), with one backfill
    policy for all, so that a backfill puts the whole pipeline of a date range in one run."""
    partitions_def = partitions_def or kura_partitions(settings)
    policy = BackfillPolicy.multi_run(max_partitions_per_run=settings.partitions_per_run)
    return [declaration.build(partitions_def, policy) for declaration in declarations]


def each_partition(
    context: AssetExecutionContext, stage: Callable[..., pa.Table], **inputs: pa.Table
) -> pa.Table:
    """Call `stage(dataset, day, key, **inputs of that day)` for each partition of this run, in order;
    the results, with their partition columns, make the step's output."""
    results = []
    for dataset, day in partitions_of(context.partition_keys):
        day_inputs = {name: partition_slice(table, dataset, day) for name, table in inputs.items()}
        result = stage(dataset, day, partition_key(dataset, day.isoformat()), **day_inputs)
        results.append(with_partition_columns(result, dataset, day))
    return pa.concat_tables(results, promote_options="default")


def row_metadata(table: pa.Table, client=None, **extra) -> dict:
    """Row count, plus the LLM calls, tokens and dollars of this materialisation when the hosted path ran."""
    usage = client.usage.as_metadata() if client is not None else {}
    return {"dagster/row_count": MetadataValue.int(table.num_rows), **usage, **extra}
