"""The DuckDB IO manager: one table per asset in schema `kura`, one (dataset, date) slice per partition.

Why not the stock `DuckDBPandasIOManager`: the pipeline moves Arrow tables (typed even when a day is
empty, list columns without pandas object dtypes, no row-by-row conversion), and the partitions of a step
are replaced in one transaction (DELETE then INSERT), so a re-run never duplicates rows and a failed write
leaves the previous rows in place. A writer that finds the file locked by another process waits.

A step may cover several partitions (a backfill run over a date range, see `BackfillPolicy` in
steps.py): inputs then hold the rows of all of them and outputs must, both with the partition columns
`dataset` and `date`, which the assets use to work partition by partition.
"""

from __future__ import annotations

import ctypes
import gc
import sys
from collections.abc import Iterable
from datetime import date as Date

import pyarrow as pa
from dagster import (
    ConfigurableIOManager,
    DagsterInvariantViolationError,
    InputContext,
    MultiPartitionKey,
    OutputContext,
)

from kura_dagster.core.settings import validate_dataset_name
from kura_dagster.core.storage.store import (
    SCHEMA,
    connect,
    read_partitions,
    with_partition_columns,
    write_partitions,
)


def partition_of(key: str | MultiPartitionKey) -> tuple[str, Date]:
    """(dataset, date) of a `dataset|date` multi-partition key, validated before it reaches SQL."""
    if isinstance(key, MultiPartitionKey):
        by_dimension = key.keys_by_dimension
    else:
        by_dimension = MultiPartitionKey.from_str(key).keys_by_dimension if "|" in key else {}
    if set(by_dimension) != {"dataset", "date"}:
        raise ValueError(f"expected a dataset|date partition key, got {key!r}")
    return validate_dataset_name(by_dimension["dataset"]), Date.fromisoformat(by_dimension["date"])


def partitions_of(keys: Iterable[str | MultiPartitionKey]) -> list[tuple[str, Date]]:
    """The (dataset, date) pairs of partition keys, sorted: a step's partitions in a stable order."""
    return sorted({partition_of(key) for key in keys})


_released_for: str | None = None  # the step that last gave memory back in this process
_frozen = False  # whether the objects alive at the first release were moved out of the collector's way


def release_freed_memory(step: str | None = None) -> None:
    """Give back to the system what earlier steps of this run freed, before a step loads its inputs.

    In one run process the steps follow each other: objects of a finished step that sit in reference
    cycles wait for a full collection, Arrow's allocator (mimalloc) keeps freed buffers for reuse, and
    glibc keeps freed heap pages. At a million conversations that was gigabytes no step used. Once per
    `step`: a step's second and third inputs would find nothing new to free.
    """
    global _released_for, _frozen
    if step is not None and step == _released_for:
        return
    _released_for = step
    gc.collect()
    if not _frozen:  # the first time: what survives (imported modules, Dagster's run machinery) stays
        gc.freeze()  # out of every later collection, ours and automatic; otherwise each walked it all again
        _frozen = True
    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:  # not glibc (musl): nothing to trim
            pass


def _step_of(context: InputContext) -> str | None:
    """The run and step loading this input; None outside a run (then memory is released every time)."""
    try:
        step_context = context.step_context
        return f"{step_context.run_id}/{step_context.step.key}"
    except DagsterInvariantViolationError:  # a context built by hand (build_input_context) has no step
        return None


class DuckDBPartitionIOManager(ConfigurableIOManager):
    """Stores each asset's Arrow table in `<database>` as `kura.<asset name>`, partition by partition."""

    database: str

    def handle_output(self, context: OutputContext, obj: pa.Table) -> None:
        if not isinstance(obj, pa.Table):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: expected a pyarrow.Table, got {type(obj).__name__}"
            )
        partitions = partitions_of(context.asset_partition_keys)
        if len(partitions) == 1 and "dataset" not in obj.column_names:
            obj = with_partition_columns(obj, *partitions[0])
        table_name = context.asset_key.path[-1]
        with connect(self.database) as connection:
            write_partitions(connection, table_name, obj, partitions)
        context.add_output_metadata({"table": f"{SCHEMA}.{table_name}", "database": self.database})

    def load_input(self, context: InputContext) -> pa.Table:
        release_freed_memory(_step_of(context))
        partitions = partitions_of(context.asset_partition_keys)
        table_name = (
            context.upstream_output.asset_key.path[-1]
            if context.upstream_output
            else context.asset_key.path[-1]
        )
        # `AssetIn(metadata={"columns": [...]})` reads only those columns, as dagster-duckdb's IO managers do.
        columns = (context.definition_metadata or {}).get("columns")
        with connect(self.database) as connection:
            return read_partitions(connection, table_name, partitions, columns)
