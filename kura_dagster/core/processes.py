"""Run a function over chunks of work in worker processes, results in input order.

The local summariser and the landing-zone parser are pure Python, so one process uses one core however
many the machine has. Workers are spawned (not forked: a Dagster run process has threads, and a fork copies
their locks mid-use). A slice of an Arrow table is sent with `to_ipc`, which writes only the slice's rows:
pickling a slice would copy the buffers of the whole table it points into.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import pyarrow as pa

Result = TypeVar("Result")
_DONE = object()


def to_ipc(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def from_ipc(buffer: pa.Buffer | bytes) -> pa.Table:
    return pa.ipc.open_stream(buffer).read_all()


def map_in_processes(
    function: Callable[..., Result], items: Iterable[Any], *args: Any, workers: int
) -> Iterator[Result]:
    """`function(item, *args)` for each item in `workers` spawned processes, yielded in input order.

    `function` must be importable (module level), items, `args` and results picklable. Items are taken
    from `items` only as workers free up (at most twice `workers` in flight), so a generator of chunks
    keeps memory at a few chunks whatever the input size.
    """
    context = multiprocessing.get_context("spawn")
    remaining = iter(items)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending = []
        try:
            while True:
                while len(pending) < 2 * workers and (item := next(remaining, _DONE)) is not _DONE:
                    pending.append(pool.submit(function, item, *args))
                if not pending:
                    return
                yield pending.pop(0).result()
        except BrokenProcessPool as error:
            raise RuntimeError(
                f"a worker process died while running {function.__name__} (out of memory, or killed); "
                "set KURA_WORKERS=1 to run in one process"
            ) from error
        finally:
            for future in pending:
                future.cancel()
