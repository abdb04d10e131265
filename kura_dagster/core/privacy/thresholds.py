"""Aggregation thresholds: a cluster is described only when enough conversations and enough people are in it.

Clio never shows a description of a group so small that it could be about one person. A cluster with fewer
than `min_conversations` conversations (KURA_MIN_CLUSTER_SIZE) or fewer than `min_users` distinct users
(KURA_MIN_CLUSTER_USERS, counted from the conversations' metadata `user_id`) keeps its members and its place
in the tree, but its name, description and slug are replaced by fixed text that says nothing about its
content ("Below threshold").

Users are counted only when the partition has user ids at all (an export without them is judged by size
alone); within such a partition, conversations without a `user_id` count together as one unknown user, so
missing ids never make a group look bigger than it is.

The hierarchy needs more than masking: a parent named from its children's content would leak what a hidden
child is about. `ThresholdedMetaClusterModel` makes sure every parent is named from shown content only:

- local path (parents named from their members' requests by c-TF-IDF): the hidden leaves take part in the
  tree's structure (it groups centroids) but their conversations reach the namer with no text at all;
- hosted path (Clio names parents from the children's names): the tree is built over the shown leaves, then
  each hidden leaf hangs under the parent of its nearest shown leaf.

Either way a parent with no shown leaf below it is hidden too, and the views (`core.views.tree_view`) fold the
hidden leaves under each parent into one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kura_dagster.core.stages.meta_clusters import MetaClusterModel
from kura_dagster.core.stages.naming import cluster_id
from kura_dagster.core.tree import children_of, cluster_centroids, leaves
from kura_dagster.core.types import Cluster, ConversationSummary, is_unclustered, user_ids_of

BELOW_THRESHOLD_NAME = "Below threshold"
BELOW_THRESHOLD_DESCRIPTION = (
    "Not described: too few conversations or people (or only groups of too few) to protect their privacy."
)
WITHHELD_NAME = "Withheld by the privacy audit"
WITHHELD_DESCRIPTION = "Its name could not be made general enough to be shown."
HIDDEN_NAMES = frozenset({BELOW_THRESHOLD_NAME, WITHHELD_NAME})
UNKNOWN_USER = "\x00unknown"  # the shared user of conversations without a user_id (never a real id)


@dataclass(frozen=True)
class Thresholds:
    """The smallest group that may be named: conversations (KURA_MIN_CLUSTER_SIZE) and users
    (KURA_MIN_CLUSTER_USERS)."""

    min_conversations: int = 10
    min_users: int = 5

    def shortfall(self, cluster: Cluster, user_of_chat: Mapping[str, str | None]) -> str | None:
        """Why `cluster` may not be named, or None when it may."""
        if cluster.count < self.min_conversations:
            return f"{cluster.count} conversations < {self.min_conversations}"
        users = distinct_users(cluster.chat_ids, user_of_chat)
        if users is not None and users < self.min_users:
            return f"{users} users < {self.min_users}"
        return None


def distinct_users(chat_ids: Sequence[str], user_of_chat: Mapping[str, str | None]) -> int | None:
    """Distinct users among `chat_ids`; None when the partition carries no user id at all."""
    if not any(user is not None for user in user_of_chat.values()):
        return None
    return len({user_of_chat.get(chat) or UNKNOWN_USER for chat in chat_ids})


def is_hidden(cluster: Cluster) -> bool:
    """Shown without a name: below a threshold or withheld by the privacy audit."""
    return cluster.name in HIDDEN_NAMES


def is_content_free(cluster: Cluster) -> bool:
    """Its name says nothing about what its conversations contain (hidden, or HDBSCAN's "Unclustered")."""
    return is_hidden(cluster) or is_unclustered(cluster)


def unshown_ids(nodes: Iterable[tuple[str, str | None, str | None]]) -> set[str]:
    """Ids of the nodes that the views built for other people (explorer page, export cluster files, map image)
    leave out, from (id, parent id, name) triples: a hidden node (below a threshold or withheld) whose every
    leaf is hidden too. Their members' summaries, facets and positions would say what the group is about.

    A hidden parent with a shown or "Unclustered" leaf below it stays (its content-free name already hides
    it) and so do those leaves; only the hidden subtrees under it go.
    """
    nodes = list(nodes)
    ids = {node_id for node_id, _, _ in nodes}
    children: dict[str, list[str]] = {}
    for node_id, parent, _ in nodes:
        if parent is not None and parent in ids and parent != node_id:
            children.setdefault(parent, []).append(node_id)
    hidden_name = {node_id: name in HIDDEN_NAMES for node_id, _, name in nodes}
    all_hidden: dict[str, bool] = {}
    for node_id in ids:  # iterative post-order: trees of thousands of nodes, any depth
        if node_id in all_hidden:
            continue
        stack, path = [node_id], set()
        while stack:
            current = stack[-1]
            pending = [kid for kid in children.get(current, []) if kid not in all_hidden and kid not in path]
            if pending:
                path.add(current)
                stack.extend(pending)
                continue
            stack.pop()
            path.discard(current)
            kids = children.get(current, [])
            all_hidden[current] = hidden_name[current] and all(all_hidden.get(kid, True) for kid in kids)
    return {node_id for node_id, hidden in all_hidden.items() if hidden}


def hidden_slug(cluster: Cluster, stem: str) -> str:
    # The id is a hash of the member ids (already in the table), so the slug stays unique and says nothing.
    return f"{stem}_{cluster.id.rsplit('_', 1)[-1][:8]}"


def hide(cluster: Cluster, *, withheld: bool = False) -> Cluster:
    """The cluster with a fixed, content-free name, description and slug; members and place unchanged."""
    if withheld:
        name, description, stem = WITHHELD_NAME, WITHHELD_DESCRIPTION, "withheld"
    else:
        name, description, stem = BELOW_THRESHOLD_NAME, BELOW_THRESHOLD_DESCRIPTION, "below_threshold"
    return cluster.model_copy(
        update={"name": name, "description": description, "slug": hidden_slug(cluster, stem)}
    )


def apply_thresholds(
    clusters: Sequence[Cluster], user_of_chat: Mapping[str, str | None], thresholds: Thresholds
) -> list[Cluster]:
    """Every cluster, those below a threshold hidden (idempotent; "Unclustered" is already content-free)."""
    return [
        hide(c) if not is_content_free(c) and thresholds.shortfall(c, user_of_chat) is not None else c
        for c in clusters
    ]


def threshold_problems(
    nodes: Sequence[Cluster], user_of_chat: Mapping[str, str | None], thresholds: Thresholds
) -> list[str]:
    """Named nodes below a threshold, and named parents without a named leaf below them (a name that could
    only have come from hidden content). Empty when the thresholds hold."""
    problems = [
        f"{node.id} is named ({node.name!r}) with {reason}"
        for node in nodes
        if not is_content_free(node) and (reason := thresholds.shortfall(node, user_of_chat)) is not None
    ]
    named_below = named_leaf_below(nodes)
    parents = {n.parent_id for n in nodes if n.parent_id is not None}
    problems += [
        f"{node.id} is named ({node.name!r}) but every leaf below it is hidden"
        for node in nodes
        if node.id in parents and not is_content_free(node) and not named_below.get(node.id)
    ]
    return problems


def summary_of_hiding(
    nodes: Sequence[Cluster], thresholds: Thresholds, user_of_chat: Mapping[str, str | None]
) -> dict[str, Any]:
    """What the thresholds did, for asset metadata: plain numbers, no content."""
    hidden_leaves = [n for n in leaves(nodes) if is_hidden(n)]
    return {
        "min_cluster_size": thresholds.min_conversations,
        "min_cluster_users": thresholds.min_users,
        "user_threshold_applied": distinct_users([], user_of_chat) is not None,
        "hidden_clusters": sum(1 for n in nodes if is_hidden(n)),
        "hidden_leaf_conversations": sum(n.count for n in hidden_leaves),
    }


class ThresholdedMetaClusterModel:
    """A `MetaClusterModel` that never names a parent from hidden content (see the module docstring).

    Parameters
    ----------
    inner:
        The model that builds the hierarchy (agglomerative or Clio's).
    thresholds:
        Applied to the leaves (again: a base table written before thresholds existed is masked too) and to
        every parent.
    hidden_leaves_in_structure:
        True when `inner` names parents from their conversations (the local model): it gets every leaf, and
        the hidden leaves' conversations without text. False when it names parents from the children's
        names (Clio's): it gets the shown leaves only and the hidden ones are attached afterwards.
    review:
        Optional last pass over the tree (the hosted privacy audit of parent names).
    """

    def __init__(
        self,
        inner: MetaClusterModel,
        thresholds: Thresholds,
        *,
        hidden_leaves_in_structure: bool = True,
        review=None,
    ) -> None:
        self.inner = inner
        self.thresholds = thresholds
        self.hidden_leaves_in_structure = hidden_leaves_in_structure
        self.review = review
        self.hiding: dict[str, Any] = {}

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def fell_back(self) -> bool:
        return self.inner.fell_back

    def reduce(
        self, clusters: Sequence[Cluster], summaries: Sequence[ConversationSummary], embeddings: np.ndarray
    ) -> list[Cluster]:
        user_of_chat = user_ids_of(summaries)
        base = apply_thresholds(clusters, user_of_chat, self.thresholds)
        hidden = [c for c in base if is_hidden(c)]
        if self.hidden_leaves_in_structure:
            unseen = {chat for c in hidden for chat in c.chat_ids}
            nodes = self.inner.reduce(base, without_text(summaries, unseen), embeddings)
        else:
            nodes = self.inner.reduce([c for c in base if not is_hidden(c)], summaries, embeddings)
            nodes = attach_hidden_leaves(nodes, hidden, summaries, embeddings)
        nodes = hide_parents_without_shown_leaves(apply_thresholds(nodes, user_of_chat, self.thresholds))
        if self.review is not None:
            nodes = self.review(nodes)
        self.hiding = summary_of_hiding(nodes, self.thresholds, user_of_chat)
        return nodes


def without_text(summaries: Sequence[ConversationSummary], chat_ids: set[str]) -> list[ConversationSummary]:
    """The summaries, those of `chat_ids` with every text facet emptied: what a namer may not read."""
    blank = {
        "summary": "",
        "request": None,
        "task": None,
        "topic": None,
        "assistant_errors": [],
        "custom_facets": {},
    }
    return [s.model_copy(update=blank) if s.chat_id in chat_ids else s for s in summaries]


def named_leaf_below(nodes: Sequence[Cluster]) -> dict[str, bool]:
    """node id → whether a named (not content-free) leaf is at or below it."""
    children = children_of(nodes)
    found: dict[str, bool] = {}

    def visit(node: Cluster) -> bool:
        kids = children.get(node.id, [])
        found[node.id] = any([visit(kid) for kid in kids]) if kids else not is_content_free(node)
        return found[node.id]

    for root in children.get(None, []):
        visit(root)
    return found


def hide_parents_without_shown_leaves(nodes: Sequence[Cluster]) -> list[Cluster]:
    """A parent whose leaves are all hidden could only be named from hidden content: it is hidden too."""
    named_below = named_leaf_below(nodes)
    parents = {n.parent_id for n in nodes if n.parent_id is not None}
    return [
        hide(n) if n.id in parents and not is_content_free(n) and not named_below.get(n.id, True) else n
        for n in nodes
    ]


def attach_hidden_leaves(
    nodes: Sequence[Cluster],
    hidden: Sequence[Cluster],
    summaries: Sequence[ConversationSummary],
    embeddings: np.ndarray,
) -> list[Cluster]:
    """`nodes` plus each hidden leaf under the parent of its nearest shown leaf (a root when that leaf is one).

    The ancestors gain the hidden members, so counts still add up; their ids are re-derived from their new
    members (ids are hashes of members everywhere) and their descriptions say how many conversations they
    hold that their name does not describe.
    """
    if not hidden:
        return list(nodes)
    topics = [n for n in leaves(nodes) if not is_unclustered(n)]
    if not topics:
        return list(nodes) + [c.model_copy(update={"parent_id": None}) for c in hidden]
    row_of_chat = {summary.chat_id: row for row, summary in enumerate(summaries)}
    centroids = cluster_centroids(list(topics) + list(hidden), row_of_chat, embeddings)
    shown_centroids, hidden_centroids = centroids[: len(topics)], centroids[len(topics) :]
    by_id = {n.id: n for n in nodes}
    added: dict[str, list[str]] = {}
    placed = []
    for leaf, centroid in zip(hidden, hidden_centroids):
        nearest = topics[int(np.argmin(((shown_centroids - centroid) ** 2).sum(axis=1)))]
        placed.append(leaf.model_copy(update={"parent_id": nearest.parent_id}))
        ancestor = nearest.parent_id
        while ancestor is not None:
            added.setdefault(ancestor, []).extend(leaf.chat_ids)
            ancestor = by_id[ancestor].parent_id
    renamed: dict[str, str] = {}
    grown: dict[str, Cluster] = {}
    for node_id, extra in added.items():
        node = by_id[node_id]
        chat_ids = sorted(set(node.chat_ids) | set(extra))
        new_id = cluster_id(chat_ids, prefix=node.id.split("_", 1)[0])
        renamed[node_id] = new_id
        note = f"It also holds {len(chat_ids) - node.count} conversations from groups too small to describe."
        grown[node_id] = node.model_copy(
            update={
                "id": new_id,
                "chat_ids": chat_ids,
                "description": f"{node.description.rstrip()} {note}".strip(),
            }
        )
    result = []
    for node in [grown.get(n.id, n) for n in nodes] + placed:
        parent = renamed.get(node.parent_id, node.parent_id) if node.parent_id is not None else None
        result.append(node.model_copy(update={"parent_id": parent}))
    return result


class PrivacyGuard:
    """What the assets call: the thresholds, then (hosted path, when switched on) the privacy audit.

    `auditor` is anything with `audit(clusters)`, `audit_parents(nodes)` and `outcome.as_metadata()`
    (`core.llm.auditor.PrivacyAuditor`); None on the local path. `hidden_leaves_in_structure`: see
    `ThresholdedMetaClusterModel` (True for the local hierarchy, False for Clio's).
    """

    def __init__(
        self, thresholds: Thresholds, auditor=None, *, hidden_leaves_in_structure: bool = True
    ) -> None:
        self.thresholds = thresholds
        self.auditor = auditor
        self.hidden_leaves_in_structure = hidden_leaves_in_structure
        self._model: ThresholdedMetaClusterModel | None = None
        self._hiding: dict[str, Any] = {}

    def protect_leaves(
        self, clusters: Sequence[Cluster], summaries: Sequence[ConversationSummary]
    ) -> list[Cluster]:
        """Base clusters with those below a threshold hidden and, with the audit on, the rest audited."""
        user_of_chat = user_ids_of(summaries)
        protected = apply_thresholds(clusters, user_of_chat, self.thresholds)
        if self.auditor is not None:
            protected = self.auditor.audit(protected)
        self._hiding = summary_of_hiding(protected, self.thresholds, user_of_chat)
        return protected

    def protect_hierarchy(self, model: MetaClusterModel) -> ThresholdedMetaClusterModel:
        """`model` wrapped so that no parent is named from hidden content (and parents are audited)."""
        review = self.auditor.audit_parents if self.auditor is not None else None
        self._model = ThresholdedMetaClusterModel(
            model, self.thresholds, hidden_leaves_in_structure=self.hidden_leaves_in_structure, review=review
        )
        return self._model

    def metadata(self) -> dict[str, Any]:
        """Numbers for the asset's metadata: thresholds, hidden clusters, audit outcome."""
        hiding = self._model.hiding if self._model is not None else self._hiding
        audit = self.auditor.outcome.as_metadata() if self.auditor is not None else {}
        return {**hiding, **audit}


@dataclass(frozen=True)
class HiddenConversations:
    """What the thresholds keep from a person reading a tree, and which settings would show it.

    `settings` maps a KURA_* name to (its value now, the value that would show every hidden group): only the
    settings that have to be lowered. Empty when the groups were hidden by thresholds higher than today's
    (the day ran before they were lowered: running it again shows them) or only by the privacy audit.
    """

    conversations: int
    groups: int
    total: int
    withheld: int = 0
    settings: dict[str, tuple[int, int]] = field(default_factory=dict)

    def sentence(self, rerun: str = "") -> str:
        """One line for a person ("" when nothing is hidden); `rerun` is the command that applies a change."""
        parts = []
        if self.conversations:
            of = f" of {self.total:,}" if self.total else ""
            groups = f"{self.groups} group{'s' if self.groups != 1 else ''}"
            parts.append(
                f"{self.conversations:,}{of} conversations are in {groups} below the privacy thresholds and "
                "are not described"
            )
            then = f" (then `{rerun}`)" if rerun else ""
            if self.settings:
                change = " and ".join(
                    f"{name}={show} (now {now})" for name, (now, show) in self.settings.items()
                )
                it = "them" if len(self.settings) > 1 else "it"
                parts.append(
                    f"{change} would show them{then}; lower {it} only if groups that small may be shown"
                )
            else:
                again = f": `{rerun}`" if rerun else ""
                parts.append(f"the thresholds set now would show them once the day runs again{again}")
        if self.withheld:
            parts.append(f"{self.withheld:,} conversations are in groups withheld by the privacy audit")
        return "; ".join(parts) + ("." if parts else "")


def hidden_conversations(
    hidden_leaves: Iterable[tuple[str, Sequence[str]]],
    user_of_chat: Mapping[str, str | None],
    thresholds: Thresholds,
    *,
    total: int = 0,
) -> HiddenConversations:
    """Count the members of the hidden leaves, given as (name, chat ids), and find the smallest change of
    KURA_MIN_CLUSTER_SIZE / KURA_MIN_CLUSTER_USERS under which every group below the thresholds would be
    named. Clustering does not read these settings, so the same groups come back when the day runs again."""
    sizes, users, withheld, below = [], [], 0, 0
    for name, chat_ids in hidden_leaves:
        if name == WITHHELD_NAME:
            withheld += len(chat_ids)
            continue
        below += len(chat_ids)
        sizes.append(len(chat_ids))
        counted = distinct_users(chat_ids, user_of_chat)
        if counted is not None:
            users.append(counted)
    settings: dict[str, tuple[int, int]] = {}
    if sizes and min(sizes) < thresholds.min_conversations:
        settings["KURA_MIN_CLUSTER_SIZE"] = (thresholds.min_conversations, min(sizes))
    if users and min(users) < thresholds.min_users:
        settings["KURA_MIN_CLUSTER_USERS"] = (thresholds.min_users, min(users))
    return HiddenConversations(below, len(sizes), total, withheld, settings)


def hidden_leaves_of(nodes: Sequence[Cluster]) -> list[tuple[str, Sequence[str]]]:
    """(name, chat ids) of the hidden leaves of a tree, for `hidden_conversations`."""
    return [(n.name, n.chat_ids) for n in leaves(nodes) if is_hidden(n)]
