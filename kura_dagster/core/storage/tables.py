"""The table contract (DESIGN.md §2) as Arrow schemas, and conversions to and from the typed objects.

Arrow tables carry their column types even when empty, so an empty day creates the same tables as a busy
one, and DuckDB reads and writes them without a row-by-row Python loop.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kura_dagster.core.topics import LineageEvent, Taxonomy, Topic
from kura_dagster.core.types import (
    USER_ID,
    Cluster,
    Conversation,
    ConversationSummary,
    ProjectedCluster,
    user_ids_of,
)

# Each turn keeps its own timestamp (None when the source had none): Kura's Message requires one, and the export
# falls back to the conversation's only where the source gave none.
MESSAGE = pa.struct(
    [("role", pa.string()), ("content", pa.string()), ("created_at", pa.timestamp("us", tz="UTC"))]
)

SCHEMAS: dict[str, pa.Schema] = {
    "conversations": pa.schema(
        [
            ("chat_id", pa.string()),
            ("created_at", pa.timestamp("us", tz="UTC")),
            ("messages", pa.list_(MESSAGE)),
            ("metadata", pa.string()),
        ]
    ),
    "summaries": pa.schema(
        [
            ("chat_id", pa.string()),
            ("summary", pa.string()),
            ("request", pa.string()),
            ("topic", pa.string()),
            ("task", pa.string()),
            ("languages", pa.list_(pa.string())),
            ("concerning_score", pa.int8()),
            ("user_frustration", pa.int8()),
            ("assistant_errors", pa.list_(pa.string())),
            ("error", pa.string()),
            ("model", pa.string()),
            ("metadata", pa.string()),
            ("custom_facets", pa.string()),
            ("truncated", pa.bool_()),
        ]
    ),
    "embeddings": pa.schema(
        [
            ("chat_id", pa.string()),
            ("model", pa.string()),
            ("embedding", pa.list_(pa.float32())),
        ]
    ),
    "base_clusters": pa.schema(
        [
            ("cluster_id", pa.string()),
            ("name", pa.string()),
            ("description", pa.string()),
            ("slug", pa.string()),
            ("count", pa.int64()),
            ("chat_ids", pa.list_(pa.string())),
            ("centroid", pa.list_(pa.float32())),
        ]
    ),
    "meta_clusters": pa.schema(
        [
            ("cluster_id", pa.string()),
            ("parent_id", pa.string()),
            ("level", pa.int32()),
            ("name", pa.string()),
            ("description", pa.string()),
            ("slug", pa.string()),
            ("count", pa.int64()),
            ("chat_ids", pa.list_(pa.string())),
        ]
    ),
    "projections": pa.schema(
        [
            ("cluster_id", pa.string()),
            ("parent_id", pa.string()),
            ("level", pa.int32()),
            ("name", pa.string()),
            ("count", pa.int64()),
            ("x", pa.float64()),
            ("y", pa.float64()),
        ]
    ),
}


def _table(name: str, columns: dict[str, list | pa.Array]) -> pa.Table:
    return pa.Table.from_pydict(columns, schema=SCHEMAS[name])


CHUNK_ROWS = 50_000  # rows converted at a time: Python dicts of a million conversations would be gigabytes


def conversations_to_arrow(conversations: Sequence[Conversation]) -> pa.Table:
    if len(conversations) > CHUNK_ROWS:
        return pa.concat_tables(
            [
                conversations_to_arrow(conversations[start : start + CHUNK_ROWS])
                for start in range(0, len(conversations), CHUNK_ROWS)
            ]
        )
    return _table(
        "conversations",
        {
            "chat_id": [c.chat_id for c in conversations],
            "created_at": [c.created_at for c in conversations],
            "messages": [
                [{"role": m.role, "content": m.content, "created_at": m.created_at} for m in c.messages]
                for c in conversations
            ],
            "metadata": [_json(c.metadata) for c in conversations],
        },
    )


class ConversationRows(Sequence[Conversation]):
    """The conversations of a stored table as a read-only sequence that builds `Conversation` objects only
    for the rows asked for: summarising a million conversations in batches then holds one batch of objects
    at a time instead of all of them (several GB). Iterating converts chunk by chunk."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table.select(["chat_id", "created_at", "messages", "metadata"])

    def __len__(self) -> int:
        return self._table.num_rows

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return _conversations(self._table.slice(start, max(stop - start, 0)))
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"conversation {index} of {len(self)}")
        return _conversations(self._table.slice(index, 1))[0]

    def __iter__(self):
        for start in range(0, len(self), CHUNK_ROWS):
            yield from self[start : start + CHUNK_ROWS]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and list(self) == list(other)

    __hash__ = None  # a sequence compared by content


def conversations_from_arrow(table: pa.Table) -> ConversationRows:
    """Typed conversations of a stored table (`ConversationRows`: built on access, batch by batch)."""
    return ConversationRows(table)


def _conversations(table: pa.Table) -> list[Conversation]:
    # Validated, not `model_construct`ed: pydantic-core builds the nested messages as fast as construction
    # would (measured), and validation keeps the UTC invariant of created_at.
    return [
        Conversation(
            chat_id=r["chat_id"],
            created_at=r["created_at"],
            messages=r["messages"] or [],
            metadata=_load_json(r["metadata"]),
        )
        for r in table.to_pylist()
    ]


def _json(value: dict) -> str:
    # Most rows of a big day have no custom facets: skip the encoder for the empty object.
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str) if value else "{}"


def _load_json(text: str | None) -> dict:
    return json.loads(text) if text and text != "{}" else {}


def summaries_to_arrow(summaries: Sequence[ConversationSummary], model: str) -> pa.Table:
    return _table(
        "summaries",
        {
            "chat_id": [s.chat_id for s in summaries],
            "summary": [s.summary for s in summaries],
            "request": [s.request for s in summaries],
            "topic": [s.topic for s in summaries],
            "task": [s.task for s in summaries],
            "languages": [s.languages for s in summaries],
            "concerning_score": [s.concerning_score for s in summaries],
            "user_frustration": [s.user_frustration for s in summaries],
            "assistant_errors": [s.assistant_errors for s in summaries],
            "error": [s.error for s in summaries],
            "model": pa.array([model] * len(summaries), type=pa.string()),
            "metadata": [_json(s.metadata) for s in summaries],
            "custom_facets": [_json(s.custom_facets) for s in summaries],
            "truncated": [s.truncated for s in summaries],
        },
    )


# What the clustering, naming and privacy stages read of a summary: building only these keeps a million
# summaries' other facets (languages, errors, custom facets) out of memory in those steps.
CLUSTERING_FIELDS = ("chat_id", "summary", "request", "task", "metadata")


def summaries_from_arrow(
    table: pa.Table, fields: Sequence[str] | None = None, metadata_keys: Sequence[str] | None = None
) -> list[ConversationSummary]:
    """Typed summaries of a stored table, column by column and without re-validation (see
    `conversations_from_arrow`). With `fields`, only those facets are read; the others hold their default,
    one shared empty value each: such summaries are for reading, a stage that changes one copies it.
    With `metadata_keys`, metadata keeps only those keys (a million full metadata dicts are most of the
    memory of the clustering stages, which read one key)."""
    read = [f for f in (fields or SCHEMAS["summaries"].names) if f != "model"]
    columns = {name: table.column(name).to_pylist() for name in read}
    for name in ("metadata", "custom_facets"):
        if name in columns:
            columns[name] = [_load_json(text) for text in columns[name]]
    if "metadata" in columns and metadata_keys is not None:
        columns["metadata"] = [_only(metadata, metadata_keys) for metadata in columns["metadata"]]
    if "summary" in columns:
        columns["summary"] = [value or "" for value in columns["summary"]]
    for name in ("languages", "assistant_errors"):
        if name in columns:
            columns[name] = [value or [] for value in columns[name]]
    if "truncated" in columns:
        columns["truncated"] = [bool(value) for value in columns["truncated"]]
    # Integer facets stored as NULL (an older table, a failed row) take the model's default.
    for name in ("concerning_score", "user_frustration"):
        if name in columns:
            columns[name] = [1 if value is None else value for value in columns[name]]
    # Every field is passed: pydantic's model_construct inspects a default factory's signature on each call
    # for a missing field, which made building a million partial summaries take minutes.
    unread = {name: value for name, value in _SUMMARY_DEFAULTS.items() if name not in columns}
    # One fields-set for all: pydantic otherwise keeps a 15-element set per object (~700 bytes, a third of
    # a summary's memory). Every field is set, so the set is never added to.
    fields_set = set(_SUMMARY_DEFAULTS)
    make = ConversationSummary.model_construct
    return [
        make(fields_set, **dict(zip(read, values)), **unread)
        for values in zip(*(columns[name] for name in read))
    ]


def user_ids_from_arrow(summaries: pa.Table) -> dict[str, str | None]:
    """`types.user_ids_of` read from a table's chat_id and metadata columns: only rows whose metadata
    mentions the key are parsed, and no summary object is built."""
    if not summaries.num_rows:
        return {}
    metadata = summaries.column("metadata")
    mentions = pc.fill_null(pc.match_substring(metadata, f'"{USER_ID}"'), False)
    if not pc.any(mentions).as_py():
        return {}
    chat_ids = summaries.column("chat_id").to_pylist()
    texts = metadata.to_pylist()
    marked = mentions.to_pylist()
    rows = [
        _UserRow(chat_id, _load_json(text) if mark else _NOTHING)
        for chat_id, text, mark in zip(chat_ids, texts, marked)
    ]
    return user_ids_of(rows)


@dataclass(frozen=True, slots=True)
class _UserRow:
    chat_id: str
    metadata: dict


_NOTHING: dict = {}


def _only(metadata: dict, keys: Sequence[str]) -> dict:
    kept = {key: metadata[key] for key in keys if key in metadata}
    return kept or _NOTHING


_SUMMARY_DEFAULTS = {
    name: (info.default_factory() if info.default_factory else info.default)
    for name, info in ConversationSummary.model_fields.items()
}


def embeddings_to_arrow(chat_ids: Sequence[str], vectors: np.ndarray, model: str) -> pa.Table:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1] if vectors.ndim == 2 and len(chat_ids) else 0
    offsets = pa.array(np.arange(len(chat_ids) + 1, dtype=np.int32) * dim)
    values = pa.array(vectors.reshape(-1), type=pa.float32())
    return _table(
        "embeddings",
        {
            "chat_id": list(chat_ids),
            "model": [model] * len(chat_ids),
            "embedding": pa.ListArray.from_arrays(offsets, values),
        },
    )


def embeddings_from_arrow(table: pa.Table) -> tuple[list[str], np.ndarray]:
    """Chat ids and the matrix of their vectors (rows in table order)."""
    chat_ids = table.column("chat_id").to_pylist()
    if not chat_ids:
        return [], np.zeros((0, 0), dtype=np.float32)
    column = table.column("embedding").combine_chunks()
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return chat_ids, values.reshape(len(chat_ids), -1)


def base_clusters_to_arrow(clusters: Sequence[Cluster]) -> pa.Table:
    return _table(
        "base_clusters",
        {
            "cluster_id": [c.id for c in clusters],
            "name": [c.name for c in clusters],
            "description": [c.description for c in clusters],
            "slug": [c.slug for c in clusters],
            "count": [c.count for c in clusters],
            "chat_ids": [c.chat_ids for c in clusters],
            "centroid": [c.centroid for c in clusters],
        },
    )


def clusters_from_arrow(table: pa.Table) -> list[Cluster]:
    rows = table.to_pylist()
    return [
        Cluster(
            id=r["cluster_id"],
            name=r["name"],
            description=r["description"],
            slug=r["slug"],
            chat_ids=r["chat_ids"] or [],
            parent_id=r.get("parent_id"),
            centroid=r.get("centroid"),
        )
        for r in rows
    ]


def meta_clusters_to_arrow(nodes: Sequence[Cluster], levels: Sequence[int]) -> pa.Table:
    return _table(
        "meta_clusters",
        {
            "cluster_id": [c.id for c in nodes],
            "parent_id": [c.parent_id for c in nodes],
            "level": list(levels),
            "name": [c.name for c in nodes],
            "description": [c.description for c in nodes],
            "slug": [c.slug for c in nodes],
            "count": [c.count for c in nodes],
            "chat_ids": [c.chat_ids for c in nodes],
        },
    )


def projections_to_arrow(projected: Sequence[ProjectedCluster]) -> pa.Table:
    return _table(
        "projections",
        {
            "cluster_id": [p.id for p in projected],
            "parent_id": [p.parent_id for p in projected],
            "level": [p.level for p in projected],
            "name": [p.name for p in projected],
            "count": [p.count for p in projected],
            "x": [p.x_coord for p in projected],
            "y": [p.y_coord for p in projected],
        },
    )


# ------------------------------------------------------------------------------------------------- taxonomy
# The taxonomy asset's two tables and the daily assignments (issue 16; the objects are `core.topics`).

TAXONOMY_SCHEMA = pa.schema(
    [
        ("version", pa.date32()),
        ("topic_id", pa.string()),
        ("parent_id", pa.string()),
        ("level", pa.int32()),
        ("name", pa.string()),
        ("description", pa.string()),
        ("count", pa.int64()),
        ("hidden", pa.bool_()),
        ("slug", pa.string()),
        ("centroid", pa.list_(pa.float32())),
        ("radius", pa.float64()),
        ("chat_ids", pa.list_(pa.string())),
        ("window_start", pa.date32()),
    ]
)
TOPIC_LINEAGE_SCHEMA = pa.schema(
    [
        ("version", pa.date32()),
        ("topic_id", pa.string()),
        ("event", pa.string()),
        ("related_id", pa.string()),
    ]
)
TOPIC_ASSIGNMENTS_SCHEMA = pa.schema(
    [
        ("chat_id", pa.string()),
        ("topic_id", pa.string()),
        ("taxonomy_version", pa.date32()),
        ("distance", pa.float64()),
    ]
)
SCHEMAS.update(
    {
        "taxonomy": TAXONOMY_SCHEMA,
        "topic_lineage": TOPIC_LINEAGE_SCHEMA,
        "topic_assignments": TOPIC_ASSIGNMENTS_SCHEMA,
    }
)


def taxonomy_to_arrow(taxonomy: Taxonomy) -> pa.Table:
    """One row per topic (table order: depth first, roots first); an empty window gives no row."""
    topics = taxonomy.topics
    return _table(
        "taxonomy",
        {
            "version": [taxonomy.version] * len(topics),
            "topic_id": [t.topic_id for t in topics],
            "parent_id": [t.parent_id for t in topics],
            "level": [t.level for t in topics],
            "name": [t.name for t in topics],
            "description": [t.description for t in topics],
            "count": [t.count for t in topics],
            "hidden": [t.hidden for t in topics],
            "slug": [t.slug for t in topics],
            "centroid": [np.asarray(t.centroid, dtype=np.float32) for t in topics],
            "radius": [t.radius for t in topics],
            "chat_ids": [list(t.chat_ids) for t in topics],
            "window_start": [taxonomy.window_start] * len(topics),
        },
    )


def lineage_to_arrow(taxonomy: Taxonomy) -> pa.Table:
    """One row per lineage event of the version."""
    events = taxonomy.lineage
    return _table(
        "topic_lineage",
        {
            "version": [taxonomy.version] * len(events),
            "topic_id": [e.topic_id for e in events],
            "event": [e.event for e in events],
            "related_id": [e.related_id for e in events],
        },
    )


def taxonomy_from_arrow(table: pa.Table, lineage: pa.Table | None = None) -> Taxonomy | None:
    """The version stored in `table` (the rows of one version; extra columns such as dataset and date are
    ignored), with its lineage rows when given; None when the table has no row (no version, or a version
    of an empty window, which has no topic to assign to)."""
    if table.num_rows == 0:
        return None
    rows = table.select(TAXONOMY_SCHEMA.names).to_pylist()
    versions = {_as_date(r["version"]) for r in rows}
    if len(versions) != 1:
        raise ValueError(f"taxonomy table holds {len(versions)} versions; pass the rows of one")
    topics = tuple(
        Topic(
            topic_id=r["topic_id"],
            parent_id=r["parent_id"],
            level=r["level"],
            name=r["name"],
            description=r["description"],
            slug=r["slug"],
            count=r["count"],
            hidden=bool(r["hidden"]),
            centroid=np.asarray(r["centroid"] or [], dtype=np.float32),
            radius=float(r["radius"]),
            chat_ids=tuple(r["chat_ids"] or ()),
        )
        for r in rows
    )
    events = () if lineage is None else lineage_from_arrow(lineage)
    return Taxonomy(versions.pop(), _as_date(rows[0]["window_start"]), topics, events)


def lineage_from_arrow(table: pa.Table) -> tuple[LineageEvent, ...]:
    return tuple(
        LineageEvent(r["topic_id"], r["event"], r["related_id"])
        for r in table.select(["topic_id", "event", "related_id"]).to_pylist()
    )


def _as_date(value):
    return value.date() if hasattr(value, "date") and callable(value.date) else value
