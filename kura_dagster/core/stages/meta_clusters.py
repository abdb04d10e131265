"""Stage 4: base clusters → a topic hierarchy (`reduce_clusters_from_base_clusters`).

The local model groups base-cluster centroids with Ward's agglomerative clustering, each centroid weighted
by its cluster's size (`weighted_ward_linkage`): the merges are then those Ward would make over the
conversations themselves once the base clusters are fixed, so a big topic is not pulled around by a tiny one.
One dendrogram is cut at shrinking sizes (each about `branching` times smaller than the one below, down to at
most `max_roots`), so the levels nest by construction. A group identical to its only child is dropped, so
the tree never has a single-child chain: a topic that stays alone while its neighbours merge sits higher up
rather than being forced into a group it does not belong to (on CLINC150 forcing cost 0.02 NMI). The
"Unclustered" node of HDBSCAN stays a root of its own: noise is not a topic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from kura_dagster.core.stages.naming import KeywordClusterNamer, cluster_id, slugify, unique_slugs
from kura_dagster.core.tree import cluster_centroids, depth_first, member_rows
from kura_dagster.core.types import Cluster, ConversationSummary, is_unclustered
from kura_dagster.core.vectors import unit_rows


@runtime_checkable
class MetaClusterModel(Protocol):
    """Builds parent nodes over base clusters; returns every node (leaves with `parent_id` set)."""

    name: str
    fell_back: bool  # the last `reduce` built the local hierarchy instead (a hosted model that could not)

    def reduce(
        self, clusters: Sequence[Cluster], summaries: Sequence[ConversationSummary], embeddings: np.ndarray
    ) -> list[Cluster]: ...


def reduce_clusters_from_base_clusters(
    clusters: Sequence[Cluster],
    summaries: Sequence[ConversationSummary],
    embeddings: np.ndarray,
    *,
    model: MetaClusterModel,
) -> list[Cluster]:
    """Kura's stage of the same name: the whole tree, roots first in depth-first order."""
    nodes = model.reduce(clusters, summaries, embeddings)
    return [node for node, _ in depth_first(nodes)]


def level_sizes(n_leaves: int, *, max_roots: int, branching: float) -> list[int]:
    """Group counts of the levels above the leaves, finest first; empty when the leaves are few enough."""
    sizes: list[int] = []
    current = n_leaves
    while True:
        following = math.ceil(current / branching)
        if following < 2 or following >= current:
            break
        sizes.append(following)
        current = following
        if current <= max_roots:
            break
    return sizes


def weighted_ward_linkage(centroids: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Ward's linkage of weighted points, as a SciPy linkage matrix (so `fcluster` cuts it).

    SciPy's Ward treats every row as one observation; here row i stands for `weights[i]` of them. The
    distance between groups a and b is sqrt(2·wa·wb / (wa + wb))·‖ca − cb‖, SciPy's convention, so with unit
    weights the heights equal `linkage(centroids, "ward")`. Nearest-neighbour chains find the merges in
    O(m²) time and O(m·d) memory (no distance matrix); the fourth column counts rows, as SciPy expects.
    """
    points = np.array(centroids, dtype=np.float64)
    mass = np.array(weights, dtype=np.float64)
    n_rows = len(points)
    if n_rows < 2:
        return np.zeros((0, 4))
    node = np.arange(n_rows)  # the tree node each slot holds now; a merge reuses the first slot
    rows = np.ones(n_rows)
    alive = np.ones(n_rows, dtype=bool)
    merges: list[tuple[int, int, float, float]] = []
    chain: list[int] = []
    for created in range(n_rows, 2 * n_rows - 1):
        while True:
            if not chain:
                chain.append(int(np.flatnonzero(alive)[0]))
            a = chain[-1]
            cost = ((points - points[a]) ** 2).sum(axis=1) * (2 * mass * mass[a] / (mass + mass[a]))
            cost[~alive] = np.inf
            cost[a] = np.inf
            b = int(np.argmin(cost))
            # Ties go to the previous link, so the chain always ends at a reciprocal pair.
            if len(chain) > 1 and cost[chain[-2]] <= cost[b]:
                b = chain[-2]
            if len(chain) > 1 and b == chain[-2]:
                break
            chain.append(b)
        chain.pop()
        chain.pop()
        merges.append((int(node[a]), int(node[b]), float(np.sqrt(cost[b])), rows[a] + rows[b]))
        points[a] = (mass[a] * points[a] + mass[b] * points[b]) / (mass[a] + mass[b])
        mass[a] += mass[b]
        rows[a] += rows[b]
        node[a] = created
        alive[b] = False
    return _as_scipy_linkage(merges, n_rows)


def _as_scipy_linkage(merges: list[tuple[int, int, float, float]], n_rows: int) -> np.ndarray:
    """Order the merges by height and renumber them as SciPy does (merge i creates node n_rows + i).

    Ward never merges below a child; rounding could, so a parent's height is lifted to its children's
    first, which keeps every child before its parent after sorting (ties keep the creation order).
    """
    heights: list[float] = []
    for first, second, height, _ in merges:
        below = [heights[child - n_rows] for child in (first, second) if child >= n_rows]
        heights.append(max([height, *below]))
    order = sorted(range(len(merges)), key=lambda i: (heights[i], i))
    renumbered = {i: i for i in range(n_rows)}
    matrix = np.zeros((len(merges), 4))
    for position, index in enumerate(order):
        first, second, _, count = merges[index]
        first, second = renumbered[first], renumbered[second]
        matrix[position] = [min(first, second), max(first, second), heights[index], count]
        renumbered[n_rows + index] = n_rows + position
    return matrix


def split_large_roots(nodes: Sequence[Cluster], *, max_share: float, max_roots: int) -> list[Cluster]:
    """`nodes` with every root that holds more than `max_share` of the conversations replaced by its children,
    largest first, while the roots stay at most `max_roots`."""
    nodes = list(nodes)
    total = sum(node.count for node in nodes if node.parent_id is None)
    while True:
        roots = [node for node in nodes if node.parent_id is None]
        children = {root.id: [node for node in nodes if node.parent_id == root.id] for root in roots}
        large = [
            root
            for root in roots
            if children[root.id]
            and root.count > max_share * total
            and len(roots) - 1 + len(children[root.id]) <= max_roots
        ]
        if not large:
            return nodes
        dissolved = max(large, key=lambda root: (root.count, root.id))
        nodes = [
            node.model_copy(update={"parent_id": None}) if node.parent_id == dissolved.id else node
            for node in nodes
            if node.id != dissolved.id
        ]


class AgglomerativeMetaClusterModel:
    """Size-weighted Ward hierarchy over cluster centroids, named by c-TF-IDF like the base clusters.

    Parameters
    ----------
    max_roots:
        The top level has at most this many nodes (fewer leaves than that are left as roots,
        unless grouping them by `branching` still makes a level of at least two).
    branching:
        About how many children a parent gets: each level is this much smaller than the one below.
    max_root_share:
        A root holding more than this share of the conversations is replaced by its children (as long as the
        top level keeps at most `max_roots` nodes): on a day of 120 conversations in 8 leaves, Ward's cut into
        two roots put 68-94% of the day under one of them (bench/naming.py), a root that says nothing.
    """

    name = "agglomerative-ward"
    fell_back = False  # it is the local hierarchy

    def __init__(self, max_roots: int = 10, branching: float = 4.0, max_root_share: float = 0.4) -> None:
        self.max_roots = max_roots
        self.branching = branching
        self.max_root_share = max_root_share

    def reduce(
        self, clusters: Sequence[Cluster], summaries: Sequence[ConversationSummary], embeddings: np.ndarray
    ) -> list[Cluster]:
        topics = [c for c in clusters if not is_unclustered(c)]
        noise = [c.model_copy(update={"parent_id": None}) for c in clusters if is_unclustered(c)]
        row_of_chat = {summary.chat_id: row for row, summary in enumerate(summaries)}
        vectors = unit_rows(np.asarray(embeddings, dtype=np.float32), keep_unit=True)
        rows = member_rows(topics, row_of_chat)
        sizes = level_sizes(len(topics), max_roots=self.max_roots, branching=self.branching)
        if not sizes:
            return [c.model_copy(update={"parent_id": None}) for c in topics] + noise

        from scipy.cluster.hierarchy import fcluster

        centroids = cluster_centroids(topics, row_of_chat, vectors)
        dendrogram = weighted_ward_linkage(centroids, np.array([c.count for c in topics], dtype=np.float64))
        # cuts[0] is the leaves themselves; cuts[i] labels each leaf with its group at level i (coarser up).
        cuts = [np.arange(len(topics))] + [
            fcluster(dendrogram, t=size, criterion="maxclust") - 1 for size in sizes
        ]
        parent_of, meta_nodes = self._link_levels(cuts, topics, rows, summaries, vectors)
        leaves = [c.model_copy(update={"parent_id": parent_of.get((0, i))}) for i, c in enumerate(topics)]
        return (
            split_large_roots(
                meta_nodes + leaves,
                max_share=self.max_root_share,
                max_roots=max(self.max_roots - len(noise), 1),
            )
            + noise
        )

    def _link_levels(self, cuts, topics, rows, summaries, vectors):
        """Keep groups with two or more children; link each kept node to its nearest kept ancestor."""
        kept_ids: dict[tuple[int, int], str] = {(0, i): c.id for i, c in enumerate(topics)}
        members: dict[tuple[int, int], np.ndarray] = {}
        for level in range(1, len(cuts)):
            labels = cuts[level]
            for group in np.unique(labels):
                leaf_indices = np.flatnonzero(labels == group)
                children = np.unique(cuts[level - 1][leaf_indices])
                if len(children) >= 2:
                    members[(level, int(group))] = leaf_indices
        named = self._name(members, topics, rows, summaries, vectors)
        kept_ids.update({key: node.id for key, node in named.items()})

        def nearest_kept_ancestor(level: int, leaf_index: int) -> str | None:
            for upper in range(level + 1, len(cuts)):
                key = (upper, int(cuts[upper][leaf_index]))
                if key in kept_ids:
                    return kept_ids[key]
            return None

        parent_of: dict[tuple[int, int], str | None] = {}
        for i in range(len(topics)):
            parent_of[(0, i)] = nearest_kept_ancestor(0, i)
        meta_nodes = []
        for (level, group), node in named.items():
            first_leaf = int(members[(level, group)][0])
            meta_nodes.append(node.model_copy(update={"parent_id": nearest_kept_ancestor(level, first_leaf)}))
        return parent_of, meta_nodes

    def _name(self, members, topics, rows, summaries, vectors) -> dict[tuple[int, int], Cluster]:
        """Name each level's groups against the other groups of that level (what sets a parent apart from its
        peers, not from its own children), finest level first; no name repeats one already in the tree."""
        keys = sorted(members)
        conversation_rows = [np.concatenate([rows[i] for i in members[key]]) for key in keys]
        namer = KeywordClusterNamer()
        taken = [c.name for c in topics]
        by_key = {}
        for level in sorted({level for level, _ in keys}):
            at_level = [i for i, key in enumerate(keys) if key[0] == level]
            level_names = namer.name_groups(
                [conversation_rows[i] for i in at_level], summaries, vectors, taken=taken, broad=True
            )
            by_key.update(zip(at_level, level_names))
            taken += [name.name for name in level_names]
        names = [by_key[i] for i in range(len(keys))]
        # Meta slugs must not repeat a leaf's slug: both live in the meta_clusters table.
        leaf_slugs = [c.slug for c in topics]
        wanted = [slugify(n.keywords, f"topic_{i}") for i, n in enumerate(names)]
        slugs = unique_slugs(leaf_slugs + wanted)[len(leaf_slugs) :]
        named = {}
        for key, group, name, slug in zip(keys, conversation_rows, names, slugs):
            chat_ids = sorted(summaries[r].chat_id for r in group)
            named[key] = Cluster(
                id=cluster_id(chat_ids, prefix="m"),
                name=name.name,
                description=name.description,
                slug=slug,
                chat_ids=chat_ids,
            )
        return named
