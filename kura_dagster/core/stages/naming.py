"""Names and descriptions for groups of conversations from their own words (no LLM).

A group is named by a phrase its members write ("cancel my subscription", "password reset email never
arrives"), scored by class-based TF-IDF (c-TF-IDF, as in BERTopic): a phrase scores high for a group when
many of the group's conversations use it and few other groups do. It must occur in at least two
conversations and, when users are known, come from two people, so one conversation's words never name a
topic; people's names, places, dates, numbers and ids never do (see "specifics" below). The description is
generated from counts and shared phrases, never a member's request quoted.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from scipy import sparse

from kura_dagster.core.privacy.injection import drop_instructions
from kura_dagster.core.stages.embeddings import EmbeddingModel, local_embedding_model
from kura_dagster.core.stages.features import LARGE_INPUT_ROWS
from kura_dagster.core.stages.gazetteer import ORGANISATION_NAMES, ORGANISATIONS, PLACES_AND_PEOPLE
from kura_dagster.core.text import (
    ENGLISH_GLOSSES,
    NATURAL_LANGUAGE_MARKERS,
    PROGRAMMING_LANGUAGES,
    STOP_WORDS,
    detect_natural_languages,
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
    Sentences that instruct the analysis ("name this cluster ...") never name anything (`core.privacy.injection`)."""
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
    novembro dezembro""".split()
)
# Technology names are what a coding topic is about, not a detail about someone: "Debug pandas merge errors".
TECHNICAL_WORDS = frozenset(
    {
        word
        for cues in PROGRAMMING_LANGUAGES.values()
        for cue in cues
        for word in cue.split()
        if word.isalpha()
    }
    | set(PROGRAMMING_LANGUAGES)
    | set(
        """typescript kubernetes git github gitlab linux windows macos ubuntu debian android ios excel postgresql
    postgres mysql redis mongodb aws azure gcp jwt oauth node npm webpack vite nextjs vue angular spring kotlin
    swift php ruby rails laravel tensorflow pytorch jupyter numpy matplotlib pydantic fastapi graphql kafka
    spark airflow terraform ansible nginx apache chrome firefox safari""".split()
    )
)
PLACEHOLDER = re.compile(
    r"\[[A-Z_]{2,}\]"
)  # what core.privacy.scrubbing.scrub left: [EMAIL], [CARD_NUMBER], ...
# Organisations named in several words break a phrase, as placeholders do (`gazetteer.ORGANISATION_NAMES`).
ORGANISATION = re.compile(rf"\b(?:{ORGANISATION_NAMES})\b", re.IGNORECASE)
SENTENCE_BREAK = re.compile(r"[.!?:;\n\"“”«»()]+")
CASED_WORD = re.compile(r"[^\W\d_][\w'-]*", re.UNICODE)


def specific_words(texts: Iterable[str]) -> frozenset[str]:
    """Lower-cased words that the texts write capitalised inside a sentence at least as often as in lower
    case: names of people, places, products and organisations ("Morgan", "Detroit", "Aurora desk lamp"); plus
    weekdays, months and the common first names and places of `core.stages.gazetteer`, for texts in lower case.

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
    return (
        frozenset(
            word
            for word, count in capitalised.items()
            if count >= lower[word] and word not in STOP_WORDS and word not in TECHNICAL_WORDS
        )
        | WEEKDAYS_AND_MONTHS
        | PLACES_AND_PEOPLE
        | ORGANISATIONS
    )


_GERMAN = NATURAL_LANGUAGE_MARKERS["german"] - NATURAL_LANGUAGE_MARKERS["english"]


_GERMAN_HINT = re.compile(r"\b(?:der|die|das|und|ist|nicht|ich|mein|meine|bitte)\b|[äöüß]", re.I)


def _looks_german(text: str) -> bool:
    if not _GERMAN_HINT.search(text[:400]):  # most texts: one regex scan instead of a tokenisation
        return False
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
    has have had been be keeps""".split()
)
# "is", "has" join words only before a negation: "card has not arrived", never "changed is pandas".
AUXILIARIES = frozenset("is are was were has have had been be keeps".split())
NEGATIONS = frozenset(
    "not no never isn't doesn't didn't hasn't haven't won't can't cannot don't wasn't aren't".split()
)
# Words that name no topic even when everyone in a group writes them.
VAGUE_WORDS = frozenset(
    """looking wondering trying wanted wants needed needs question questions information info details help
    issue issues problem problems thing things stuff guys anyone someone something sir madam long think soon
    n'ai j'ai n'est c'est requests""".split()
)
PHRASE_TOKEN = re.compile(r"\d[\w.,:/-]*|[^\W\d_][\w'+#.-]*[\w+#]|[^\W\d_]", re.UNICODE)
CLAUSE_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”«»|\\\n—–]+|\s[-/]\s|[.,;:!?]\s")
MAX_PHRASE_WORDS = 4
NUMBER = re.compile(r"\d[\d.,:/]*")  # a count, a time, a price; not an id such as "sh-1968732"
# Numbers written out are numbers too: "Three orders", "Requested a password reset three" named topics.
NUMBER_WORDS = frozenset(
    """two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty fifty hundred
    thousand million twice""".split()
)
# The group's most telling word maximises share² × idf: a word most members use ("hotel", "refund") over a
# rarer one that only sets it apart (share × idf picked "nights", "charged"): name fidelity on the sample's
# support_bot 42% -> 55%, MultiWOZ 44% -> 59%, Banking77 76% -> 75% (bench/naming.py, seed 0).
HEAD_SHARE_POWER = 2.0
# A leaf's name holds the word at least this share of its members write, when no word of the name is more
# common (`PhraseIndex._anchored`).
ANCHOR_SHARE = 0.7
# What a leaf is about, when a subject model is given (`PhraseIndex`, the local namer gives WordLlama): of the
# words at least SUBJECT_SHARE of its members write, the one whose embedding is nearest the members' mean
# embedding (as KeyBERT ranks keywords). Members write "hotel", "guesthouse", "nights", "free parking" in
# about the same numbers; the embedding says which of them the group is about. The name must hold that word.
SUBJECT_SHARE = 0.5
# A parent's head word, when a subject model is given: of its BROAD_HEADS best words by share² × idf, the one
# nearest its members' mean embedding, times its share. The best word alone named parents by what sets them
# apart from their peers, often an attribute or a complaint ("Free parking" over hotel dialogues, "Nothing
# changed" over the demo's React and async questions); parent coverage (bench/naming.py) multiwoz 65% → 93%,
# sample support_bot 2% → 35%, coding_assistant 42% → 43%, banking77 55% → 55%, clinc150 28% → 26%.
BROAD_HEADS = 5
SUBJECT_TEXTS = 32  # members embedded per group for its mean (evenly spaced): a mean settles on a few dozen


# Intent cues: what follows them is what the user wants. A verb phrase follows "how do I", "I want to",
# "can you" ("cancel my subscription"); a noun phrase follows "looking for" or "I need a", and gets the verb
# the cue implies ("find a restaurant", "get a refund"). Phrases led by a cue are counted apart (key + CUED).
VERB_CUES = re.compile(
    r"\b(?:how (?:do|can|should|would) (?:i|we|you)|how to|(?:i|we) (?:want|need|have|would like|'d like|wish|"
    r"am trying|'m trying|am going|'m going) to|(?:i|we)'d like to|(?:i|we) would like to|trying to|"
    r"(?:can|could|would|will) (?:you|i|we)|is it possible to|help me|please|let me|unable to|(?:can't|cannot) "
    r"seem to)\s+"
)
NOUN_CUES = re.compile(
    r"\b(?:(?:i|we)(?:'m| am| are)? (?:looking|searching) for|(?:i|we) (?:need|want|would like|'d like)|"
    r"recommend|suggest|find me|(?:is|are) there)\s+(?:(?:a|an|the|some|any|my)\s+)?"
)
CUED = "+"


def phrases(
    text: str,
    specific: frozenset[str] = frozenset(),
    kinds_of: dict[str, str] | None = None,
    *,
    foreign: bool = False,
    english_words: frozenset[str] = frozenset(),
) -> list[tuple[str, str]]:
    """(key, surface) of every phrase of `text`: the key is the content words' stems, the surface the words
    as written (lower-cased). Numbers, ids, placeholders and `specific` words break a phrase. A phrase that
    an intent cue leads is given twice, the second time with `CUED` ending its key and the cue's verb leading
    its surface. `kinds_of` caches each word's kind across calls with the same `specific`. In a `foreign`
    text (written in another language than English) only the words of the term map, counted as their English
    word, technology names and `english_words` (those the English texts use: "build" in "le build échoue")
    make phrases: names are in English ("Build fonctionne" named a topic)."""
    kinds_of = {} if kinds_of is None else kinds_of
    found = []
    for clause in CLAUSE_BREAK.split(ORGANISATION.sub(" . ", PLACEHOLDER.sub(" . ", text))):
        lowered = clause.lower()
        matches = list(PHRASE_TOKEN.finditer(lowered))
        # Another language's word counts as its English gloss (`core.text.ENGLISH_GLOSSES`): "pedido" and
        # "commande" add to "order", so a topic is named once, in the words most of its members mean.
        words = [ENGLISH_GLOSSES.get(match.group(), match.group()) for match in matches]
        kinds = [kinds_of.get(word) or kinds_of.setdefault(word, _kind(word, specific)) for word in words]
        if foreign:
            kinds = [
                "break"
                if kind == "content"
                and match.group() not in ENGLISH_GLOSSES
                and match.group() not in TECHNICAL_WORDS
                and match.group() not in english_words
                else kind
                for kind, match in zip(kinds, matches)
            ]
        if "content" not in kinds:
            continue
        # Where a cue ends, the next word starts what the user wants (one scan per clause, not per word).
        leads = {m.end(): "" for m in VERB_CUES.finditer(lowered)}
        for m in NOUN_CUES.finditer(lowered):
            leads.setdefault(m.end(), _noun_cue_verb(m.group()))
        for start, kind in enumerate(kinds):
            if kind != "content":
                continue
            lead = leads.get(matches[start].start())
            stems: list[str] = []
            connectors = 0
            for end in range(start, len(words)):
                if kinds[end] == "content":
                    stems.append(stem(words[end]))
                    connectors = 0
                    key = " ".join(stems)
                    surface = " ".join(
                        word
                        for word, sort in zip(words[start : end + 1], kinds[start : end + 1])
                        if sort != "number"
                    )
                    found.append((key, surface))
                    if lead is not None:
                        found.append((key + CUED, f"{lead}{surface}"))
                    if len(stems) == MAX_PHRASE_WORDS:
                        break
                elif kinds[end] == "number" and connectors < 2:
                    connectors += 1
                elif (
                    kinds[end] == "connector"
                    and connectors < 2
                    and (
                        words[end] not in AUXILIARIES
                        or (end + 1 < len(words) and words[end + 1] in NEGATIONS)
                    )
                ):
                    connectors += 1
                else:
                    break
    return found


def _noun_cue_verb(cue: str) -> str:
    """The verb a noun cue implies, with the article the user wrote: "find a " for "looking for a "."""
    article = re.search(r"(?:a|an|the|some|any|my)\s+$", cue)
    verb = "find" if re.search(r"looking|searching|recommend|suggest|find|there", cue) else "get"
    return f"{verb} {article.group().strip() + ' ' if article else ''}"


def _kind(word: str, specific: frozenset[str]) -> str:
    if word in CONNECTORS:
        return "connector"
    if NUMBER.fullmatch(word) or word in NUMBER_WORDS:  # "a hotel for 3 nights": joins, never shown
        return "number"
    if (
        len(word) < 3
        or word in STOP_WORDS
        or word in VAGUE_WORDS
        or word in specific
        or word.removesuffix("'s") in specific  # "britain's timezone", "olive garden's menu"
        or word[0].isdigit()
        or any(ch.isdigit() for ch in word)
    ):
        return "break"
    return "content"


ALL_CAPS = re.compile(r"\b[A-Z][A-Z0-9]+\b")
ANY_CASE = re.compile(r"\b[A-Za-z][A-Za-z0-9]+\b")


def acronyms(texts: Iterable[str]) -> frozenset[str]:
    """Lower-cased words the texts write in capitals in most of their uses, at least twice ("sms", "llm",
    "api", "jwt"): names show them so ("SMS code never arrives", not "Sms code never arrives")."""
    texts = list(texts)
    capitals = Counter(word.lower() for text in texts for word in ALL_CAPS.findall(text))
    if not capitals:
        return frozenset()
    uses = Counter(
        word.lower() for text in texts for word in ANY_CASE.findall(text) if word.lower() in capitals
    )
    return frozenset(word for word, count in capitals.items() if count >= 2 and count > 0.5 * uses[word])


@dataclass(frozen=True)
class Phrase:
    key: str  # the content words' stems
    text: str  # as the members write it most often
    share: float  # of the group's (sampled) members that use it
    score: float


class PhraseIndex:
    """The phrases of a list of texts, read once (the costly part of naming): the groupings of the same texts
    that a tree's levels make are then scored without reading them again.

    `specific` words never enter a phrase (default: `specific_words` of the texts); `users` (one per text,
    None when unknown) let a phrase count only when two people use it.
    """

    def __init__(
        self,
        texts: Sequence[str],
        *,
        specific: frozenset[str] | None = None,
        users: Sequence[str | None] | None = None,
        subject_model: EmbeddingModel | None = None,
        foreign: Sequence[bool] | None = None,
    ) -> None:
        self.specific = specific_words(texts) if specific is None else specific
        self.acronyms = acronyms(texts)
        self.subject_model = subject_model
        self._texts = texts if subject_model is not None else None
        self._word_vectors: dict[str, np.ndarray] = {}
        self.users = list(users) if users is not None and any(user is not None for user in users) else None
        # How each phrase is written: the first spelling, and counts of the others only for the few phrases
        # written more than one way (a Counter per phrase would cost hundreds of bytes for each of millions).
        self._first: dict[str, str] = {}
        self._others: dict[str, Counter[str]] = {}
        kinds_of: dict[str, str] = {}

        # The vectorizer reads the texts once, in order: the flags follow them.
        foreign_flags = iter(foreign) if foreign is not None else None
        english_words = (
            frozenset(
                word
                for text, flag in zip(texts, foreign)
                if not flag
                for word in PHRASE_TOKEN.findall(text.lower())
            )
            if foreign is not None and any(foreign)
            else frozenset()
        )

        def analyse(text: str) -> list[str]:
            keys = []
            is_foreign = bool(next(foreign_flags)) if foreign_flags is not None else False
            for key, surface in phrases(
                text, self.specific, kinds_of, foreign=is_foreign, english_words=english_words
            ):
                if self._first.setdefault(key, surface) != surface:
                    self._others.setdefault(key, Counter())[surface] += 1
                keys.append(key)
            return keys

        from sklearn.feature_extraction.text import (
            CountVectorizer,  # deferred: loading the definitions stays fast
        )

        # A phrase of one text names nothing (two are needed): on large inputs it is not even kept.
        vectorizer = CountVectorizer(
            analyzer=analyse, binary=True, dtype=np.int8, min_df=2 if len(texts) >= 5_000 else 1
        )
        try:
            self.doc_terms = vectorizer.fit_transform(texts).tocsc()
        except ValueError:  # no phrase at all
            self.doc_terms = None
            return
        self.doc_terms.sort_indices()
        self.vocabulary = vectorizer.get_feature_names_out()
        self._texts_with = np.diff(self.doc_terms.indptr)  # texts using each phrase
        self.length = np.array([key.count(" ") + 1 for key in self.vocabulary])
        self.words_of = [frozenset(key.rstrip(CUED).split()) for key in self.vocabulary]
        self.cued = np.array([key.endswith(CUED) for key in self.vocabulary], dtype=bool)

    def surface(self, term: int) -> str:
        """The phrase as its texts write it most often (ties: alphabetical), acronyms in capitals."""
        key = str(self.vocabulary[term])
        first, others = self._first[key], self._others.get(key)
        if others:
            counts = Counter(others)
            counts[first] += max(int(self._texts_with[term]) - sum(others.values()), 1)
            first = min(counts.items(), key=lambda item: (-item[1], item[0]))[0]
        if not self.acronyms:
            return first
        return " ".join(word.upper() if word in self.acronyms else word for word in first.split(" "))

    def docs_of(self, term: int, members: np.ndarray) -> np.ndarray:
        """The texts among `members` (sorted positions) that use `term`."""
        column = self.doc_terms.indices[self.doc_terms.indptr[term] : self.doc_terms.indptr[term + 1]]
        return column[np.isin(column, members, assume_unique=True)]

    def enough_users(self, term: int, members: np.ndarray) -> bool:
        """At least two distinct known users among the members that use `term` (one person repeating
        themselves never names a topic); True when no user is known."""
        if self.users is None:
            return True
        users = {self.users[doc] for doc in self.docs_of(term, members)}
        return users == {None} or len(users - {None}) >= 2

    def group_phrases(
        self, groups: Sequence[np.ndarray], *, top_n: int = 8, min_docs: int = 2, broad: bool = False
    ) -> list[list[Phrase]]:
        """The best phrases of each group (positions of its texts), best first: used by many of its members, by
        two people or more, and rarely by the other groups (class-based TF-IDF), the first one naming the
        group (`_name_phrase`, `_pair_phrase`). `broad` (parents) puts the group's most telling word first,
        what its children share, before the phrases that would name one child."""
        if self.doc_terms is None or not groups:
            return [[] for _ in groups]
        members = [np.sort(np.asarray(rows, dtype=np.int64)) for rows in groups]
        sizes = np.array([len(rows) for rows in members])
        labels = np.repeat(np.arange(len(members)), sizes)
        membership = sparse.csr_matrix(
            (np.ones(int(sizes.sum())), (labels, np.concatenate(members))),
            shape=(len(members), self.doc_terms.shape[0]),
        )
        docs_with_term = (membership @ self.doc_terms).tocsr()
        docs_with_term.sort_indices()
        total_per_term = np.asarray(docs_with_term.sum(axis=0)).ravel()
        idf = np.log1p(docs_with_term.sum() / max(len(members), 1) / np.maximum(total_per_term, 1))
        result = []
        for group, rows in enumerate(members):
            start, end = docs_with_term.indptr[group], docs_with_term.indptr[group + 1]
            terms, counts = docs_with_term.indices[start:end], docs_with_term.data[start:end]
            result.append(self._ranked(terms, counts, len(rows), rows, idf, top_n, min_docs, broad))
        return result

    def _subject(self, unigrams, terms, share, rows, allowed) -> int | None:
        """The word the group is about (`SUBJECT_SHARE`): of its common words, the nearest its members' mean
        embedding; None without a subject model or a common word."""
        common = [int(i) for i in unigrams if share[i] >= SUBJECT_SHARE and allowed(int(i))]
        return self._nearest_word(common, terms, rows)

    def _broad_head(self, candidates, terms, share, rows, allowed) -> int | None:
        """A parent's head word (`BROAD_HEADS`): of its best words, the one nearest its members' mean embedding,
        weighed by how many members write it; None without a subject model."""
        return self._nearest_word([int(i) for i in candidates if allowed(int(i))], terms, rows, weights=share)

    def _nearest_word(self, common, terms, rows, weights=None) -> int | None:
        """Of the words `common` (positions in `terms`), the one whose embedding is nearest the mean embedding
        of the group's members (`rows`), times its weight when given; None without a model or a word."""
        if self.subject_model is None or self._texts is None or not common:
            return None
        sample = evenly_spaced(rows, SUBJECT_TEXTS)
        words = [self.surface(int(terms[i])).lower() for i in common]  # as counted: "atm", not "ATM"
        missing = [word for word in dict.fromkeys(words) if word not in self._word_vectors]
        # A text or word without a token of the model's vocabulary embeds as NaN (0/0): it weighs nothing.
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nan_to_num(self.subject_model.embed([self._texts[int(i)] for i in sample])).mean(axis=0)
            if missing:
                self._word_vectors.update(zip(missing, np.nan_to_num(self.subject_model.embed(missing))))
        similarity = [
            float(self._word_vectors[word] @ mean) * (1.0 if weights is None else float(weights[i]))
            for word, i in zip(words, common)
        ]
        return common[int(np.argmax(similarity))]

    def _ranked(self, terms, counts, size, rows, idf, top_n, min_docs, broad) -> list[Phrase]:
        vocabulary, length, cued, words_of = self.vocabulary, self.length, self.cued, self.words_of
        share = counts / max(size, 1)
        scores = share * idf[terms]
        scores[counts < min(min_docs, size)] = 0.0

        def allowed(index: int) -> bool:
            return self.enough_users(int(terms[index]), rows)

        def phrase(index: int, coverage: float | None = None) -> Phrase:
            return Phrase(
                key=str(vocabulary[terms[index]]),
                text=self.surface(int(terms[index])),
                share=float(share[index] if coverage is None else coverage),
                score=float(scores[index]),
            )

        order = np.lexsort((vocabulary[terms], -scores))
        order = order[scores[order] > 0]
        plain = order[~cued[terms[order]]]
        unigrams = plain[length[terms[plain]] == 1]
        chosen: list[Phrase] = []
        head = None
        if len(unigrams):
            weight = share[unigrams] ** HEAD_SHARE_POWER * idf[terms[unigrams]]
            head = int(unigrams[np.argmax(weight)])  # the first of equals in score order
            if not allowed(head):
                head = next((int(i) for i in unigrams if allowed(int(i))), None)
            if broad:  # what a parent's children share: the best word its members' meaning is nearest
                best = unigrams[np.argsort(-weight, kind="stable")[:BROAD_HEADS]]
                nearest = self._broad_head(best, terms, share, rows, allowed)
                head = head if nearest is None else nearest
        if head is not None:
            word = str(vocabulary[terms[head]])
            around = [int(i) for i in order if word in words_of[terms[i]]]  # the phrases holding the word
            best = _name_phrase(head, around, terms, share, scores, length, cued, allowed)
            pair = (
                None
                if length[terms[best]] > 1
                else _pair_phrase(
                    head,
                    unigrams,
                    [i for i in around if not cued[terms[i]] and length[terms[i]] > 1],
                    terms,
                    share,
                    idf,
                    length,
                    vocabulary,
                    lambda i: self.docs_of(int(terms[i]), rows),
                    size,
                    self.users,
                )
            )
            if broad:  # a parent: the phrase around the word its children share, that word, then the rest
                chosen += [phrase(best)] + ([phrase(head)] if best != head else [])
            else:
                named = int(pair[0]) if pair is not None else best
                if length[terms[named]] == 1:  # one word says too little ("Build", "Charged"): its phrase
                    longer = [i for i in around if length[terms[i]] > 1 and counts[i] >= 2 and allowed(i)]
                    if longer:
                        named = best = max(longer, key=lambda i: (share[i], scores[i]))
                        pair = None
                subject = self._subject(unigrams, terms, share, rows, allowed)
                anchored = self._anchored(named, unigrams, order, terms, share, allowed, subject)
                if isinstance(anchored, tuple):  # no phrase joins them: the word leads the name
                    anchor, name = phrase(anchored[0]), phrase(anchored[1])
                    chosen.append(
                        Phrase(
                            f"{anchor.key} {name.key}", f"{anchor.text} {name.text}", name.share, name.score
                        )
                    )
                elif anchored is not None:
                    chosen.append(phrase(anchored))
                chosen.append(phrase(*pair) if pair is not None else phrase(best))
                # Next, other phrases around the same word: when a sibling took the name ("Book a taxi"),
                # "Taxi to pick up" says more than the next best word alone.
                others = [i for i in around if length[terms[i]] > 1 and i != named and counts[i] >= 2]
                others.sort(key=lambda i: (-share[i], -scores[i]))
                chosen += [phrase(i) for i in others[:2] if allowed(i)]
        top = [int(i) for i in plain[:200]]  # the phrases worth showing are among the best few hundred
        for index in top:
            if len(chosen) >= top_n:
                break
            if length[terms[index]] == 1:  # a word most members write inside one phrase is shown as it
                index = _name_phrase(
                    index,
                    [i for i in top if words_of[terms[index]] <= words_of[terms[i]]],
                    terms,
                    share,
                    scores,
                    length,
                    cued,
                    allowed,
                    min_ratio=0.6,
                )
            words = words_of[terms[index]]
            if any(_same_words(words, kept.key) for kept in chosen) or not allowed(int(index)):
                continue
            chosen.append(phrase(int(index)))
        return chosen

    def _anchored(
        self, named, unigrams, order, terms, share, allowed, subject=None
    ) -> int | tuple[int, int] | None:
        """A leaf's name that leaves out the word most of its members write ("Address and postcode" for a
        group where 74% write "restaurant"): the phrase holding that word and every word of the name, else
        (that word, the name) to join; None when the name already holds it. What a group is about is the
        word most of it shares; the telling word c-TF-IDF picks is often an attribute its siblings lack.
        With a `subject` (`_subject`), that is the word the name must hold."""
        words_of, vocabulary = self.words_of, self.vocabulary
        name_words = words_of[terms[named]]
        if subject is not None:
            if words_of[terms[subject]] <= name_words:
                return None
            # The subject leads the name, however common the name's words are.
            anchor, best_in_name = subject, -1.0
        else:
            outside = [int(i) for i in unigrams if not words_of[terms[i]] <= name_words and allowed(int(i))]
            if not outside:
                return None
            anchor = max(outside, key=lambda i: (share[i], -i))
            best_in_name = max((share[i] for i in unigrams if words_of[terms[i]] <= name_words), default=0.0)
            if share[anchor] < ANCHOR_SHARE:
                return None
        word = str(vocabulary[terms[anchor]])
        joined = [
            int(i)
            for i in order
            if word in words_of[terms[i]]
            and name_words < words_of[terms[i]]
            and share[i] >= 0.1
            and allowed(int(i))
        ]
        if joined:  # the name, said more fully in the members' own words
            return max(joined, key=lambda i: share[i])
        # Only a word more common than every word of the name leads it: "Nights book a hotel" is worse than
        # "Book a hotel" when both are in every member.
        return (anchor, named) if share[anchor] > best_in_name else None


def group_phrases(
    group_texts: Sequence[Sequence[str]],
    *,
    specific: frozenset[str] = frozenset(),
    group_users: Sequence[Sequence[str | None]] | None = None,
    top_n: int = 8,
    min_docs: int = 2,
    broad: bool = False,
) -> list[list[Phrase]]:
    """`PhraseIndex.group_phrases` of groups given as their texts (and their users)."""
    docs = [text for texts in group_texts for text in texts]
    users = [user for users in group_users for user in users] if group_users is not None else None
    index = PhraseIndex(docs, specific=specific, users=users)
    offsets = np.concatenate([[0], np.cumsum([len(texts) for texts in group_texts])]).astype(np.int64)
    return index.group_phrases(
        [np.arange(offsets[g], offsets[g + 1]) for g in range(len(group_texts))],
        top_n=top_n,
        min_docs=min_docs,
        broad=broad,
    )


def _name_phrase(head, around, terms, share, scores, length, cued, allowed, min_ratio: float = 0.15) -> int:
    """The phrase that names the group: the best phrase around its most telling word (`head`; `around` are
    the phrases holding it), such as "book a table" around "table", used by at least `min_ratio` as many
    members as the head; by score, with a bonus for each extra word and for following an intent cue ("cancel
    my subscription" after "I want to")."""
    best, best_value = head, scores[head]
    for index in around:
        if share[index] < min_ratio * share[head]:
            continue
        value = (
            scores[index] * (1.0 + 0.6 * (length[terms[index]] - 1)) * (1.5 if cued[terms[index]] else 1.0)
        )
        if value > best_value and allowed(index):
            best, best_value = index, value
    return best


def _pair_phrase(
    head, unigrams, joined, terms, share, idf, length, vocabulary, docs_of, size, users_of_doc
) -> tuple[int, float] | None:
    """When the group's most telling word alone would name it: of the phrases that hold it (`joined`), those
    that join it to another telling word ("pay my bill", "pay the water bill" join "bill" to "pay"), as (the
    most used of them, the share of members using any), for the second word that most members join it to;
    None when at most one member (or person) does, or fewer than 10% of the group."""
    others = [int(i) for i in unigrams if i != head]
    others.sort(key=lambda i: -(share[i] ** HEAD_SHARE_POWER * idf[terms[i]]))
    best: tuple[int, float] | None = None
    for other in others[:5]:
        word = str(vocabulary[terms[other]])
        keys = [i for i in joined if word in str(vocabulary[terms[i]]).split()]
        if not keys:
            continue
        members = np.unique(np.concatenate([docs_of(i) for i in keys]))
        users = {users_of_doc[doc] for doc in members} - {None} if users_of_doc is not None else None
        if len(members) < 2 or len(members) < 0.1 * size or (users is not None and len(users) == 1):
            continue
        if best is None or len(members) / size > best[1]:
            shortest_first = sorted(
                keys, key=lambda i: (-share[i], length[terms[i]], str(vocabulary[terms[i]]))
            )
            best = (shortest_first[0], len(members) / size)
    return best


def _same_words(words: frozenset[str], other: str) -> bool:
    """Whether one phrase's words are all inside the other's ("password" and "reset password")."""
    b = set(other.rstrip(CUED).split())
    return words <= b or b <= words


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
        specific = specific_words([text for texts in group_texts for text in texts])
    sizes = list(group_sizes) if group_sizes is not None else [len(texts) for texts in group_texts]
    found = group_phrases(
        group_texts, specific=specific, group_users=group_users, top_n=max(keyword_count, 8), broad=broad
    )
    return _names(found, group_tasks, sizes, taken=taken, broad=broad, keyword_count=keyword_count)


def _names(
    found: Sequence[Sequence[Phrase]],
    group_tasks: Sequence[Sequence[str]],
    sizes: Sequence[int],
    *,
    taken: Iterable[str],
    broad: bool,
    keyword_count: int,
) -> list[GroupName]:
    """Each group's name (`_pick_name`, larger groups first) and description from its ranked phrases."""
    below = {name.lower() for name in taken}
    here: set[str] = set()
    names: list[GroupName | None] = [None] * len(found)
    for group in sorted(range(len(found)), key=lambda g: (-sizes[g], g)):
        intent = _dominant_intent(group_tasks[group])
        name = _pick_name(found[group], intent, below, here, broad)
        here.add(name.lower())
        keywords = tuple(
            word
            for phrase in found[group][:keyword_count]
            for word in phrase.text.split()
            if word not in CONNECTORS
        )
        names[group] = GroupName(
            name=name, description=_describe(sizes[group], intent, found[group]), keywords=keywords
        )
    return [name for name in names if name is not None]


def _pick_name(
    candidates: Sequence[Phrase], intent: str | None, below: set[str], here: set[str], broad: bool = False
) -> str:
    """The first name used neither below (`below`: the tree's lower nodes) nor by another group here: the
    best phrase, the next ones, two of them joined, else the intent. A parent whose word already names a
    node below it becomes that word's requests ("Taxi requests" above "Taxi")."""
    options = [p.text for p in candidates]
    if candidates:
        first = candidates[0]
        joined = [
            f"{first.text} and {p.text}"
            for p in candidates[1:]
            if not set(p.key.rstrip(CUED).split()) & set(first.key.rstrip(CUED).split())
        ]
        # Half the group or less says the first phrase: a second one, itself a phrase of two words or more
        # used by a third of the group, says what the rest asks ("Book a table and find a restaurant").
        second = next(
            (
                p
                for p in candidates[1:]
                if p.share >= 0.35
                and len(p.key.rstrip(CUED).split()) > 1
                and not set(p.key.rstrip(CUED).split()) & set(first.key.rstrip(CUED).split())
            ),
            None,
        )
        if (
            first.share <= 0.5
            and second is not None
            and len(f"{first.text} {second.text}".split()) <= 6
            and " and " not in f" {first.text} {second.text} "
        ):
            options.insert(0, f"{first.text} and {second.text}")
        options += joined
    options.append(intent.lower() if intent else "miscellaneous requests")
    for option in options:
        name = option[:1].upper() + option[1:]
        if name.lower() in here:
            continue
        if name.lower() not in below:
            return name
        if (
            broad
            and " " not in option
            and not option.lower().startswith("request")
            and f"{name} requests".lower() not in below | here
        ):
            return f"{name} requests"
    return numbered_name(options[0][:1].upper() + options[0][1:], below | here)


def numbered_name(base: str, taken: set[str]) -> str:
    """The last resort for a name already taken: "Base (2)", "Base (3)", … the first not in `taken` (lower case)."""
    number = 2
    while f"{base} ({number})".lower() in taken:
        number += 1
    return f"{base} ({number})"


def _describe(size: int, intent: str | None, found: Sequence[Phrase]) -> str:
    people = "conversation" if size == 1 else "conversations"
    first = f"{size} {people}" + (
        f", most of them asking to {intent[:1].lower() + intent[1:]}" if intent else ""
    )
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
    Counts in descriptions still use every member. The texts read are kept (`PhraseIndex`) for the next call
    on the same summaries, so the levels of a tree read each text once: later levels sample among them.
    """

    name = "phrases-ctfidf"

    def __init__(
        self,
        keyword_count: int = 3,
        large_input_rows: int = LARGE_INPUT_ROWS,
        text_budget: int = 200_000,
        min_texts_per_group: int = 40,
        subject_model: EmbeddingModel | None | str = "local",
    ) -> None:
        self.keyword_count = keyword_count
        # The local embedding model (its weights ship in the wheel) says what a leaf is about (`SUBJECT_SHARE`),
        # whichever model embedded the conversations; None names by the phrases' counts alone.
        self.subject_model = local_embedding_model() if subject_model == "local" else subject_model
        self.large_input_rows = large_input_rows
        self.text_budget = text_budget
        self.min_texts_per_group = min_texts_per_group
        self._read: tuple[Sequence[ConversationSummary], np.ndarray, PhraseIndex] | None = None

    def name_groups(
        self,
        groups: Sequence[np.ndarray],
        summaries: Sequence[ConversationSummary],
        vectors: np.ndarray,
        *,
        taken: Iterable[str] = (),
        broad: bool = False,
    ) -> list[GroupName]:
        """`taken`: names the groups must not get (the tree's other nodes); `broad`: the groups are parents."""
        read = self._read if self._read is not None and self._read[0] is summaries else None
        sampled = groups
        if len(summaries) > self.large_input_rows and groups:
            per_group = max(self.min_texts_per_group, -(-self.text_budget // len(groups)))
            sampled = [evenly_spaced(rows, per_group) for rows in groups]
            if read is not None and not _all_in(sampled, read[1]):
                # Sample among the texts already read, where a group has enough of them (a parent's children
                # were read at the level below).
                sampled = [
                    evenly_spaced(known, per_group)
                    if len(known := rows[np.isin(rows, read[1])]) >= min(per_group, len(rows))
                    else evenly_spaced(rows, per_group)
                    for rows in groups
                ]
        if read is None or not _all_in(sampled, read[1]):
            needed = (
                np.unique(np.concatenate([np.asarray(rows, dtype=np.int64) for rows in sampled]))
                if sampled
                else np.zeros(0, dtype=np.int64)
            )
            texts = [naming_text(summaries[i]) for i in needed]
            index = PhraseIndex(
                texts,
                users=[_user_of(summaries[i]) for i in needed],
                subject_model=self.subject_model,
                foreign=[_is_foreign(summaries[i], text) for i, text in zip(needed, texts)],
            )
            read = self._read = (summaries, needed, index)
        _, rows_read, index = read
        found = index.group_phrases(
            [np.searchsorted(rows_read, rows) for rows in sampled],
            top_n=max(self.keyword_count, 8),
            broad=broad,
        )
        tasks = [[summaries[i].task or "" for i in rows] for rows in sampled]
        return _names(
            found,
            tasks,
            [len(rows) for rows in groups],
            taken=taken,
            broad=broad,
            keyword_count=self.keyword_count,
        )


def _all_in(groups: Sequence[np.ndarray], rows: np.ndarray) -> bool:
    return all(np.isin(group, rows).all() for group in groups)


def _is_foreign(summary: ConversationSummary, text: str) -> bool:
    """`text` (the summary's naming text) is in another natural language than English: the summary's first
    language facet, or, when the facet was not read (the assets read only the columns clustering needs), the
    language its function words say."""
    languages = summary.languages or detect_natural_languages([text])
    first = languages[0] if languages else "english"
    return first != "english" and first in NATURAL_LANGUAGE_MARKERS


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
