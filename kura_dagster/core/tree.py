"""Helpers for a topic tree held as a flat list of `Cluster` nodes linked by `parent_id`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from kura_dagster.core.types import Cluster
from kura_dagster.core.vectors import unit_rows


def children_of(nodes: Sequence[Cluster]) -> dict[str | None, list[Cluster]]:
    """Children of each node id (None holds the roots), largest first, then by name for stable output."""
    children: dict[str | None, list[Cluster]] = defaultdict(list)
    for node in nodes:
        children[node.parent_id].append(node)
    for siblings in children.values():
        siblings.sort(key=lambda node: (-node.count, node.name, node.id))
    return children


def depth_first(nodes: Sequence[Cluster]) -> list[tuple[Cluster, int]]:
    """Every node with its level (0 = root) in pre-order, as Kura lists its projected clusters."""
    children = children_of(nodes)
    ordered: list[tuple[Cluster, int]] = []
    stack = [(root, 0) for root in reversed(children.get(None, []))]
    while stack:
        node, level = stack.pop()
        ordered.append((node, level))
        stack.extend((child, level + 1) for child in reversed(children.get(node.id, [])))
    return ordered


def tree_problems(nodes: Sequence[Cluster]) -> list[str]:
    """What is wrong with a tree, empty when it is a valid forest.

    Valid: ids unique; every parent exists; no cycles; no node with exactly one child (a chain adds a
    level and says nothing); a parent's conversations are exactly the union of its children's.
    """
    problems: list[str] = []
    by_id: dict[str, Cluster] = {}
    for node in nodes:
        if node.id in by_id:
            problems.append(f"duplicate id {node.id}")
        by_id[node.id] = node
    children = children_of(nodes)
    for node in nodes:
        if node.parent_id is not None and node.parent_id not in by_id:
            problems.append(f"{node.id}: parent {node.parent_id} does not exist")
    reachable = {node.id for node, _ in depth_first(nodes)}
    if len(reachable) != len(by_id):
        problems.append(f"{len(by_id) - len(reachable)} nodes are not reachable from a root (a cycle)")
    for node_id, kids in children.items():
        if node_id is None:
            continue
        if len(kids) == 1:
            problems.append(f"{node_id}: single-child chain")
        union = sorted(chat for kid in kids for chat in kid.chat_ids)
        if node_id in by_id and union != sorted(by_id[node_id].chat_ids):
            problems.append(f"{node_id}: members differ from the union of its children's")
    return problems


def leaves(nodes: Sequence[Cluster]) -> list[Cluster]:
    parents = {node.parent_id for node in nodes}
    return [node for node in nodes if node.id not in parents]


def member_rows(clusters: Sequence[Cluster], row_of_chat: Mapping[str, int]) -> list[np.ndarray]:
    """Row indices (into the summaries/embeddings arrays) of each cluster's conversations."""
    return [
        np.array([row_of_chat[chat] for chat in cluster.chat_ids], dtype=np.int64) for cluster in clusters
    ]


def cluster_centroids(
    clusters: Sequence[Cluster], row_of_chat: Mapping[str, int], embeddings: np.ndarray
) -> np.ndarray:
    """One row per cluster: its stored clustering-space centroid when every cluster has one (what the base
    stage clustered on, which groups topics best), else the mean of its members' unit embeddings —
    computed cluster by cluster, so no float64 copy of the whole matrix is made (2 GB at a million rows)."""
    if clusters and all(cluster.centroid is not None for cluster in clusters):
        return np.asarray([cluster.centroid for cluster in clusters], dtype=np.float64)
    means = []
    for rows in member_rows(clusters, row_of_chat):
        means.append(unit_rows(np.asarray(embeddings[rows], dtype=np.float64)).mean(axis=0))
    return np.vstack(means) if means else np.zeros((0, embeddings.shape[1] if embeddings.ndim == 2 else 0))
