"""Tables: CSV, Parquet and Hugging Face `datasets`, in two layouts chosen from the columns.

- One row per conversation: a messages column (`messages`, `conversations` or `--columns messages=...`)
  holding a list of {role, content} / {from, value} (native nested values, or JSON text in CSV); optional
  chat_id, created_at and metadata (a JSON object) columns; every other column becomes metadata.
  A record is a row.
- One row per message: role and content columns plus a chat_id column; rows are grouped into conversations
  by chat_id (in order of first appearance; messages in file order, or by `--columns order=...`), the
  conversation's time is its earliest message time, and columns whose value is the same on every row of
  a conversation become its metadata. A record is a conversation (numbered by its first row); a row
  without a chat_id is a record of its own, rejected. A bad row rejects its whole conversation.

CSV is streamed row by row, Parquet batch by batch (row groups); Hugging Face data files are streamed
(`streaming=True`), a `save_to_disk` folder is memory-mapped. Row numbers count data rows from 1.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from kura_dagster.core.ingest.connectors.common import (
    COLUMN_KEYS,
    DEFAULT_COLUMNS,
    Context,
    as_text,
    content_text,
    parse_time,
    role_of,
)
from kura_dagster.core.ingest.connectors.documents import Item
from kura_dagster.core.ingest.connectors.messages import finish, row_record
from kura_dagster.core.ingest.records import Invalid, raw_of

Rows = Iterable[tuple[int, dict[str, Any]]]
Converter = Callable[[Any], dict[str, Any]]
HF_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
HF_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv", ".arrow": "arrow"}


def _resolve(names: list[str], options_columns: dict[str, str]) -> dict[str, str]:
    unknown = {key: column for key, column in options_columns.items() if column not in names}
    if unknown:
        missing = ", ".join(f"{key}={column}" for key, column in unknown.items())
        raise ValueError(f"--columns {missing}: no such column (columns: {', '.join(names)})")
    # Explicit columns win: a column named for one key is never guessed for another (a CSV whose chat id
    # column is called `conversation` is not read as a messages column).
    resolved = {key: column for key, column in options_columns.items() if column}
    taken = set(resolved.values())
    for key in COLUMN_KEYS:
        if key in resolved:
            continue
        column = next((name for name in DEFAULT_COLUMNS[key] if name in names and name not in taken), None)
        if column is not None:
            resolved[key] = column
            taken.add(column)
    return {key: resolved[key] for key in COLUMN_KEYS if key in resolved}


def _id_text(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (str, int, bytes)):
        raise ValueError(f"{name}: expected text or an integer, got {type(value).__name__}")
    return str(value) if isinstance(value, int) else as_text(value, name)


def table_items(names: list[str], rows: Rows, ctx: Context, prefix: str) -> tuple[Iterator[Item], Converter]:
    """The records of a table and the function that turns one into a Kura-shaped dict."""
    explicit = dict(ctx.options.columns)
    columns = _resolve(names, explicit)
    # One row per message when --columns names role or content and not messages, whatever column is named
    # like a messages column.
    per_message = "messages" not in explicit and ("role" in explicit or "content" in explicit)
    if ctx.options.row_function is not None or ("messages" in columns and not per_message):
        items = ((number, row.raw if isinstance(row, Invalid) else raw_of(row), row) for number, row in rows)
        return items, lambda row: row_record(row, ctx, prefix, columns)
    if "role" in columns and "content" in columns:
        if "chat_id" not in columns:
            raise ValueError("one row per message needs a chat_id column (--columns chat_id=...)")
        return _grouped(rows, columns), lambda group: _conversation_from_rows(group, columns, ctx, prefix)
    raise ValueError(
        f"no messages column and no role/content columns (columns: {', '.join(names)}); "
        f"pass --columns messages=... or --columns chat_id=...,role=...,content=..."
    )


def _grouped(rows: Rows, columns: dict[str, str]) -> Iterator[Item]:
    groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for number, row in rows:
        if isinstance(row, Invalid):
            yield number, row.raw, row
            continue
        try:
            chat_id = _id_text(row.get(columns["chat_id"]), columns["chat_id"])
        except ValueError as error:
            yield number, raw_of(row), Invalid(str(error))
            continue
        if chat_id is None:
            yield (
                number,
                raw_of(row),
                Invalid(f"{columns['chat_id']}: missing (a message row needs its conversation)"),
            )
            continue
        groups.setdefault(chat_id, []).append((number, row))
    for chat_id, group in groups.items():
        yield group[0][0], raw_of([row for _, row in group]), (chat_id, group)


def _order_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return 0, value
    try:
        return 0, float(value)
    except (TypeError, ValueError):
        return 1, str(value)


def _conversation_from_rows(
    group: tuple[str, list[tuple[int, dict[str, Any]]]], columns: dict[str, str], ctx: Context, prefix: str
) -> dict[str, Any]:
    chat_id, rows = group
    if "order" in columns:
        rows = sorted(rows, key=lambda item: _order_key(item[1].get(columns["order"])))
    messages = []
    for number, row in rows:
        where = f"row {number}"
        role = role_of(row.get(columns["role"]), f"{where}: {columns['role']}")
        text = content_text(row.get(columns["content"]), f"{where}: {columns['content']}")
        if not text.strip():
            continue
        message: dict[str, Any] = {"role": role, "content": text}
        if "created_at" in columns and row.get(columns["created_at"]) not in (None, ""):
            message["created_at"] = parse_time(
                row[columns["created_at"]], f"{where}: {columns['created_at']}"
            )
        messages.append(message)
    if not messages:
        raise ValueError("messages: conversation has no messages")
    metadata: dict[str, Any] = {}
    if "metadata" in columns:
        for _, row in rows:
            value = row.get(columns["metadata"])
            if isinstance(value, str) and value.strip():
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{columns['metadata']}: malformed JSON: {error.msg}") from None
            if isinstance(value, dict):
                metadata.update(value)
                break
    skip = set(columns.values())
    first = rows[0][1]
    for key, value in first.items():
        if key not in skip and value not in (None, "") and all(row.get(key) == value for _, row in rows[1:]):
            metadata.setdefault(str(key), value)
    record = {"chat_id": chat_id, "messages": messages, "metadata": metadata}
    return finish(record, {"chat_id": chat_id, "rows": [row for _, row in rows]}, ctx, prefix)


def csv_rows(path: Path) -> tuple[list[str], Rows]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # giant messages are cut later, not refused here
    handle = path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="")
    sample = handle.read(65536)
    handle.seek(0)
    if path.suffix.lower() == ".tsv":
        dialect: Any = csv.excel_tab
    else:
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
    reader = csv.reader(handle, dialect)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        handle.close()
        raise ValueError(f"{path}: an empty CSV file") from None
    if len(set(header)) != len(header):
        handle.close()
        raise ValueError(f"{path}: duplicate column names in the header")

    def rows() -> Iterator[tuple[int, Any]]:
        with handle:
            number = 0
            for values in reader:
                if not values or all(not value for value in values):
                    continue
                number += 1
                if len(values) != len(header):
                    yield (
                        number,
                        Invalid(
                            f"row has {len(values)} fields, the header has {len(header)}", raw_of(values)
                        ),
                    )
                    continue
                yield number, {name: (value if value != "" else None) for name, value in zip(header, values)}

    return header, rows()


def parquet_rows(path: Path, batch_size: int = 1024) -> tuple[list[str], Rows]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise ValueError(f"{path}: not a readable Parquet file: {error}") from None

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        number = 0
        try:
            for batch in parquet.iter_batches(batch_size=batch_size):
                for row in batch.to_pylist():
                    number += 1
                    yield number, row
        except pa.ArrowException as error:
            raise ValueError(f"{path}: Parquet read failed after row {number}: {error}") from None

    return list(parquet.schema_arrow.names), rows()


def hf_rows(location: str, ctx: Context) -> tuple[list[str], Rows]:
    """Rows of a Hugging Face dataset: a `save_to_disk` folder, local data files, or (with a network) a hub name."""
    try:
        import datasets
    except ImportError:
        raise ValueError(
            "reading Hugging Face datasets needs the `datasets` package: pip install 'kura-dagster[hf]'"
        ) from None
    path = Path(location)
    split = ctx.options.split
    cache_dir = str(ctx.options.cache_dir) if ctx.options.cache_dir else None  # streaming: only lock files
    if path.is_dir() and any((path / marker).exists() for marker in HF_MARKERS):
        dataset = datasets.load_from_disk(str(path))
        if isinstance(dataset, datasets.DatasetDict):
            if split not in dataset:
                if len(dataset) != 1:
                    raise ValueError(
                        f"{path}: no split {split!r} (splits: {', '.join(dataset)}); pass --split"
                    )
                split = next(iter(dataset))
            dataset = dataset[split]
    elif path.is_file():
        builder = HF_BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise ValueError(f"{path}: datasets reads .json, .jsonl, .parquet, .csv or .arrow files")
        dataset = datasets.load_dataset(
            builder, data_files=str(path), split="train", streaming=True, cache_dir=cache_dir
        )
    else:  # a folder of data files, or a hub name (this needs a network)
        dataset = datasets.load_dataset(location, split=split, streaming=True, cache_dir=cache_dir)
    iterator = iter(dataset)
    names = list(dataset.column_names or [])
    first: dict[str, Any] | None = None
    if not names:
        first = next(iterator, None)
        names = list(first or {})

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        number = 0
        if first is not None:
            number += 1
            yield number, first
        for row in iterator:
            number += 1
            yield number, row

    return names, rows()
