"""The real path of bench/trends.py's `e2e` mode: local summaries and embeddings, a taxonomy rebuilt every day
over the trailing window with the previous version (stable ids), every day assigned to its version.

Each distinct text is summarised and embedded once (a label's texts repeat across days: the same text gives the
same summary and vector), then copied under each conversation's own chat id. Models and thresholds are the
local defaults the assets use, read from the environment's settings (KURA_TARGET_CLUSTER_SIZE,
KURA_MIN_CLUSTER_SIZE, KURA_TAXONOMY_WINDOW_DAYS, ...).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import numpy as np

from kura_dagster.core.privacy.thresholds import PrivacyGuard, Thresholds
from kura_dagster.core.settings import Settings
from kura_dagster.core.stages.base_clusters import KMeansClusteringMethod
from kura_dagster.core.stages.embeddings import WordLlamaEmbeddingModel, embed_summaries
from kura_dagster.core.stages.meta_clusters import AgglomerativeMetaClusterModel
from kura_dagster.core.stages.summaries import ExtractiveSummaryModel, summarise_conversations
from kura_dagster.core.stages.taxonomy import TaxonomyOptions, build_taxonomy
from kura_dagster.core.stages.topic_assignments import assign_to_taxonomy
from kura_dagster.core.stages.topic_trends import counts_of, history_from_taxonomies, leaves_under
from kura_dagster.core.types import Conversation, Message
from kura_dagster.core.vectors import nearest_rows


def encode(texts: list[str], cache: dict) -> None:
    """Summary and unit vector of every text not in `cache` yet."""
    todo = sorted({t for t in texts if t not in cache})
    if not todo:
        return
    stamp = datetime(2026, 1, 1, tzinfo=timezone.utc)
    conversations = [
        Conversation(chat_id=f"text-{i}", created_at=stamp, messages=[Message(role="user", content=text)])
        for i, text in enumerate(todo)
    ]
    summaries = summarise_conversations(conversations, model=ExtractiveSummaryModel())
    vectors = embed_summaries(summaries, model=WordLlamaEmbeddingModel())
    for text, summary, vector in zip(todo, summaries, vectors):
        cache[text] = (summary, np.asarray(vector, dtype=np.float32))


def label_agreement(run, cache: dict, k: int = 10) -> dict[str, float]:
    """How far the embeddings separate each planted theme: the share of its texts' `k` nearest other texts
    (cosine, among the distinct texts of the run's labels, each once) that carry its label. Every clustering
    of these vectors, and every topic built on them, inherits it: a theme whose nearest texts are mostly other
    labels' lands among them, where its growth is a fraction of a mixed topic's."""
    labelled = sorted({(text, label) for rows in run.days for _, text, label in rows})
    labels = np.array([label for _, label in labelled])
    nearest = nearest_rows(np.vstack([cache[text][1] for text, _ in labelled]).astype(np.float64), k)
    agree = (labels[nearest] == labels[:, None]).mean(axis=1)
    return {theme: round(float(agree[labels == label].mean()), 3) for theme, label in run.planted.items()}


def real_path(run, cache: dict, day_of, Assigned, warmup: int):
    settings = Settings.from_env()
    seed = run.seed
    encode([text for rows in run.days for _, text, _ in rows], cache)
    window = settings.taxonomy_window_days
    counts, taxonomies, histories, parents, topic_of = {}, [], [], [], {}
    previous, retired, versions = None, set(), []
    first = warmup - 1  # the first version: the warm-up days are assigned to it
    for index, rows in enumerate(run.days):
        if index < first:
            continue
        start = max(0, index - window + 1)
        members = [row for d in range(start, index + 1) for row in run.days[d]]
        summaries = [cache[text][0].model_copy(update={"chat_id": chat}) for chat, text, _ in members]
        vectors = np.vstack([cache[text][1] for _, text, _ in members])
        taxonomy = build_taxonomy(
            summaries,
            vectors,
            version=day_of(index),
            window_start=day_of(start),
            previous=previous,
            clustering_method=KMeansClusteringMethod(
                target_cluster_size=settings.target_cluster_size,
                random_state=seed,
                max_clusters=settings.max_base_clusters,
            ),
            namer=None,
            meta_model=AgglomerativeMetaClusterModel(
                max_roots=settings.max_roots, branching=settings.meta_branching
            ),
            privacy=PrivacyGuard(Thresholds(settings.min_cluster_size, settings.min_cluster_users)),
            options=TaxonomyOptions(
                window_days=window, random_state=seed, manifold=settings.manifold == "umap"
            ),
            retired_ids=sorted(retired),
        )
        retired |= taxonomy.known_ids()
        for day in range(0, index + 1) if index == first else (index,):
            rows = run.days[day]
            chats = [chat for chat, _, _ in rows]
            assigned = assign_to_taxonomy(chats, np.vstack([cache[text][1] for _, text, _ in rows]), taxonomy)
            day_topics = assigned.column("topic_id").to_pylist()
            topic_of.update(zip(chats, day_topics))
            counts[day_of(day)] = dict(Counter(day_topics))
        versions.append(taxonomy)
        history = history_from_taxonomies(versions)
        repeat = index - len(histories) + 1  # the warm-up days share the first version
        taxonomies.extend([taxonomy] * repeat)
        histories.extend([history] * repeat)
        parents.extend([{t.topic_id: t.parent_id for t in taxonomy.topics}] * repeat)
        previous = taxonomy

    def window_view(day: int, days: int):
        """The last `days` days up to `day` assigned to `day`'s version (one taxonomy for the whole series)."""
        daily = {
            day_of(d): (
                [chat for chat, _, _ in run.days[d]],
                np.vstack([cache[text][1] for _, text, _ in run.days[d]]),
            )
            for d in range(max(0, day - days + 1), day + 1)
        }
        # what the topic_trends asset does: every conversation to its nearest leaf (`counts_under`)
        leaves = leaves_under(taxonomies[day], daily)
        view_topic_of = {
            chat: leaf for d, (chats, _) in daily.items() for chat, leaf in zip(chats, leaves[d])
        }
        window = (daily, leaves)
        return Assigned(counts_of(leaves), taxonomies, histories, view_topic_of, parents, window=window)

    return Assigned(counts, taxonomies, histories, topic_of, parents, window_view)
