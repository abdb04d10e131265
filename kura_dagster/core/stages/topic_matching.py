"""Stable topic ids: match a rebuilt taxonomy's topics to the previous version's (`match_topics`).

Consecutive windows share all days but one, so most conversations are members of both versions. Topics are
matched by those shared members, leaves with leaves and parents with parents (every level):

- a new topic *continues* a previous one when each is the other's best match (the Jaccard index of their
  shared members: a root shares more with everything below it than the parent a child continues) and it
  took at least `continue_share` of the previous topic's members still in the window, or at least that
  share of its own members come from it: it keeps the id (event `kept`), and its name unless its content
  changed materially (shared-member Jaccard below `rename_below`, or it crossed a privacy threshold), in
  which case it takes the new name (event `renamed`). Its description is always this version's: it counts
  and quotes the members the topic has now;
- a new topic that does not continue one but whose shared members come mostly from one previous topic
  `split` from it (a new id, related_id = that topic's id);
- a previous topic that nothing continues `merged` into the new topic that took most of its members, or
  `died` when no new topic took a `merge_share` of them;
- anything else new is `born`.

Topics with no shared member at all (a gap between versions, or a topic whose members were all on the day
that left the window) fall back on their centroids: mutual most similar pairs above `centroid_similarity`
continue. New ids are "t" + 5 digits, numbered per dataset in order of birth, never reused.

A version shows each name once (`_distinct_names`): a kept name is the topic's identity and stays, so a
fresh name that another topic of the version already holds gives way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse

from kura_dagster.core.stages.naming import numbered_name, unique_slugs
from kura_dagster.core.topics import LineageEvent, Taxonomy, Topic, format_topic_id, topic_number


@dataclass(frozen=True)
class MatchOptions:
    continue_share: float = 0.5
    split_share: float = 0.5
    merge_share: float = 0.3
    centroid_similarity: float = 0.9
    rename_below: float = 0.5


def match_topics(
    new_topics: Sequence[Topic],
    previous: Taxonomy | None,
    *,
    retired_ids: Iterable[str] = (),
    options: MatchOptions = MatchOptions(),
) -> tuple[list[Topic], list[LineageEvent]]:
    """`new_topics` (a tree with provisional ids, in table order) with stable ids, parents remapped and kept
    names restored, and the lineage events of this version (one per new topic, then one per previous topic
    that is gone). previous=None: every topic is born. Deterministic for the same inputs."""
    new = list(new_topics)
    old = list(previous.topics) if previous is not None else []
    known = set(retired_ids) | (previous.known_ids() if previous is not None else set())
    next_number = max([0] + [n for n in map(topic_number, known) if n is not None]) + 1

    overlap, shared_old, shared_new = _overlaps(old, new)
    kinds = _kinds(old, new)
    same_kind = np.zeros(overlap.shape, dtype=bool)
    for old_kind, new_kind in kinds:
        same_kind[np.ix_(old_kind, new_kind)] = True
    overlap = np.where(same_kind, overlap, 0.0)
    # Best matches are chosen by Jaccard index, not by shared count: a root shares more with everything
    # below it than the parent a child continues, and must not win for that.
    union = shared_old[:, None] + shared_new[None, :] - overlap
    jaccard = np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)
    continues: dict[int, int] = {}  # new index → old index
    by_centroid: set[int] = set()  # new indices matched on their centroid (no shared member)
    for old_kind, new_kind in kinds:
        if len(old_kind) and len(new_kind):
            pick = np.ix_(old_kind, new_kind)
            counts = np.array([new[j].count for j in new_kind], dtype=np.float64)
            found = _continuations(overlap[pick], jaccard[pick], shared_old[old_kind], counts, options)
        else:
            found = []
        for i, j in found:
            continues[new_kind[j]] = old_kind[i]
        for i, j in _centroid_pairs(old, new, old_kind, new_kind, continues, shared_old, shared_new, options):
            continues[j] = i
            by_centroid.add(j)

    stable: dict[str, str] = {}  # provisional id → stable id
    events: list[LineageEvent] = []
    named: list[Topic] = []
    previous_names: dict[int, Topic] = {}  # new index → the topic it continues, for a renamed topic
    for j, topic in enumerate(new):
        if j in continues:
            before = old[continues[j]]
            stable[topic.topic_id] = before.topic_id
            topic, event = _continued(topic, before, overlap, continues[j], j, j in by_centroid, options)
            events.append(LineageEvent(before.topic_id, event))
            if event == "renamed" and not before.hidden:
                previous_names[j] = before
        else:
            stable[topic.topic_id] = format_topic_id(next_number)
            next_number += 1
            source = (
                _best(overlap[:, j], jaccard[:, j], options.split_share * shared_new[j]) if len(old) else None
            )
            events.append(
                LineageEvent(stable[topic.topic_id], "born")
                if source is None
                else LineageEvent(stable[topic.topic_id], "split", old[source].topic_id)
            )
        named.append(topic)
    continued = set(continues.values())
    for i, topic in enumerate(old):
        if i in continued:
            continue
        target = _best(overlap[i], jaccard[i], options.merge_share * shared_old[i]) if len(new) else None
        events.append(
            LineageEvent(topic.topic_id, "died")
            if target is None
            else LineageEvent(topic.topic_id, "merged", stable[new[target].topic_id])
        )
    named, events[: len(named)] = _distinct_names(named, events[: len(named)], previous_names)
    return _with_stable_ids(named, stable, continues), events


def _distinct_names(
    topics: list[Topic], events: list[LineageEvent], previous_names: dict[int, Topic]
) -> tuple[list[Topic], list[LineageEvent]]:
    """Each shown name once in the version (case aside; hidden topics all show the same placeholder).

    The rebuild names its topics apart, but a kept topic brings back its older name, which a fresh name may
    repeat ("Pandas" under "Pandas"). Kept names go first (larger topics first among equals); a renamed topic
    whose new name is taken keeps the name and slug it had (its event becomes `kept`: its name did not
    change); any other repeat becomes "Name (2)", as the namer's own last resort does.
    """
    rank = {"kept": 0, "renamed": 1}
    order = sorted(
        (j for j, topic in enumerate(topics) if not topic.hidden),
        key=lambda j: (rank.get(events[j].event, 2), -topics[j].count, j),
    )
    topics, events = list(topics), list(events)
    used: set[str] = set()
    for j in order:
        name = topics[j].name
        before = previous_names.get(j)
        if name.lower() in used and before is not None and before.name.lower() not in used:
            topics[j] = replace(topics[j], name=before.name, slug=before.slug)
            events[j] = replace(events[j], event="kept")
            name = before.name
        if name.lower() in used:
            name = numbered_name(name, used)
        used.add(name.lower())
        if name != topics[j].name:
            topics[j] = replace(topics[j], name=name)
    return topics, events


def _kinds(old: Sequence[Topic], new: Sequence[Topic]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(old indices, new indices) of the leaves, then of the parents: each kind matches only its own."""
    old_parents = {t.parent_id for t in old}
    new_parents = {t.parent_id for t in new}
    old_leaf = np.array([t.topic_id not in old_parents for t in old], dtype=bool)
    new_leaf = np.array([t.topic_id not in new_parents for t in new], dtype=bool)
    return [
        (np.flatnonzero(old_leaf), np.flatnonzero(new_leaf)),
        (np.flatnonzero(~old_leaf), np.flatnonzero(~new_leaf)),
    ]


def _overlaps(old: Sequence[Topic], new: Sequence[Topic]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shared members of every (old, new) pair of topics, and each topic's members present in both versions.

    Counted on leaves (each conversation is in one leaf per version), then lifted to every level through
    the leaf → ancestors indicator matrices, so a million members cost one pass, not one set per pair.
    """
    if not old or not new:
        return np.zeros((len(old), len(new))), np.zeros(len(old)), np.zeros(len(new))
    old_up, old_leaf_of = _ancestry(old)
    new_up, new_leaf_of = _ancestry(new)
    pairs = [(old_leaf_of[chat], leaf) for chat, leaf in new_leaf_of.items() if chat in old_leaf_of]
    if not pairs:
        return np.zeros((len(old), len(new))), np.zeros(len(old)), np.zeros(len(new))
    rows, cols = np.array(pairs, dtype=np.int64).T
    leaf_overlap = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(old), len(new))).tocsr()
    overlap = (old_up @ leaf_overlap @ new_up.T).toarray()
    return overlap, _shared(old_up, rows, len(old)), _shared(new_up, cols, len(new))


def _shared(up: sparse.csr_matrix, leaf_rows: np.ndarray, size: int) -> np.ndarray:
    per_leaf = np.bincount(leaf_rows, minlength=size).astype(np.float64)
    return np.asarray(up @ per_leaf).ravel()


def _ancestry(topics: Sequence[Topic]) -> tuple[sparse.csr_matrix, dict[str, int]]:
    """(topics × topics indicator: row a has 1 at each leaf at or below a; chat → index of its leaf)."""
    index = {t.topic_id: i for i, t in enumerate(topics)}
    parents = {t.parent_id for t in topics}
    rows, cols = [], []
    leaf_of: dict[str, int] = {}
    for i, topic in enumerate(topics):
        if topic.topic_id in parents:
            continue
        for chat in topic.chat_ids:
            leaf_of[chat] = i
        node: str | None = topic.topic_id
        seen = set()
        while node is not None and node in index and node not in seen:
            seen.add(node)
            rows.append(index[node])
            cols.append(i)
            node = topics[index[node]].parent_id
    up = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(topics), len(topics))).tocsr()
    return up, leaf_of


def _continuations(
    block: np.ndarray,
    jaccard: np.ndarray,
    shared_old: np.ndarray,
    count_new: np.ndarray,
    options: MatchOptions,
) -> list[tuple[int, int]]:
    """(old, new) pairs, within one kind, that are each other's best match and where the new topic took most
    of the old one's members still in the window, or most of its own members come from the old one."""
    best_new = jaccard.argmax(axis=1)
    best_old = jaccard.argmax(axis=0)
    pairs = []
    for i, j in enumerate(best_new):
        shared = block[i, j]
        if shared <= 0 or best_old[j] != i:
            continue
        if (
            shared >= options.continue_share * shared_old[i]
            or shared >= options.continue_share * count_new[j]
        ):
            pairs.append((i, int(j)))
    return pairs


def _centroid_pairs(old, new, old_kind, new_kind, continues, shared_old, shared_new, options):
    """Mutual most similar (old, new) pairs, by centroid, among the topics of one kind without a shared
    member, above `centroid_similarity`, most similar first."""
    taken = set(continues.values())
    old_free = [i for i in old_kind if shared_old[i] == 0 and i not in taken]
    new_free = [j for j in new_kind if shared_new[j] == 0 and j not in continues]
    if not old_free or not new_free:
        return []
    similarity = (
        np.vstack([old[i].centroid for i in old_free]) @ np.vstack([new[j].centroid for j in new_free]).T
    )
    pairs = []
    used_old, used_new = set(), set()
    order = np.argsort(-similarity, axis=None, kind="stable")
    for flat in order:
        a, b = np.unravel_index(flat, similarity.shape)
        if similarity[a, b] < options.centroid_similarity:
            break
        if a in used_old or b in used_new:
            continue
        used_old.add(a)
        used_new.add(b)
        pairs.append((old_free[a], new_free[b]))
    return pairs


def _continued(topic, before, overlap, i, j, by_centroid, options) -> tuple[Topic, str]:
    """The continuing topic with its previous name kept unless its content changed materially: the
    Jaccard index of the two versions' whole memberships (the day that left and the day that came count
    as change) below `rename_below`, or a privacy threshold crossed. A match by centroid is similar. The
    description stays this version's: it counts and quotes the members the topic has now."""
    shared = overlap[i, j] if overlap.size else 0.0
    union = before.count + topic.count - shared
    similar = by_centroid or (union > 0 and shared / union >= options.rename_below)
    if topic.hidden == before.hidden and (similar or topic.name == before.name):
        return replace(topic, name=before.name, slug=before.slug), "kept"
    return topic, "renamed"


def _best(overlap: np.ndarray, jaccard: np.ndarray, least: float) -> int | None:
    """The best match (by Jaccard) among those sharing at least `least` members (and one at all)."""
    eligible = (overlap >= least) & (overlap > 0)
    if not eligible.any():
        return None
    return int(np.argmax(np.where(eligible, jaccard, -1.0)))


def _with_stable_ids(topics: list[Topic], stable: dict[str, str], continues: dict[int, int]) -> list[Topic]:
    """Stable ids and parent ids; slugs made unique again, continuing topics keeping theirs first."""
    order = sorted(range(len(topics)), key=lambda j: (j not in continues, j))
    slugs = dict(zip(order, unique_slugs([topics[j].slug for j in order])))
    return [
        replace(
            topic,
            topic_id=stable[topic.topic_id],
            parent_id=stable.get(topic.parent_id) if topic.parent_id is not None else None,
            slug=slugs[j],
        )
        for j, topic in enumerate(topics)
    ]
