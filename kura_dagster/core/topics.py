"""The taxonomy's data: topics with stable ids, their lineage events, one version per dataset and day.

Data only (like `core.types`), so that the storage layer converts it to tables without importing a stage;
`core.stages.taxonomy` builds it and re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date as Date

import numpy as np

UNASSIGNED = "unassigned"  # topic_id of a conversation further from its nearest leaf than that leaf's radius
EVENTS = ("born", "kept", "renamed", "split", "merged", "died")
TOPIC_ID_PREFIX = "t"  # ids are "t" + 5 digits (t00042), numbered per dataset in order of birth


def topic_number(topic_id: str) -> int | None:
    """The number of a stable id ("t00042" → 42); None for anything else."""
    digits = topic_id[len(TOPIC_ID_PREFIX) :]
    return int(digits) if topic_id.startswith(TOPIC_ID_PREFIX) and digits.isdigit() else None


def format_topic_id(number: int) -> str:
    return f"{TOPIC_ID_PREFIX}{number:05d}"


@dataclass(frozen=True, eq=False)
class Topic:
    """One node of a taxonomy version (leaf or parent).

    centroid: unit vector in the embedding space (the mean of its members' unit embeddings, normalised).
    radius: cosine distance from the centroid beyond which a conversation is not this leaf's (`unassigned`),
    a high quantile of its own members' distances. chat_ids: its members in this version's window.
    """

    topic_id: str
    parent_id: str | None
    level: int
    name: str
    description: str
    slug: str
    count: int
    hidden: bool
    centroid: np.ndarray = field(repr=False)
    radius: float
    chat_ids: tuple[str, ...] = field(repr=False)


@dataclass(frozen=True)
class LineageEvent:
    """What happened to a topic in a version: born, kept, renamed, split (related_id: the id it split from),
    merged (related_id: the id it merged into), died."""

    topic_id: str
    event: str
    related_id: str | None = None

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ValueError(f"lineage event {self.event!r}: expected one of {', '.join(EVENTS)}")


@dataclass(frozen=True, eq=False)
class Taxonomy:
    """A version of a dataset's taxonomy: the topics clustered from the window [window_start, version].

    `lineage` holds one event per topic of this version (born, kept, renamed, split) and one per topic of
    the previous version that is gone (merged, died).
    """

    version: Date
    window_start: Date
    topics: tuple[Topic, ...]
    lineage: tuple[LineageEvent, ...] = ()

    def by_id(self) -> dict[str, Topic]:
        return {topic.topic_id: topic for topic in self.topics}

    def children(self) -> dict[str | None, list[Topic]]:
        """Children of each topic id (None holds the roots), in table order."""
        found: dict[str | None, list[Topic]] = {}
        for topic in self.topics:
            found.setdefault(topic.parent_id, []).append(topic)
        return found

    def leaves(self) -> list[Topic]:
        """Topics without children: every conversation of the window is in exactly one."""
        parents = {topic.parent_id for topic in self.topics}
        return [topic for topic in self.topics if topic.topic_id not in parents]

    def leaf_of_chat(self) -> dict[str, str]:
        return {chat: leaf.topic_id for leaf in self.leaves() for chat in leaf.chat_ids}

    def ancestors(self, topic_id: str) -> list[str]:
        """The ids above `topic_id`, its parent first."""
        by_id = self.by_id()
        found = []
        parent = by_id[topic_id].parent_id
        while parent is not None and parent in by_id and parent not in found:
            found.append(parent)
            parent = by_id[parent].parent_id
        return found

    def known_ids(self) -> set[str]:
        """Every id this version names: its topics and those of its lineage (the dead and merged too)."""
        return {t.topic_id for t in self.topics} | {e.topic_id for e in self.lineage}

    def events(self) -> dict[str, LineageEvent]:
        return {event.topic_id: event for event in self.lineage}
