"""A taxonomy per dataset, rebuilt daily over a window of days, with ids that last (`build_taxonomy`).

Each version clusters the conversations of the last `window_days` days (their stored summaries and unit
embeddings; nothing is summarised or embedded again) with the models the per-day stages use: the same
features and clustering method as `base_clusters`, the same namer, the privacy thresholds applied to the
window's counts and users (`PrivacyGuard.protect_leaves`), the same hierarchy (`protect_hierarchy`).

Cost is bounded: above `sample_size` conversations a seeded sample is clustered and named (as Clio does),
and every other conversation goes to the leaf whose centroid is nearest by cosine.

Stability: consecutive windows share all days but one, so a rebuild starts from the previous version.
With k-means, Lloyd's iterations start from the previous leaves (each one's centroid in the new
clustering space, computed from its members that are still in the window), plus new starting centres
for the conversations new to the window that lie beyond every previous leaf's radius (what may be a new
theme); after them, an island of new conversations inside a leaf becomes a leaf (`split_new_islands`: a
theme that started small, close enough to an old leaf to join it). An unchanged window therefore gives back
the same leaves, and a shifted one the same leaves with its days' members. `core.stages.topic_matching`
then gives every topic of any level its stable id (matched by shared members, centroids as the fallback)
and the lineage events.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date as Date
from datetime import timedelta

import numpy as np

from kura_dagster.core.privacy.thresholds import PrivacyGuard, is_hidden
from kura_dagster.core.stages.base_clusters import (
    NOISE,
    ClusteringMethod,
    groups_to_clusters,
    rows_by_label,
)
from kura_dagster.core.stages.embeddings import embedding_text
from kura_dagster.core.stages.features import (
    LARGE_INPUT_ROWS,
    clustering_features,
    large_input_features,
    manifold_view,
    seeded_sample,
)
from kura_dagster.core.stages.meta_clusters import MetaClusterModel, reduce_clusters_from_base_clusters
from kura_dagster.core.stages.naming import ClusterNamer, KeywordClusterNamer, cluster_id
from kura_dagster.core.stages.topic_matching import MatchOptions, match_topics
from kura_dagster.core.topics import (
    EVENTS,
    TOPIC_ID_PREFIX,
    UNASSIGNED,
    LineageEvent,
    Taxonomy,
    Topic,
    format_topic_id,
    topic_number,
)
from kura_dagster.core.tree import depth_first
from kura_dagster.core.types import UNCLUSTERED_NAME, Cluster, ConversationSummary
from kura_dagster.core.vectors import unit_rows

__all__ = [
    "EVENTS",
    "TOPIC_ID_PREFIX",
    "UNASSIGNED",
    "LineageEvent",
    "Taxonomy",
    "TaxonomyOptions",
    "Topic",
    "build_taxonomy",
    "format_topic_id",
    "nearest_leaves",
    "topic_number",
    "window_days",
]

# Rows compared with the centroids at once: a block × leaves similarity matrix (16,384 × 1,667 leaves of a
# million-conversation window: 109 MB), never n × leaves.
BLOCK_ROWS = 16_384


@dataclass(frozen=True)
class TaxonomyOptions:
    """How a version is built. window_days: KURA_TAXONOMY_WINDOW_DAYS; sample_size: KURA_TAXONOMY_SAMPLE_SIZE;
    random_state: KURA_SEED (the sample, the features and the clustering)."""

    window_days: int = 28
    sample_size: int = 50_000
    random_state: int = 0
    # A leaf's radius is this quantile of its members' cosine distances to its centroid (at least
    # `min_radius`): a conversation further than the topic's own members is `unassigned`. Measured on
    # banking77 (bench/taxonomy_stability.py), the day after a version, themes unchanged: the 0.95 quantile
    # left 16% of that day unassigned, 0.99 7%, the furthest member (1.0) 5%.
    radius_quantile: float = 1.0
    min_radius: float = 0.02
    warm_start: bool = True  # start k-means from the previous version's leaves (see the module docstring)
    # Group the leaves into the tree by their members' mean embedding rather than their centroid in the
    # clustering space: that space is a new UMAP fit on every build, so the same leaves grouped differently
    # from one day to the next (bench/taxonomy_stability.py: the parents' lineage).
    hierarchy_on_embeddings: bool = True
    # How much the previous version's roots hold their leaves together when the tree is rebuilt: each leaf's
    # grouping vector (its mean embedding) gains this weight times a one-hot of the previous root most of
    # its members were under, so Ward's merges prefer leaves that shared a root (0: no memory). On clinc150
    # (bench/taxonomy_stability.py, seeds 0 and 2) 0.3 kept 77-89% of conversations under the same root
    # one day later, 0.8 99%.
    hierarchy_memory: float = 0.8
    # An island of conversations new to the window inside a leaf (at least `island_min_size`, of which
    # `island_fresh_share` were not in the previous version) becomes a leaf (`split_new_islands`; None: never).
    # Lloyd's iterations keep one centre per previous leaf, so a theme that starts small joins its nearest
    # leaf and no centre ever reaches it: on bench/trends.py a theme at 3% of the day was a tight island
    # (members 0.04-0.07 apart, 1.1 from the nearest other member) inside a leaf of 75-110, for good. 10 =
    # KURA_MIN_CLUSTER_SIZE: a smaller piece would be hidden anyway.
    island_min_size: int | None = 10
    island_fresh_share: float = 1 / 3
    lexical_weight: float = 0.5  # as base_clusters (KURA_LEXICAL_WEIGHT)
    manifold: bool = True  # as base_clusters (KURA_MANIFOLD=umap)
    matching: MatchOptions = MatchOptions()

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise ValueError(f"window_days must be at least 1, got {self.window_days}")
        if self.sample_size < 1:
            raise ValueError(f"sample_size must be at least 1, got {self.sample_size}")
        if not 0 < self.radius_quantile <= 1:
            raise ValueError(f"radius_quantile must be in (0, 1], got {self.radius_quantile}")


def window_days(end: Date, days: int) -> list[Date]:
    """The `days` days ending with `end`, oldest first."""
    return [end - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def build_taxonomy(
    summaries: Sequence[ConversationSummary],
    vectors: np.ndarray,
    *,
    version: Date,
    window_start: Date | None = None,
    previous: Taxonomy | None,
    clustering_method: ClusteringMethod,
    namer: ClusterNamer | None,
    meta_model: MetaClusterModel,
    privacy: PrivacyGuard,
    options: TaxonomyOptions = TaxonomyOptions(),
    retired_ids: Iterable[str] = (),
) -> Taxonomy:
    """The taxonomy version of the window [window_start, version] from its summaries and their embeddings
    (row i of `vectors` is summaries[i]'s; summaries with `error` set are left out by the caller).

    previous: the latest version built before this one (None: every topic is born). retired_ids: every id
    the dataset ever used (its `topic_lineage`), so that no id is given twice even after a death;
    the previous version's own ids and lineage are counted anyway. The models are those of the per-day
    stages (`ClusteringResource`): `privacy.protect_leaves` hides leaves below the thresholds counted over
    the window, `privacy.protect_hierarchy(meta_model)` builds the tree. Deterministic: the same input,
    previous version and options give the same ids, names and members.
    """
    if len(summaries) != len(vectors):
        raise ValueError(f"{len(summaries)} summaries but {len(vectors)} embeddings")
    window_start = window_start or version - timedelta(days=options.window_days - 1)
    if not summaries:
        topics, lineage = match_topics([], previous, retired_ids=retired_ids, options=options.matching)
        return Taxonomy(version, window_start, tuple(topics), tuple(lineage))
    unit = unit_rows(np.asarray(vectors, dtype=np.float32), keep_unit=True)
    chat_ids = [s.chat_id for s in summaries]
    sample = seeded_sample(len(summaries), options.sample_size, options.random_state)
    sample_summaries = [summaries[i] for i in sample]
    sample_unit = unit[sample]

    features, space = _clustering_space(sample_summaries, sample_unit, clustering_method, options)
    labels = _cluster(space, sample_unit, [chat_ids[i] for i in sample], previous, clustering_method, options)
    groups = rows_by_label(labels)
    noise = np.flatnonzero(labels == NOISE)
    named = groups_to_clusters(
        groups, sample_summaries, features, namer=namer or KeywordClusterNamer(), unclustered=noise
    )

    # Every conversation of the window gets a leaf: the sample's own, the rest their nearest leaf.
    leaf_of_row = np.full(len(summaries), -1, dtype=np.int64)
    for index, rows in enumerate(groups):
        leaf_of_row[sample[rows]] = index
    if len(noise):
        leaf_of_row[sample[noise]] = len(groups)
    rest = np.flatnonzero(leaf_of_row < 0)
    if len(rest) and not groups:  # HDBSCAN found no topic in the sample: the rest is noise too
        leaf_of_row[rest] = 0
    elif len(rest):
        centroids = unit_rows(np.vstack([sample_unit[rows].mean(axis=0) for rows in groups]))
        leaf_of_row[rest], _ = _nearest(unit, centroids, rows=rest)
    members = rows_by_label(leaf_of_row)
    leaves = [
        cluster.model_copy(
            update={
                "id": cluster_id([chat_ids[r] for r in rows], prefix=cluster.id.split("_", 1)[0]),
                "chat_ids": sorted(chat_ids[r] for r in rows),
                # No clustering-space centroid for the hierarchy when it should group on the embeddings
                # (`hierarchy_on_embeddings`): the meta model then takes the members' mean embedding.
                "centroid": space[groups[i]].mean(axis=0).astype(np.float32).tolist()
                if i < len(groups) and not options.hierarchy_on_embeddings
                else None,
            }
        )
        for i, (cluster, rows) in enumerate(zip(named, members))
    ]
    leaves = privacy.protect_leaves(leaves, summaries)
    if previous is not None and options.hierarchy_memory > 0 and options.hierarchy_on_embeddings:
        leaves = _remember_roots(leaves, members, unit, previous, options.hierarchy_memory)
    nodes = _hierarchy(leaves, summaries, unit, sample, privacy, meta_model)
    drafts = _drafts(nodes, chat_ids, unit, leaf_of_row, leaves, options)
    topics, lineage = match_topics(drafts, previous, retired_ids=retired_ids, options=options.matching)
    return Taxonomy(version, window_start, tuple(topics), tuple(lineage))


def nearest_leaves(vectors: np.ndarray, taxonomy: Taxonomy) -> tuple[list[Topic], np.ndarray, np.ndarray]:
    """The leaves conversations can be assigned to (all but HDBSCAN's "Unclustered"), and for each row of
    `vectors` the index of its nearest one by cosine and the cosine distance to it."""
    candidates = [leaf for leaf in taxonomy.leaves() if leaf.name != UNCLUSTERED_NAME]
    if not candidates or not len(vectors):
        return candidates, np.zeros(len(vectors), dtype=np.int64), np.ones(len(vectors))
    centroids = np.vstack([leaf.centroid for leaf in candidates]).astype(np.float32)
    index, distance = _nearest(unit_rows(np.asarray(vectors, dtype=np.float32), keep_unit=True), centroids)
    return candidates, index, distance


# ----------------------------------------------------------------------------------------------- clustering


def _clustering_space(
    summaries: Sequence[ConversationSummary],
    unit: np.ndarray,
    method: ClusteringMethod,
    options: TaxonomyOptions,
) -> tuple[np.ndarray, np.ndarray]:
    """(features the namer reads, the space the method clusters), as `base_clusters` makes them."""
    texts = [embedding_text(s) for s in summaries]
    if len(summaries) > LARGE_INPUT_ROWS:
        features = large_input_features(
            unit, texts, lexical_weight=options.lexical_weight, random_state=options.random_state
        )
        return features, features
    features = clustering_features(
        unit,
        texts,
        lexical_weight=options.lexical_weight,
        random_state=options.random_state,
        centre=method.centre_features,
    )
    space = manifold_view(features, random_state=options.random_state) if options.manifold else features
    return features, space


def _cluster(
    space: np.ndarray,
    unit: np.ndarray,
    chat_ids: Sequence[str],
    previous: Taxonomy | None,
    method: ClusteringMethod,
    options: TaxonomyOptions,
) -> np.ndarray:
    """Labels of the sample's rows: warm-started from `previous` when the method can, else from scratch."""
    fit_from = getattr(method, "fit_predict_from", None)
    if previous is None or not options.warm_start or fit_from is None:
        return method.fit_predict(space)
    leaf_of = previous.leaf_of_chat()
    centres = warm_start_centres(
        space, unit, chat_ids, previous, method, options.random_state, leaf_of=leaf_of
    )
    if centres is None:
        return method.fit_predict(space)
    labels = fit_from(space, centres)
    if options.island_min_size is None:
        return labels
    fresh = np.array([chat not in leaf_of for chat in chat_ids], dtype=bool)
    return split_new_islands(space, labels, fresh, options.island_min_size, options.island_fresh_share)


# On bench/trends.py (clinc150, seed 1) the 3% theme's conversations were 0.04-0.07 apart and 1.08 from the
# nearest other member of their leaf, where a quarter of the leaves' spacing (1.16) chained them to it.
ISLAND_LINK = 0.1


def split_new_islands(
    space: np.ndarray, labels: np.ndarray, fresh: np.ndarray, min_size: int, fresh_share: float
) -> np.ndarray:
    """`labels` with every island of new conversations inside a leaf made a leaf of its own (numbered after the
    rest).

    An island: the members of a leaf linked to each other by steps shorter than ISLAND_LINK times the median
    distance between neighbouring leaves' centres (single linkage), apart from the leaf's largest such
    group. It becomes a leaf when it holds `min_size` rows of which at least `fresh_share` are `fresh` (not in
    the previous version): a theme that is new. Islands of conversations the previous version held were
    there when their leaf was made, and stay (splitting them only churns ids)."""
    from scipy.sparse.csgraph import connected_components

    groups = rows_by_label(labels)
    if len(groups) < 2 or not fresh.any():
        return labels
    centres = np.vstack([space[rows].mean(axis=0) for rows in groups])
    between = _distances(centres, centres)
    np.fill_diagonal(between, np.inf)
    link = ISLAND_LINK * float(np.median(between.min(axis=1)))
    labels = labels.copy()
    next_label = int(labels.max()) + 1
    for rows in groups:
        if fresh[rows].sum() < min_size * fresh_share or len(rows) < min_size + 1:
            continue
        count, component = connected_components(_distances(space[rows], space[rows]) < link, directed=False)
        if count < 2:
            continue
        sizes = np.bincount(component, minlength=count)
        for island in np.argsort(-sizes, kind="stable")[1:]:
            members = rows[component == island]
            if len(members) >= min_size and fresh[members].mean() >= fresh_share:
                labels[members] = next_label
                next_label += 1
    return labels


def _distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x, y = x.astype(np.float64), y.astype(np.float64)
    return np.sqrt(np.maximum((x**2).sum(1)[:, None] - 2 * x @ y.T + (y**2).sum(1)[None], 0.0))


def warm_start_centres(
    space: np.ndarray,
    unit: np.ndarray,
    chat_ids: Sequence[str],
    previous: Taxonomy,
    method: ClusteringMethod,
    random_state: int,
    *,
    leaf_of: Mapping[str, str] | None = None,
) -> np.ndarray | None:
    """Starting centres in this window's clustering space: one per previous leaf that still has members
    here (their mean), then about one per `target_cluster_size` conversations new to the window that lie
    beyond every previous leaf's radius (when at least half that many do), then, while fewer than the
    method's cluster count for this many rows, the rows furthest from every centre. None when no previous
    leaf has a member in the window. leaf_of: `previous.leaf_of_chat()`, when the caller has it already."""
    leaves = [leaf for leaf in previous.leaves() if leaf.name != UNCLUSTERED_NAME]
    index_of = {leaf.topic_id: i for i, leaf in enumerate(leaves)}
    leaf_of = previous.leaf_of_chat() if leaf_of is None else leaf_of
    labels = np.array([index_of.get(leaf_of.get(chat, ""), -1) for chat in chat_ids], dtype=np.int64)
    kept = [rows for rows in rows_by_label(labels)]
    if not kept:
        return None
    centres = [space[rows].mean(axis=0) for rows in kept]
    fresh = np.flatnonzero(labels < 0)
    target = max(int(getattr(method, "target_cluster_size", 30)), 1)
    # Half a target cluster of newcomers outside every previous leaf is enough to try a new topic: a theme
    # at 10% of a day of 200 (bench/trends.py) is 20 conversations on its first day.
    least = max(5, target // 2)
    if len(fresh) >= least:
        centroids = np.vstack([leaf.centroid for leaf in leaves]).astype(np.float32)
        radii = np.array([leaf.radius for leaf in leaves])
        nearest, distance = _nearest(unit[fresh], centroids)
        outside = fresh[distance > radii[nearest]]
        if len(outside) >= least:
            extra = max(1, round(len(outside) / target))
            centres.extend(_kmeans_centres(space[outside], extra, random_state))
    wanted = method.cluster_count(len(space)) if hasattr(method, "cluster_count") else len(centres)
    centres = np.vstack(centres).astype(space.dtype)
    return _add_furthest(space, centres, wanted)


def _kmeans_centres(rows: np.ndarray, k: int, random_state: int) -> list[np.ndarray]:
    if k >= len(rows):
        return list(rows)
    from sklearn.cluster import KMeans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = KMeans(n_clusters=k, n_init=1, random_state=random_state).fit(rows)
    return list(model.cluster_centers_)


def _add_furthest(space: np.ndarray, centres: np.ndarray, wanted: int) -> np.ndarray:
    """`centres` plus, until there are `wanted`, the row furthest from every centre (deterministic)."""
    wanted = min(wanted, len(space))
    if len(centres) >= wanted:
        return centres
    gap = _squared_gap(space, centres)
    added = [centres]
    for _ in range(wanted - len(centres)):
        row = int(np.argmax(gap))
        if gap[row] <= 0:
            break
        added.append(space[row : row + 1])
        gap = np.minimum(gap, ((space - space[row]) ** 2).sum(axis=1))
    return np.vstack(added)


def _squared_gap(space: np.ndarray, centres: np.ndarray) -> np.ndarray:
    gap = np.empty(len(space), dtype=np.float64)
    for start in range(0, len(space), BLOCK_ROWS):
        block = space[start : start + BLOCK_ROWS].astype(np.float64)
        d = (
            (block**2).sum(1)[:, None]
            - 2 * block @ centres.T
            + (centres.astype(np.float64) ** 2).sum(1)[None]
        )
        gap[start : start + len(block)] = np.maximum(d.min(axis=1), 0.0)
    return gap


def _nearest(
    unit: np.ndarray, centroids: np.ndarray, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Index of each unit row's (of `rows` only, when given: no copy of them all) most similar centroid,
    and the cosine distance to it, block by block."""
    count = len(unit) if rows is None else len(rows)
    index = np.empty(count, dtype=np.int64)
    distance = np.empty(count, dtype=np.float64)
    centroids_t = np.ascontiguousarray(centroids.T, dtype=np.float32)
    for start in range(0, count, BLOCK_ROWS):
        block = unit[start : start + BLOCK_ROWS] if rows is None else unit[rows[start : start + BLOCK_ROWS]]
        similarity = block @ centroids_t
        best = similarity.argmax(axis=1)
        index[start : start + len(best)] = best
        distance[start : start + len(best)] = 1.0 - similarity[np.arange(len(best)), best]
    return index, np.maximum(distance, 0.0)


# ----------------------------------------------------------------------------------------------- hierarchy


def _hierarchy(
    leaves: Sequence[Cluster],
    summaries: Sequence[ConversationSummary],
    unit: np.ndarray,
    sample: np.ndarray,
    privacy: PrivacyGuard,
    meta_model: MetaClusterModel,
) -> list[Cluster]:
    """The tree over `leaves` (members: the whole window), built as `meta_clusters` builds a day's.

    Above the sample size the hierarchy is built and named from the sampled members of each leaf (a leaf
    has at least one: it was clustered from them) and parents then hold the whole window's members of
    their leaves. Thresholds inside the hierarchy are then judged on the sample's smaller counts, which can
    only hide more, never show more; the leaves keep what `protect_leaves` decided on the window's counts.
    """
    model = privacy.protect_hierarchy(meta_model)
    if len(sample) == len(summaries):
        nodes = reduce_clusters_from_base_clusters(leaves, summaries, unit, model=model)
    else:
        in_sample = {summaries[i].chat_id for i in sample}
        sampled = [
            leaf.model_copy(update={"chat_ids": [c for c in leaf.chat_ids if c in in_sample]})
            for leaf in leaves
        ]
        nodes = reduce_clusters_from_base_clusters(
            sampled, [summaries[i] for i in sample], unit[sample], model=model
        )
    full = {leaf.id: leaf for leaf in leaves}
    parents = {node.parent_id for node in nodes if node.parent_id is not None}
    children: dict[str, list[str]] = {}
    for node in nodes:
        if node.parent_id is not None:
            children.setdefault(node.parent_id, []).append(node.id)

    def leaf_ids_below(node_id: str) -> list[str]:
        kids = children.get(node_id)
        return [node_id] if not kids else [leaf for kid in kids for leaf in leaf_ids_below(kid)]

    result = []
    for node in nodes:
        if node.id not in parents and node.id in full:  # a leaf: its window members, names and privacy
            result.append(full[node.id].model_copy(update={"parent_id": node.parent_id}))
        else:
            chats = sorted(chat for leaf in leaf_ids_below(node.id) for chat in full[leaf].chat_ids)
            result.append(node.model_copy(update={"chat_ids": chats}))
    return result


def _remember_roots(
    leaves: Sequence[Cluster],
    members: Sequence[np.ndarray],
    unit: np.ndarray,
    previous: Taxonomy,
    weight: float,
) -> list[Cluster]:
    """`leaves` with grouping vectors [mean unit embedding, weight · one-hot of their previous root]."""
    root_of: dict[str, str] = {}
    for leaf in previous.leaves():
        above = previous.ancestors(leaf.topic_id)
        root_of.update(dict.fromkeys(leaf.chat_ids, above[-1] if above else leaf.topic_id))
    roots = sorted(set(root_of.values()))
    column = {root: i for i, root in enumerate(roots)}
    remembered = []
    for leaf, rows in zip(leaves, members):
        mean = unit[rows].mean(axis=0, dtype=np.float64)
        mean /= max(float(np.linalg.norm(mean)), 1e-12)
        memory = np.zeros(len(roots))
        votes = Counter(root_of[chat] for chat in leaf.chat_ids if chat in root_of)
        if votes:
            memory[column[min(votes, key=lambda root: (-votes[root], root))]] = weight
        remembered.append(
            leaf.model_copy(update={"centroid": np.concatenate([mean, memory]).astype(np.float32).tolist()})
        )
    return remembered


def _drafts(
    nodes: Sequence[Cluster],
    chat_ids: Sequence[str],
    unit: np.ndarray,
    leaf_of_row: np.ndarray,
    leaves: Sequence[Cluster],
    options: TaxonomyOptions,
) -> list[Topic]:
    """The tree as `Topic`s in depth-first order, still with the clustering's ids (matching replaces them):
    unit centroids in the embedding space and radii from each node's own members."""
    rows_of_leaf = dict(zip((leaf.id for leaf in leaves), rows_by_label(leaf_of_row)))
    ordered = depth_first(nodes)
    children: dict[str, list[str]] = {}
    for node, _ in ordered:
        if node.parent_id is not None:
            children.setdefault(node.parent_id, []).append(node.id)
    rows_cache: dict[str, np.ndarray] = {}

    def rows_of(node_id: str) -> np.ndarray:
        if node_id not in rows_cache:
            kids = children.get(node_id)
            rows_cache[node_id] = (
                np.sort(np.concatenate([rows_of(kid) for kid in kids])) if kids else rows_of_leaf[node_id]
            )
        return rows_cache[node_id]

    drafts = []
    for node, level in ordered:
        centroid, radius = _centre_and_radius(unit, rows_of(node.id), options)
        drafts.append(
            Topic(
                topic_id=node.id,
                parent_id=node.parent_id,
                level=level,
                name=node.name,
                description=node.description,
                slug=node.slug,
                count=node.count,
                hidden=is_hidden(node),
                centroid=centroid,
                radius=radius,
                chat_ids=tuple(node.chat_ids),
            )
        )
    return drafts


def _centre_and_radius(
    unit: np.ndarray, rows: np.ndarray, options: TaxonomyOptions
) -> tuple[np.ndarray, float]:
    """The unit mean of the rows' vectors and the radius quantile of their cosine distances to it."""
    total = np.zeros(unit.shape[1], dtype=np.float64)
    for start in range(0, len(rows), BLOCK_ROWS):
        total += unit[rows[start : start + BLOCK_ROWS]].sum(axis=0, dtype=np.float64)
    norm = float(np.linalg.norm(total))
    centroid = (total / norm if norm > 0 else total).astype(np.float32)
    distances = np.concatenate(
        [1.0 - unit[rows[start : start + BLOCK_ROWS]] @ centroid for start in range(0, len(rows), BLOCK_ROWS)]
    )
    radius = float(np.quantile(distances, options.radius_quantile)) if len(distances) else 0.0
    return centroid, max(radius, options.min_radius)
