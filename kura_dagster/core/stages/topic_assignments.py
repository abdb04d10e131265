"""Daily assignment: each conversation of a day goes to the nearest leaf of a taxonomy version
(`assign_to_taxonomy`).

Nearest by cosine between the conversation's unit embedding and the leaves' unit centroids; a conversation
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


def assign_to_taxonomy(chat_ids: Sequence[str], vectors: np.ndarray, taxonomy: Taxonomy) -> pa.Table:
    """One row per conversation: chat_id, topic_id (a leaf's id or `unassigned`), taxonomy_version, distance
    (cosine distance to the nearest leaf's centroid). An empty day gives an empty table with the schema."""
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
    return pa.Table.from_pydict(
        {
            "chat_id": pa.array(list(chat_ids), type=pa.string()),
            "topic_id": pa.array(topic_ids.tolist(), type=pa.string()),
            "taxonomy_version": pa.array([taxonomy.version] * len(chat_ids), type=pa.date32()),
            "distance": pa.array(distance, type=pa.float64()),
        },
        schema=TOPIC_ASSIGNMENTS_SCHEMA,
    )
