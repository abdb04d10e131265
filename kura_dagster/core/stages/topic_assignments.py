"""Daily assignment: each conversation of a day goes to a leaf of a taxonomy version (`assign_to_taxonomy`).

A conversation the version holds (the version's window covers its day) keeps the leaf the build gave it,
so a day's assignment and the taxonomy's counts tell the same story; on banking77 nearest-centroid
assignment of the window's own conversations agreed with their leaves at ARI 0.87 only (the leaves are
clustered on UMAP + lexical features, the centroids live in the embedding space). Every other conversation
(a day after the version, or before its window) goes to the nearest leaf by cosine between the conversation's unit embedding and the leaves' unit centroids; a conversation
further from that leaf than the leaf's radius (a high quantile of its own members' distances) is
`unassigned`: it fits no topic of the window, which is where something new shows up first. Hidden leaves
(below the privacy thresholds) take conversations like any other, under their own (hidden) id; HDBSCAN's
"Unclustered" node is not a topic and takes none.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from kura_dagster.core.stages.taxonomy import UNASSIGNED, Taxonomy, nearest_leaves
from kura_dagster.core.storage.tables import TOPIC_ASSIGNMENTS_SCHEMA
from kura_dagster.core.vectors import unit_rows


def assign_to_taxonomy(
    chat_ids: Sequence[str], vectors: np.ndarray, taxonomy: Taxonomy, *, keep_members: bool = True
) -> pa.Table:
    """One row per conversation: chat_id, topic_id (a leaf's id or `unassigned`), taxonomy_version, distance
    (cosine distance to the nearest leaf's centroid). An empty day gives an empty table with the schema.
    keep_members=False: the version's own members go to their nearest leaf too (one rule for every day)."""
    if len(chat_ids) != len(vectors):
        raise ValueError(f"{len(chat_ids)} chat ids but {len(vectors)} embeddings")
    if not len(chat_ids):
        return TOPIC_ASSIGNMENTS_SCHEMA.empty_table()
    leaves, nearest, distance = nearest_leaves(vectors, taxonomy)
    if leaves:
        ids = np.array([leaf.topic_id for leaf in leaves], dtype=object)[nearest]
        radii = np.array([leaf.radius for leaf in leaves])[nearest]
        topic_ids = np.where(distance > radii, UNASSIGNED, ids)
    else:
        topic_ids = np.full(len(chat_ids), UNASSIGNED, dtype=object)
    members = _members(chat_ids, vectors, taxonomy) if keep_members else {}
    for row, (leaf_id, member_distance) in members.items():
        topic_ids[row] = leaf_id
        distance[row] = member_distance
    return pa.Table.from_pydict(
        {
            "chat_id": pa.array(list(chat_ids), type=pa.string()),
            "topic_id": pa.array(topic_ids.tolist(), type=pa.string()),
            "taxonomy_version": pa.array([taxonomy.version] * len(chat_ids), type=pa.date32()),
            "distance": pa.array(distance, type=pa.float64()),
        },
        schema=TOPIC_ASSIGNMENTS_SCHEMA,
    )


def _members(
    chat_ids: Sequence[str], vectors: np.ndarray, taxonomy: Taxonomy
) -> dict[int, tuple[str, float]]:
    """Row → (its leaf in the version, cosine distance to that leaf's centroid) for the rows it holds."""
    leaf_of = taxonomy.leaf_of_chat()
    if not leaf_of:
        return {}
    by_id = taxonomy.by_id()
    found = {}
    for row, chat in enumerate(chat_ids):
        leaf_id = leaf_of.get(chat)
        if leaf_id is not None:
            found[row] = leaf_id
    if not found:
        return {}
    rows = np.fromiter(found, dtype=np.int64)
    centroids = np.vstack([by_id[found[row]].centroid for row in rows]).astype(np.float32)
    unit = unit_rows(np.asarray(vectors[rows], dtype=np.float32), keep_unit=True)
    distances = np.maximum(1.0 - (unit * centroids).sum(axis=1), 0.0)
    return {int(row): (found[int(row)], float(d)) for row, d in zip(rows, distances)}
