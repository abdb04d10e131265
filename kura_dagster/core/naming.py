"""Names and descriptions for groups of conversations from their own words (no LLM).

A group is named by a phrase its members write ("cancel my subscription", "password reset email never
arrives"), scored by class-based TF-IDF (c-TF-IDF, as in BERTopic): a phrase scores high for a group when
many of the group's conversations use it and few other groups do. It must occur in at least two
conversations and, when users are known, come from two people, so one conversation's words never name a
topic; people's names, places, dates, numbers and ids never do (see "specifics" below). The description is
generated from counts and shared phrases, never a member's request quoted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from scipy import sparse

from kura_dagster.core.features import LARGE_INPUT_ROWS
from kura_dagster.core.gazetteer import PLACES_AND_PEOPLE
from kura_dagster.core.injection import drop_instructions
from kura_dagster.core.text import (
    NATURAL_LANGUAGE_MARKERS,
    PROGRAMMING_LANGUAGES,
    STOP_WORDS,
    stem,
    tokens,
)
from kura_dagster.core.types import ConversationSummary


@dataclass(frozen=True)
class GroupName:
    name: str
    description: str
    keywords: tuple[str, ...]


def naming_text(summary: ConversationSummary) -> str:
    """Names come from the user's own request: the task facet's intent label would name every cluster.
    Sentences that instruct the analysis ("name this cluster ...") never name anything (`core.injection`)."""
    return drop_instructions(summary.request or summary.summary)


def _dominant_intent(tasks: Sequence[str]) -> str | None:
    intents = [task.split(":", 1)[0].strip() for task in tasks if task]
    if not intents:
        return None
    intent, count = Counter(intents).most_common(1)[0]
    return intent if count >= 0.6 * len(tasks) and intent != "Get help" else None


# ------------------------------------------------------------------------------------------ specifics
# Clio's rule: a person, place, organisation, date, time, number or id never names a topic, however many
# conversations share it. Numbers and ids never become phrase words (`PHRASE_TOKEN` splits them off and they
# break a phrase); weekdays and months are listed; names of people, places, products and organisations are
# found from the texts themselves (`specific_words`).

WEEKDAYS_AND_MONTHS = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april june july august
    september october november december weekend tonight lunes martes miércoles jueves viernes sábado domingo
    enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre lundi mardi mercredi
    jeudi vendredi samedi dimanche janvier février mars avril mai juin juillet août septembre octobre novembre
    décembre montag dienstag mittwoch donnerstag freitag samstag sonntag januar februar märz juni juli oktober
    dezember segunda terça quarta quinta sexta sábado janeiro fevereiro março maio junho julho setembro outubro
    novembro dezembro""".split())
# Technology names are what a coding topic is about, not a detail about someone: "Debug pandas merge errors".
TECHNICAL_WORDS = frozenset(
    {word for cues in PROGRAMMING_LANGUAGES.values() for cue in cues for word in cue.split() if word.isalpha()}
    | set(PROGRAMMING_LANGUAGES)
    | set("""typescript kubernetes git github gitlab linux windows macos ubuntu debian android ios excel postgresql
    postgres mysql redis mongodb aws azure gcp jwt oauth node npm webpack vite nextjs vue angular spring kotlin
    swift php ruby rails laravel tensorflow pytorch jupyter numpy matplotlib pydantic fastapi graphql kafka
    spark airflow terraform ansible nginx apache chrome firefox safari""".split()))
PLACEHOLDER = re.compile(r"\[[A-Z_]{2,}\]")  # what core.privacy.scrub left: [EMAIL], [CARD_NUMBER], ...
SENTENCE_BREAK = re.compile(r"[.!?:;\n\"“”«»()]+")
CASED_WORD = re.compile(r"[^\W\d_][\w'-]*", re.UNICODE)


def specific_words(texts: Iterable[str]) -> frozenset[str]:
    """Lower-cased words that the texts write capitalised inside a sentence at least as often as in lower
    case: names of people, places, products and organisations ("Morgan", "Detroit", "Aurora desk lamp"); plus
    weekdays, months and the common first names and places of `core.gazetteer`, for texts in lower case.

    A sentence's first word and words in capitals or mixed case ("SMS", "useEffect") do not vote; German
    texts do not vote either (German capitalises every noun), nor do technology names (`TECHNICAL_WORDS`).
    """
    capitalised: Counter[str] = Counter()
    lower: Counter[str] = Counter()
    for text in texts:
        if not text or _looks_german(text):
            continue
        for sentence in SENTENCE_BREAK.split(text):
            for word in CASED_WORD.findall(sentence)[1:]:
                if word.islower():
                    lower[word] += 1
                elif word[0].isupper() and word[1:].islower():
                    capitalised[word.lower()] += 1
    return frozenset(word for word, count in capitalised.items()
                     if count >= lower[word] and word not in STOP_WORDS and word not in TECHNICAL_WORDS) \
        | WEEKDAYS_AND_MONTHS | PLACES_AND_PEOPLE


_GERMAN = NATURAL_LANGUAGE_MARKERS["german"] - NATURAL_LANGUAGE_MARKERS["english"]


def _looks_german(text: str) -> bool:
    words = tokens(text[:400])
    return len(words) > 2 and sum(word in _GERMAN for word in words) >= max(2, len(words) // 8)


# ------------------------------------------------------------------------------------------ phrases
# A topic is named by a phrase its members write, such as "cancel my subscription" or "card hasn't arrived":
# runs of content words, with at most two connecting words in a row between them, inside one clause.
# Phrases are counted by the stems of their content words, so "reset my password" and "resetting the
# password" are one phrase, shown as its members write it most often.

CONNECTORS = frozenset(
    """of for to a an the my our your their this in on at with from and or after before by without into over
    not no never isn't doesn't didn't hasn't haven't won't can't cannot don't wasn't aren't is are was were
    has have had been be keeps""".split())
# "is", "has" join words only before a negation: "card has not arrived", never "changed is pandas".
AUXILIARIES = frozenset("is are was were has have had been be keeps".split())
NEGATIONS = frozenset("not no never isn't doesn't didn't hasn't haven't won't can't cannot don't wasn't aren't".split())
# Words that name no topic even when everyone in a group writes them.
VAGUE_WORDS = frozenset(
    """looking wondering trying wanted wants needed needs question questions information info details help
    issue issues problem problems thing things stuff guys anyone someone something sir madam long""".split())
PHRASE_TOKEN = re.compile(r"\d[\w.,:/-]*|[^\W\d_][\w'+#.-]*[\w+#]|[^\W\d_]", re.UNICODE)
CLAUSE_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”«»|\\\n—–]+|\s[-/]\s|[.,;:!?]\s")
MAX_PHRASE_WORDS = 4
NUMBER = re.compile(r"\d[\d.,:/]*")  # a count, a time, a price; not an id such as "sh-1968732"
# The group's most telling word maximises share² × idf: a word most members use ("hotel", "refund") over a
# rarer one that only sets it apart (share × idf picked "nights", "charged"): name fidelity on the sample's
# support_bot 42% -> 55%, MultiWOZ 44% -> 59%, Banking77 76% -> 75% (bench/naming.py, seed 0).
HEAD_SHARE_POWER = 2.0


# Intent cues: what follows them is what the user wants. A verb phrase follows "how do I", "I want to",
# "can you" ("cancel my subscription"); a noun phrase follows "looking for" or "I need a", and gets the verb
# the cue implies ("find a restaurant", "get a refund"). Phrases led by a cue are counted apart (key + CUED).
VERB_CUES = re.compile(
    r"\b(?:how (?:do|can|should|would) (?:i|we|you)|how to|(?:i|we) (?:want|need|have|would like|'d like|wish|"
    r"am trying|'m trying|am going|'m going) to|(?:i|we)'d like to|(?:i|we) would like to|trying to|"
    r"(?:can|could|would|will) (?:you|i|we)|is it possible to|help me|please|let me|unable to|(?:can't|cannot) "
    r"seem to)\s+$")
NOUN_CUES = re.compile(
    r"\b(?:(?:i|we)(?:'m| am| are)? (?:looking|searching) for|(?:i|we) (?:need|want|would like|'d like)|"
    r"recommend|suggest|find me|(?:is|are) there)\s+(?:(?:a|an|the|some|any|my)\s+)?$")
CUED = "+"


def phrases(text: str, specific: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """(key, surface) of every phrase of `text`: the key is the content words' stems, the surface the words
    as written (lower-cased). Numbers, ids, placeholders and `specific` words break a phrase. A phrase that
    an intent cue leads is given twice, the second time with `CUED` ending its key and the cue's verb leading
    its surface."""
    found = []
    for clause in CLAUSE_BREAK.split(PLACEHOLDER.sub(" . ", text)):
        matches = list(PHRASE_TOKEN.finditer(clause))
        words = [match.group().lower() for match in matches]
        kinds = [_kind(word, specific) for word in words]
        lowered = clause.lower()
        for start, kind in enumerate(kinds):
            if kind != "content":
                continue
            before = lowered[max(0, matches[start].start() - 40):matches[start].start()]
            lead = "" if VERB_CUES.search(before) else _noun_cue_verb(before)
            cued = lead is not None
            stems: list[str] = []
            connectors = 0
            for end in range(start, len(words)):
                if kinds[end] == "content":
                    stems.append(stem(words[end]))
                    connectors = 0
                    key = " ".join(stems)
                    surface = " ".join(word for word, sort in zip(words[start:end + 1], kinds[start:end + 1])
                                       if sort != "number")
                    found.append((key, surface))
                    if cued:
                        found.append((key + CUED, f"{lead}{surface}"))
                    if len(stems) == MAX_PHRASE_WORDS:
                        break
                elif kinds[end] == "number" and connectors < 2:
                    connectors += 1
                elif kinds[end] == "connector" and connectors < 2 and (
                        words[end] not in AUXILIARIES or (end + 1 < len(words) and words[end + 1] in NEGATIONS)):
                    connectors += 1
                else:
                    break
    return found


def _noun_cue_verb(before: str) -> str | None:
    """The verb a noun cue implies, with the article the user wrote ("find a "), or None without a cue."""
    match = NOUN_CUES.search(before)
    if match is None:
        return None
    article = re.search(r"(?:a|an|the|some|any|my)\s+$", match.group())
    verb = "find" if re.search(r"looking|searching|recommend|suggest|find|there", match.group()) else "get"
    return f"{verb} {article.group().strip() + ' ' if article else ''}"


def _kind(word: str, specific: frozenset[str]) -> str:
    if word in CONNECTORS:
        return "connector"
    if NUMBER.fullmatch(word):  # "a hotel for 3 nights": joins like a connector, never shown
        return "number"
    if (len(word) < 3 or word in STOP_WORDS or word in VAGUE_WORDS or word in specific or word[0].isdigit()
            or any(ch.isdigit() for ch in word)):
        return "break"
    return "content"


@dataclass(frozen=True)
class Phrase:
    key: str  # the content words' stems
    text: str  # as the members write it most often
    share: float  # of the group's (sampled) members that use it
    score: float


def group_phrases(
    group_texts: Sequence[Sequence[str]],
    *,
    specific: frozenset[str] = frozenset(),
    group_users: Sequence[Sequence[str | None]] | None = None,
    top_n: int = 8,
    min_docs: int = 2,
    broad: bool = False,
) -> list[list[Phrase]]:
    """The best phrases of each group, best first: used by many of its members, by at least two people when
    users are known, and rarely by the other groups (class-based TF-IDF), the first one naming the group
    (`_name_phrase`, `_pair_phrase`). `broad` (groups of groups: parents) puts the group's most telling
    word first, what its children share, before the phrases that would name one child."""
    docs = [text for texts in group_texts for text in texts]
    if not docs:
        return [[] for _ in group_texts]
    surfaces: dict[str, Counter[str]] = defaultdict(Counter)

    def analyse(text: str) -> list[str]:
        keys = []
        for key, surface in phrases(text, specific):
            surfaces[key][surface] += 1
            keys.append(key)
        return keys

    from sklearn.feature_extraction.text import CountVectorizer  # deferred: loading the definitions stays fast

    vectorizer = CountVectorizer(analyzer=analyse, binary=True)
    try:
        doc_terms = vectorizer.fit_transform(docs).tocsc()
    except ValueError:  # no phrase at all
        return [[] for _ in group_texts]
    sizes = np.array([len(texts) for texts in group_texts])
    labels = np.repeat(np.arange(len(group_texts)), sizes)
    membership = sparse.csr_matrix((np.ones(len(docs)), (labels, np.arange(len(docs)))),
                                   shape=(len(group_texts), len(docs)))
    docs_with_term = (membership @ doc_terms).tocsr()
    docs_with_term.sort_indices()
    total_per_term = np.asarray(docs_with_term.sum(axis=0)).ravel()
    idf = np.log1p(docs_with_term.sum() / max(len(group_texts), 1) / np.maximum(total_per_term, 1))
    vocabulary = vectorizer.get_feature_names_out()
    length = np.array([key.count(" ") + 1 for key in vocabulary])
    users_of_doc = [user for users in group_users for user in users] if group_users is not None else None
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    result = []
    for group in range(len(group_texts)):
        start, end = docs_with_term.indptr[group], docs_with_term.indptr[group + 1]
        terms, counts = docs_with_term.indices[start:end], docs_with_term.data[start:end]
        share = counts / max(sizes[group], 1)
        scores = share * idf[terms]
        scores[counts < min(min_docs, sizes[group])] = 0.0

        def allowed(index: int) -> bool:
            return users_of_doc is None or _enough_users(doc_terms, int(terms[index]), offsets[group],
                                                         offsets[group + 1], users_of_doc)

        def phrase(index: int) -> Phrase:
            key = str(vocabulary[terms[index]])
            surface = min(surfaces[key].items(), key=lambda item: (-item[1], item[0]))[0]
            return Phrase(key=key, text=surface, share=float(share[index]), score=float(scores[index]))

        order = [int(i) for i in np.lexsort((vocabulary[terms], -scores)) if scores[i] > 0]
        plain = [i for i in order if not vocabulary[terms[i]].endswith(CUED)]
        chosen: list[Phrase] = []
        unigrams = [i for i in plain if length[terms[i]] == 1]
        head = max(unigrams, key=lambda i: (share[i] ** HEAD_SHARE_POWER * idf[terms[i]], -unigrams.index(i)),
                   default=None)
        if head is not None and not allowed(head):
            head = next((i for i in unigrams if allowed(i)), None)
        if head is not None:
            best = _name_phrase(head, order, terms, share, scores, length, vocabulary, allowed)
            pair = None if length[terms[best]] > 1 else _pair_phrase(
                head, unigrams, plain, terms, share, idf, length, vocabulary,
                lambda i: _docs_of(doc_terms, int(terms[i]), offsets[group], offsets[group + 1]),
                sizes[group], users_of_doc)
            if broad:  # a parent: the phrase around the word its children share, that word, then the rest
                chosen += [phrase(best)] + ([phrase(head)] if best != head else [])
            elif pair is not None:
                index, coverage = pair
                chosen.append(dataclasses.replace(phrase(index), share=coverage))
            else:
                chosen.append(phrase(best))
        for index in plain:
            if len(chosen) >= top_n:
                break
            key = str(vocabulary[terms[index]])
            if any(_same_words(key, kept.key.rstrip(CUED)) for kept in chosen) or not allowed(index):
                continue
            chosen.append(phrase(index))
        result.append(chosen)
    return result


def _name_phrase(head, order, terms, share, scores, length, vocabulary, allowed) -> int:
    """The phrase that names the group: the best phrase around its most telling word (`head`), such as
    "book a table" around "table", used by at least 15% as many members as the head; by score, with a bonus
    for each extra word and for following an intent cue ("cancel my subscription" after "I want to")."""
    word = str(vocabulary[terms[head]])
    best, best_value = head, scores[head]
    for index in order:
        key = str(vocabulary[terms[index]])
        cued = key.endswith(CUED)
        words = key.rstrip(CUED).split()
        if share[index] < 0.15 * share[head] or word not in words:
            continue
        value = scores[index] * (1.0 + 0.6 * (len(words) - 1)) * (1.5 if cued else 1.0)
        if value > best_value and allowed(index):
            best, best_value = index, value
    return best


def _pair_phrase(head, unigrams, plain, terms, share, idf, length, vocabulary, docs_of, size, users_of_doc
                 ) -> tuple[int, float] | None:
    """When the group's most telling word alone would name it: the phrases that join it to another telling
    word ("pay my bill", "pay the water bill" join "bill" to "pay"), as (the most used of them, the share of
    members using any), for the second word that most members join it to; None when at most one member
    (or person) does, or fewer than 10% of the group."""
    word = str(vocabulary[terms[head]])
    ranked = sorted((i for i in unigrams if i != head), key=lambda i: -(share[i] ** HEAD_SHARE_POWER * idf[terms[i]]))
    best: tuple[int, float] | None = None
    for other in ranked[:5]:
        pair = {word, str(vocabulary[terms[other]])}
        keys = [i for i in plain if length[terms[i]] > 1 and pair <= set(str(vocabulary[terms[i]]).split())]
        if not keys:
            continue
        members = np.unique(np.concatenate([docs_of(i) for i in keys]))
        users = {users_of_doc[doc] for doc in members} - {None} if users_of_doc is not None else None
        if len(members) < 2 or len(members) < 0.1 * size or (users is not None and len(users) == 1):
            continue
        if best is None or len(members) / size > best[1]:
            shortest_first = sorted(keys, key=lambda i: (-share[i], length[terms[i]], str(vocabulary[terms[i]])))
            best = (shortest_first[0], len(members) / size)
    return best


def _docs_of(doc_terms, term: int, first: int, last: int) -> np.ndarray:
    """Rows (documents) of the group, between `first` and `last`, that use `term`."""
    column = doc_terms.indices[doc_terms.indptr[term]:doc_terms.indptr[term + 1]]
    return column[(column >= first) & (column < last)]


def _enough_users(doc_terms, term: int, first: int, last: int, users_of_doc: Sequence[str | None]) -> bool:
    """At least two distinct known users among the group's members that use `term` (one person repeating
    themselves never names a topic); True when the group carries no user ids."""
    column = doc_terms.indices[doc_terms.indptr[term]:doc_terms.indptr[term + 1]]
    users = {users_of_doc[doc] for doc in column[(column >= first) & (column < last)]}
    if users == {None}:
        return True
    return len(users - {None}) >= 2


def _same_words(key: str, other: str) -> bool:
    """Whether one phrase's words are all inside the other's ("password" and "reset password")."""
    a, b = set(key.split()), set(other.split())
    return a <= b or b <= a


def name_groups(
    group_texts: Sequence[Sequence[str]],
    group_tasks: Sequence[Sequence[str]],
    central_requests: Sequence[str] | None = None,
    *,
    keyword_count: int = 3,
    group_sizes: Sequence[int] | None = None,
    group_users: Sequence[Sequence[str | None]] | None = None,
    specific: frozenset[str] | None = None,
    taken: Iterable[str] = (),
    broad: bool = False,
) -> list[GroupName]:
    """A readable name and a two-sentence description per group, from the phrases its members share.

    The name is the group's best phrase ("Cancel my subscription"), joined by its best phrase about
    something else when the first covers less than half of the group ("Tracking number and delivery
    address"); it never repeats a name in `taken` or one given to another group here (the larger group
    chooses first). The description counts the conversations, gives the dominant intent and the shares of
    the top phrases: it is generated, never a member's sentence. `central_requests` is accepted for
    compatibility and not quoted. `specific` words never appear (default: `specific_words` of the texts).
    """
    if specific is None:
        specific = specific_words(text for texts in group_texts for text in texts)
    sizes = list(group_sizes) if group_sizes is not None else [len(texts) for texts in group_texts]
    found = group_phrases(group_texts, specific=specific, group_users=group_users, top_n=max(keyword_count, 8),
                          broad=broad)
    below = {name.lower() for name in taken}
    here: set[str] = set()
    names: list[GroupName | None] = [None] * len(group_texts)
    for group in sorted(range(len(group_texts)), key=lambda g: (-sizes[g], g)):
        intent = _dominant_intent(group_tasks[group])
        name = _pick_name(found[group], intent, below, here, broad)
        here.add(name.lower())
        keywords = tuple(word for phrase in found[group][:keyword_count] for word in phrase.text.split()
                         if word not in CONNECTORS)
        names[group] = GroupName(name=name, description=_describe(sizes[group], intent, found[group]),
                                 keywords=keywords)
    return [name for name in names if name is not None]


def _pick_name(candidates: Sequence[Phrase], intent: str | None, below: set[str], here: set[str],
               broad: bool = False) -> str:
    """The first name used neither below (`below`: the tree's lower nodes) nor by another group here: the
    best phrase, the next ones, two of them joined, else the intent. A parent whose word already names a
    node below it becomes that word's requests ("Taxi requests" above "Taxi")."""
    options = [p.text for p in candidates]
    if candidates:
        first = candidates[0]
        joined = [f"{first.text} and {p.text}" for p in candidates[1:]
                  if not set(p.key.rstrip(CUED).split()) & set(first.key.rstrip(CUED).split())]
        # Half the group or less says the first phrase: a second one, itself a phrase of two words or more
        # used by a quarter of the group, says what the rest asks ("Book a table and find a restaurant").
        second = next((p for p in candidates[1:] if p.share >= 0.25 and len(p.key.rstrip(CUED).split()) > 1
                       and not set(p.key.rstrip(CUED).split()) & set(first.key.rstrip(CUED).split())), None)
        if first.share <= 0.5 and second is not None:
            options.insert(0, f"{first.text} and {second.text}")
        options += joined
    options.append(intent.lower() if intent else "miscellaneous requests")
    for option in options:
        name = option[:1].upper() + option[1:]
        if name.lower() in here:
            continue
        if name.lower() not in below:
            return name
        if broad and " " not in option and f"{name} requests".lower() not in below | here:
            return f"{name} requests"
    base = options[0][:1].upper() + options[0][1:]
    number = 2
    while f"{base} ({number})".lower() in below | here:
        number += 1
    return f"{base} ({number})"


def _describe(size: int, intent: str | None, found: Sequence[Phrase]) -> str:
    people = "conversation" if size == 1 else "conversations"
    first = f"{size} {people}" + (f", most of them asking to {intent[:1].lower() + intent[1:]}" if intent else "")
    if not found:
        return f"{first}; they share no phrase used by several people."
    quoted = [f"\u201c{p.text}\u201d ({p.share:.0%})" for p in found[:4]]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"
    return f"{first}. Phrases they share: {listed}."


@runtime_checkable
class ClusterNamer(Protocol):
    """Names groups of conversations. `groups` holds row indices into `summaries` and `vectors`."""

    name: str

    def name_groups(
        self, groups: Sequence[np.ndarray], summaries: Sequence[ConversationSummary], vectors: np.ndarray
    ) -> list[GroupName]: ...


class KeywordClusterNamer:
    """The local namer: each group named by the phrases its members share (`name_groups`), no LLM.

    Above `large_input_rows` summaries, phrases and the dominant intent come from an evenly spaced sample
    of each group (at least `min_texts_per_group`, about `text_budget` texts in all): tokenising a million
    texts once per tree level is most of the naming cost, and a few dozen members name a topic as well.
    Counts in descriptions still use every member.
    """

    name = "phrases-ctfidf"

    def __init__(
        self, keyword_count: int = 3, large_input_rows: int = LARGE_INPUT_ROWS, text_budget: int = 200_000,
        min_texts_per_group: int = 40,
    ) -> None:
        self.keyword_count = keyword_count
        self.large_input_rows = large_input_rows
        self.text_budget = text_budget
        self.min_texts_per_group = min_texts_per_group

    def name_groups(
        self, groups: Sequence[np.ndarray], summaries: Sequence[ConversationSummary], vectors: np.ndarray,
        *, taken: Iterable[str] = (), broad: bool = False,
    ) -> list[GroupName]:
        """`taken`: names the groups must not get (the tree's other nodes); `broad`: the groups are parents."""
        sampled = groups
        if len(summaries) > self.large_input_rows and groups:
            per_group = max(self.min_texts_per_group, -(-self.text_budget // len(groups)))
            sampled = [evenly_spaced(rows, per_group) for rows in groups]
        texts = [[naming_text(summaries[i]) for i in rows] for rows in sampled]
        tasks = [[summaries[i].task or "" for i in rows] for rows in sampled]
        users = [[_user_of(summaries[i]) for i in rows] for rows in sampled]
        return name_groups(texts, tasks, keyword_count=self.keyword_count, group_sizes=[len(rows) for rows in groups],
                           group_users=users, taken=taken, broad=broad)


def _user_of(summary: ConversationSummary) -> str | None:
    user = (summary.metadata or {}).get("user_id")
    return None if user is None or str(user).strip() == "" else str(user)


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
