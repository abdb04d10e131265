"""Names and descriptions for groups of conversations from their own words (no LLM).

Keywords come from class-based TF-IDF (c-TF-IDF, as in BERTopic): a word scores high for a group when many
of the group's conversations use it and few other groups do. A keyword must occur in at least
`min_keyword_docs` conversations of the group, so one conversation's rare word never names a topic.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from scipy import sparse

from kura_dagster.core.stages.features import LARGE_INPUT_ROWS
from kura_dagster.core.privacy.injection import drop_instructions
from kura_dagster.core.text import STOP_WORDS, content_words, truncate
from kura_dagster.core.types import ConversationSummary


@dataclass(frozen=True)
class GroupName:
    name: str
    description: str
    keywords: tuple[str, ...]


def naming_text(summary: ConversationSummary) -> str:
    """Names come from the user's own request: the task facet's intent label would name every cluster.
    Sentences that instruct the analysis ("name this cluster ...") never name anything (`core.privacy.injection`)."""
    return drop_instructions(summary.request or summary.summary)


def _analyzer(text: str) -> list[str]:
    words = content_words(text)
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


def ctfidf_keywords(
    group_texts: Sequence[Sequence[str]], *, top_n: int = 6, min_keyword_docs: int = 2
) -> list[list[str]]:
    """Top keywords of each group (a group is the list of its members' texts)."""
    docs = [text for texts in group_texts for text in texts]
    if not docs:
        return [[] for _ in group_texts]
    labels = np.repeat(np.arange(len(group_texts)), [len(texts) for texts in group_texts])
    from sklearn.feature_extraction.text import CountVectorizer  # deferred: loading the definitions stays fast

    vectorizer = CountVectorizer(analyzer=_analyzer, binary=True)
    try:
        doc_terms = vectorizer.fit_transform(docs)
    except ValueError:  # no word survived the stop list
        return [[] for _ in group_texts]
    membership = sparse.csr_matrix(
        (np.ones(len(docs)), (labels, np.arange(len(docs)))), shape=(len(group_texts), len(docs))
    )
    # Sparse throughout: thousands of groups × a vocabulary of 10^5 terms would be gigabytes dense.
    docs_with_term = (membership @ doc_terms).tocsr()  # groups × terms: members using the term
    docs_with_term.sort_indices()
    sizes = np.maximum(np.array([len(texts) for texts in group_texts], dtype=float), 1.0)
    total_per_term = np.asarray(docs_with_term.sum(axis=0)).ravel()
    average_words = docs_with_term.sum() / max(len(group_texts), 1)
    idf = np.log1p(average_words / np.maximum(total_per_term, 1))
    needed = np.minimum(min_keyword_docs, sizes)
    vocabulary = vectorizer.get_feature_names_out()
    keywords = []
    for group in range(len(group_texts)):
        start, end = docs_with_term.indptr[group], docs_with_term.indptr[group + 1]
        terms = docs_with_term.indices[start:end]
        counts = docs_with_term.data[start:end]
        scores = counts / sizes[group] * idf[terms]
        scores[counts < needed[group]] = 0.0
        keywords.append(_top_terms(terms, scores, vocabulary, top_n))
    return keywords


def _top_terms(terms: np.ndarray, scores: np.ndarray, vocabulary: np.ndarray, top_n: int) -> list[str]:
    """Highest-scoring terms, ties broken alphabetically (deterministic names), skipping a unigram already
    inside a chosen bigram and a bigram whose words are both chosen."""
    positive = scores > 0
    terms, scores = terms[positive], scores[positive]
    order = np.lexsort((vocabulary[terms], -scores))
    chosen: list[str] = []
    for index in order:
        if len(chosen) >= top_n:
            break
        term = str(vocabulary[terms[index]])
        if any(term in kept.split() for kept in chosen if " " in kept):
            continue
        if " " in term and all(part in chosen for part in term.split()):
            continue
        chosen.append(term)
    return chosen


def _dominant_intent(tasks: Sequence[str]) -> str | None:
    intents = [task.split(":", 1)[0].strip() for task in tasks if task]
    if not intents:
        return None
    intent, count = Counter(intents).most_common(1)[0]
    return intent if count >= 0.6 * len(tasks) and intent != "Get help" else None


def name_groups(
    group_texts: Sequence[Sequence[str]],
    group_tasks: Sequence[Sequence[str]],
    central_requests: Sequence[str],
    *,
    keyword_count: int = 3,
    group_sizes: Sequence[int] | None = None,
) -> list[GroupName]:
    """A short name (dominant intent plus top keywords) and a two-sentence description per group.

    `group_sizes` are the real member counts when the texts are a sample of each group."""
    all_keywords = ctfidf_keywords(group_texts, top_n=max(keyword_count, 6))
    sizes = group_sizes if group_sizes is not None else [len(texts) for texts in group_texts]
    names = []
    for size, tasks, central, keywords in zip(sizes, group_tasks, central_requests, all_keywords):
        shown = keywords[:keyword_count]
        intent = _dominant_intent(tasks)
        if shown:
            topic = ", ".join(shown)
            name = f"{intent}: {topic}" if intent else topic[:1].upper() + topic[1:]
        else:
            name = intent or "Miscellaneous requests"
        described = ", ".join(keywords) if keywords else "no shared keywords"
        description = (
            f"{size} conversations about {described}. "
            f"Most typical request: \u201c{truncate(central, 160)}\u201d"
        )
        names.append(GroupName(name=name, description=description, keywords=tuple(keywords)))
    return names


@runtime_checkable
class ClusterNamer(Protocol):
    """Names groups of conversations. `groups` holds row indices into `summaries` and `vectors`."""

    name: str

    def name_groups(
        self, groups: Sequence[np.ndarray], summaries: Sequence[ConversationSummary], vectors: np.ndarray
    ) -> list[GroupName]: ...


def central_member(member_rows: np.ndarray, vectors: np.ndarray) -> int:
    """Row of the member closest to the group's centroid."""
    members = vectors[member_rows]
    centroid = members.mean(axis=0)
    return int(member_rows[int(np.argmax(members @ centroid))])


class KeywordClusterNamer:
    """The local namer: dominant intent plus c-TF-IDF keywords, and the most central request.

    Above `large_input_rows` summaries, keywords and the dominant intent come from an evenly spaced sample
    of each group (at least `min_texts_per_group`, about `text_budget` texts in all): tokenising a million
    texts once per tree level is most of the naming cost, and a few dozen members name a topic as well.
    Counts in descriptions and the most central request still use every member.
    """

    name = "keywords-ctfidf"

    def __init__(
        self, keyword_count: int = 3, large_input_rows: int = LARGE_INPUT_ROWS, text_budget: int = 200_000,
        min_texts_per_group: int = 40,
    ) -> None:
        self.keyword_count = keyword_count
        self.large_input_rows = large_input_rows
        self.text_budget = text_budget
        self.min_texts_per_group = min_texts_per_group

    def name_groups(
        self, groups: Sequence[np.ndarray], summaries: Sequence[ConversationSummary], vectors: np.ndarray
    ) -> list[GroupName]:
        sampled = groups
        if len(summaries) > self.large_input_rows and groups:
            per_group = max(self.min_texts_per_group, -(-self.text_budget // len(groups)))
            sampled = [evenly_spaced(rows, per_group) for rows in groups]
        texts = [[naming_text(summaries[i]) for i in rows] for rows in sampled]
        tasks = [[summaries[i].task or "" for i in rows] for rows in sampled]
        central = [drop_instructions(summaries[quotable_member(rows, summaries, vectors)].request or "")
                   for rows in groups]
        return name_groups(texts, tasks, central, keyword_count=self.keyword_count,
                           group_sizes=[len(rows) for rows in groups])


def quotable_member(rows: np.ndarray, summaries: Sequence[ConversationSummary], vectors: np.ndarray) -> int:
    """The most central member that has text to quote: a member without text (a failed summary, a
    conversation the namer may not read) is never quoted. Only a group whose central member has no text
    pays for looking at the others."""
    best = central_member(rows, vectors)
    if naming_text(summaries[best]):
        return best
    readable = np.array([i for i in rows if naming_text(summaries[i])], dtype=np.int64)
    return central_member(readable, vectors) if len(readable) else best


def evenly_spaced(rows: np.ndarray, limit: int) -> np.ndarray:
    """At most `limit` of `rows`, evenly spaced (deterministic; all of them when there are few)."""
    if len(rows) <= limit:
        return rows
    return rows[np.linspace(0, len(rows) - 1, limit).round().astype(np.int64)]


SLUG_CHARS = re.compile(r"[^a-z0-9]+")


def slugify(keywords: Sequence[str], fallback: str) -> str:
    """Kura-style snake_case slug of up to three words."""
    words = [w for w in SLUG_CHARS.sub(" ", " ".join(keywords).lower()).split() if w not in STOP_WORDS]
    return "_".join(words[:3]) or fallback


def unique_slugs(slugs: Sequence[str]) -> list[str]:
    seen: Counter[str] = Counter()
    result = []
    for slug in slugs:
        seen[slug] += 1
        result.append(slug if seen[slug] == 1 else f"{slug}_{seen[slug]}")
    return result


def cluster_id(chat_ids: Sequence[str], prefix: str = "c") -> str:
    """Content-derived id: the same members give the same id on every run (Kura uses random uuids)."""
    digest = hashlib.sha1("\n".join(sorted(chat_ids)).encode("utf-8")).hexdigest()
    return f"{prefix}_{digest[:20]}"
