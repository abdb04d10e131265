"""Run a function over Arrow tables in worker processes, results in input order.

The local summariser is pure Python, so one process uses one core however many the machine has. Workers
are spawned (not forked: a Dagster run process has threads, and a fork copies their locks mid-use) and each
chunk travels as an Arrow IPC stream: only the chunk's rows are sent, never the buffers of the whole table
a slice points into, which pickling a slice would copy.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pyarrow as pa


def to_ipc(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def from_ipc(buffer: pa.Buffer | bytes) -> pa.Table:
    return pa.ipc.open_stream(buffer).read_all()


def _call(function: Callable[..., pa.Table], payload: pa.Buffer, args: tuple[Any, ...]) -> pa.Buffer:
    return to_ipc(function(from_ipc(payload), *args))


def map_tables(
    function: Callable[..., pa.Table], chunks: Sequence[pa.Table], *args: Any, workers: int
) -> Iterator[pa.Table]:
    """`function(chunk, *args)` for each chunk in `workers` spawned processes, yielded in input order.

    `function` must be importable (module level) and `args` picklable. At most `workers` chunks are in
    flight beyond the one being yielded, so memory stays at a few chunks whatever the input size.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending = []
        next_chunk = 0
        try:
            while next_chunk < len(chunks) or pending:
                while next_chunk < len(chunks) and len(pending) < 2 * workers:
                    pending.append(pool.submit(_call, function, to_ipc(chunks[next_chunk]), args))
                    next_chunk += 1
                yield from_ipc(pending.pop(0).result())
        except BrokenProcessPool as error:
            raise RuntimeError(
                f"a worker process died while running {function.__name__} (out of memory, or killed); "
                "set KURA_WORKERS=1 to run in one process") from error
        finally:
            for future in pending:
                future.cancel()
