"""Stage 1: conversations → Clio facets (`summarise_conversations`).

The local default, `ExtractiveSummaryModel`, computes the facets on the machine from the user's own turns.
Its heuristics, documented here and in the README:

- request: what the user came for, from all their turns (`request_text`): code removed, greetings, thanks,
  sign-offs and other sentences without a content word skipped, the first turn's first two content
  sentences, then the follow-ups' sentences in order, cut at `request_chars` (400) characters. A dialogue
  that opens with "Hello, can you help me?" is about what the user asks next; a long one costs no more
  to embed than its first 400 characters.
- task: the intent named by cue words of the request ("fix", "how do I", "refund", ...) followed by the
  most frequent content words of all user turns.
- languages: natural languages from the share of their function words; programming languages from code
  fence tags and cues that rarely occur in prose.
- user_frustration (1–5): 1 plus one point per frustration cue in the user's follow-up turns
  ("still", "doesn't work", "again", "third time", "!!!", shouting), capped at 5.
- concerning_score (1–5): the highest level among cue lists of increasing severity (access to another
  person's account, malware, violence), 1 when none matches.
- assistant_errors: what the user's follow-ups say went wrong ("didn't work", "wrong", "misunderstood").

Personal data (emails, phone and card numbers, IBANs, IP addresses, credentials, keys) is replaced by typed
placeholders (`core.privacy.scrubbing.scrub`) before any facet is computed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import pyarrow as pa

from kura_dagster.core.privacy.scrubbing import scrub
from kura_dagster.core.text import (
    content_tokens,
    detect_programming_languages,
    natural_languages_of_tokens,
    normalise_space,
    sentences,
    stem,
    strip_code,
    tokens,
    truncate,
)
from kura_dagster.core.types import Conversation, ConversationSummary


@runtime_checkable
class SummaryModel(Protocol):
    """Turns conversations into summaries, one per conversation and in the same order.

    A conversation that cannot be summarised yields a summary with `error` set, never an exception
    that loses the others.
    """

    name: str
    runs_in_processes: bool  # chunks may be summarised in other processes (`summarise_table`)

    def summarise(self, conversations: Sequence[Conversation]) -> list[ConversationSummary]: ...


def summarise_conversations(
    conversations: Sequence[Conversation],
    *,
    model: SummaryModel,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 1000,
) -> list[ConversationSummary]:
    """Kura's `summarise_conversations`: one `ConversationSummary` per conversation, in input order."""
    summaries: list[ConversationSummary] = []
    for start in range(0, len(conversations), batch_size):
        batch = conversations[start : start + batch_size]
        produced = model.summarise(batch)
        if len(produced) != len(batch):
            raise RuntimeError(
                f"{model.name} returned {len(produced)} summaries for {len(batch)} conversations"
            )
        summaries.extend(produced)
        if progress is not None:
            progress(len(summaries), len(conversations))
    return summaries


def summarise_table(
    conversations: pa.Table,
    *,
    model: SummaryModel,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    chunk_rows: int = 10_000,
) -> pa.Table:
    """The summaries table (`core.storage.tables` schema) of a conversations table, rows in the same order.

    A model that says it may (`runs_in_processes`, the local summariser: pure Python, CPU-bound, no client)
    summarises `chunk_rows` conversations at a time in up to `workers` processes, one chunk per worker at a
    time; otherwise, and for inputs too small to repay starting a process, it runs here.
    """
    from kura_dagster.core.storage import tables

    n_rows = conversations.num_rows
    workers = min(workers, n_rows // chunk_rows) if model.runs_in_processes else 1
    if workers <= 1:
        produced = summarise_conversations(
            tables.conversations_from_arrow(conversations), model=model, progress=progress
        )
        return tables.summaries_to_arrow(produced, model=model.name)
    from kura_dagster.core.processes import map_in_processes, to_ipc

    starts = range(0, n_rows, chunk_rows)
    chunks = (to_ipc(conversations.slice(start, chunk_rows)) for start in starts)  # made as workers free up
    results = []
    for start, summarised in zip(starts, map_in_processes(_summarise_chunk, chunks, model, workers=workers)):
        results.append(summarised)
        if progress is not None:
            progress(min(start + chunk_rows, n_rows), n_rows)
    return pa.concat_tables(results)


def _summarise_chunk(payload: pa.Buffer, model: SummaryModel) -> pa.Table:
    """One worker's share of `summarise_table` (module level, so a spawned process can import it)."""
    from kura_dagster.core.processes import from_ipc
    from kura_dagster.core.storage import tables

    produced = model.summarise(tables.conversations_from_arrow(from_ipc(payload)))
    return tables.summaries_to_arrow(produced, model=model.name)


INTENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # First match wins: specific intents before generic ones.
    (
        "Get a refund or return",
        ("refund", "return the", "money back", "reembolso", "remboursement", "rückerstattung"),
    ),
    (
        "Track a missing order",
        (
            "not arrived",
            "hasn't arrived",
            "where is my order",
            "tracking",
            "delivery",
            "pedido",
            "commande",
            "bestellung",
        ),
    ),
    (
        "Regain account access",
        (
            "password",
            "log in",
            "login",
            "locked out",
            "reset",
            "hacked",
            "2fa",
            "contraseña",
            "mot de passe",
            "passwort",
        ),
    ),
    (
        "Resolve a payment problem",
        ("payment", "charged", "card", "invoice", "billing", "declined", "pago", "paiement"),
    ),
    ("Cancel or change a subscription", ("cancel", "subscription", "unsubscribe", "plan")),
    (
        "Debug an error",
        (
            "error",
            "exception",
            "traceback",
            "bug",
            "crash",
            "fails",
            "failing",
            "broken",
            "doesn't work",
            "not working",
            "fix",
        ),
    ),
    ("Improve performance", ("slow", "faster", "optimi", "performance", "speed up")),
    (
        "Write or generate code",
        ("write a", "write me", "generate", "create a", "implement", "build a", "script"),
    ),
    (
        "Explain a concept",
        ("explain", "what is", "what's the difference", "why does", "understand", "qué es"),
    ),
    ("Learn how to do something", ("how do i", "how can i", "how to", "cómo", "comment", "wie kann")),
)

FRUSTRATION_CUES = (
    "still",
    "doesn't work",
    "didn't work",
    "does not work",
    "not working",
    "again",
    "third time",
    "second time",
    "useless",
    "ridiculous",
    "unacceptable",
    "frustrat",
    "annoy",
    "waste",
    "seriously",
    "no help",
    "not helpful",
    "sigh",
    "todavía",
    "sigue sin",
    "toujours pas",
    "immer noch",
)

CONCERN_LEVELS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (5, ("kill", "bomb", "weapon", "hurt myself", "suicide", "self-harm")),
    (4, ("malware", "ransomware", "keylogger", "steal", "phishing", "ddos", "exploit")),
    (
        3,
        (
            "someone else's account",
            "someone elses account",
            "other person's account",
            "my ex's",
            "spy on",
            "bypass",
            "without them knowing",
            "hack into",
            "get into their",
        ),
    ),
    (2, ("hack", "crack", "scrape personal", "fake review", "chargeback fraud")),
)

ERROR_CUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Suggested solution did not work",
        (
            "didn't work",
            "doesn't work",
            "does not work",
            "still getting",
            "still get",
            "same error",
            "no funciona",
            "marche pas",
            "funktioniert nicht",
        ),
    ),
    (
        "Gave an incorrect answer",
        ("that's wrong", "that is wrong", "incorrect", "not correct", "wrong answer"),
    ),
    ("Misunderstood the request", ("misunderstood", "not what i asked", "that's not what", "i meant")),
    (
        "Repeated itself or went in circles",
        ("you already said", "same thing", "going in circles", "again and again"),
    ),
)


def _first_match(text: str, table: tuple[tuple[str, tuple[str, ...]], ...]) -> str | None:
    for label, cues in table:
        if any(cue in text for cue in cues):
            return label
    return None


SHOUTING = re.compile(r"\b[A-Z]{4,}\b")

# A sentence may open with a greeting or a filler before what it asks ("Hello , can you help me with a
# hotel ?", "Yes, hi. I need a taxi"): stripped, repeatedly, so the request starts with the ask.
OPENING_FILLER = re.compile(
    # Greetings whatever follows them; words that also open real requests ("Evening flights to Boston", "No
    # internet at home") only when a punctuation mark follows.
    r"^(?:(?:(?:hi|hello|hey|hiya|howdy|greetings|good\s+(?:morning|afternoon|evening|day)|dear\s+\w+|hola|buenas|"
    r"buenos\s+d[ií]as|bonjour|bonsoir|salut|hallo|guten\s+(?:tag|morgen|abend)|ol[aá]|oi|bom\s+dia|boa\s+tarde)"
    r"(?:\s+there)?\b|(?:morning|evening|yes|yeah|yep|no|nope|ok(?:ay)?|sure|great|perfect|thanks|thank\s+you|"
    r"cheers|well|so|um+|uh+|quick\s+question)\s*[,.!:;—–-])[\s,.!:;—–-]*)+",
    re.I,
)
# Words that make a sentence a courtesy or a bare status report ("Still broken!!", "Same error.") rather than
# a request when nothing else is left in it (beyond `STOP_WORDS`, which already holds hello/thanks/please/ok
# and their Spanish, French, German, Portuguese peers).
COURTESY_WORDS = frozenset(
    """goodbye bye cheers appreciate appreciated appreciation helpful perfect awesome wonderful excellent brilliant
    cool lovely nice great glad pleasure needed needs assistance sounds sound fantastic amazing super welcome
    fixed worked solved sorted resolved helped helps muchas ayuda merci beaucoup vielen dank muito ajuda obrigada
    broken failing fails failed error errors issue problem nothing changed happens happening happened ridiculous
    useless frustrating unacceptable third second thx thnx tysm luck course makes sense detailed answer answers saved
    afternoon forth reading messages listening clear understood understand alright seriously contacting honestly
    funciona funcionó sigue igual saliendo mismo intentado veces dos perfecto vale
    marche toujours parfait aide essayé même problème
    geholfen leider funktioniert immer dasselbe gleiche alles klar
    valeu funcionou perfeito pela show continua tentei dando mesmo problema""".split()
)
COURTESY_STEMS = frozenset(stem(word) for word in COURTESY_WORDS)  # "sorting it out", "contacted you"
# How much of one turn is read (a pasted log of megabytes must not cost a sentence split of megabytes).
TURN_READ_CHARS = 4000


def request_text(user_turns: Sequence[str], limit: int = 400) -> str:
    """What the user came for, from their turns (scrubbed): see the module docstring. Empty when every
    sentence is a courtesy; the caller then falls back to the opening turn."""
    kept: list[str] = []
    used = 0
    for index, turn in enumerate(user_turns):
        prose = normalise_space(strip_code(turn[:TURN_READ_CHARS], " "))
        content = [
            sentence
            for sentence in (OPENING_FILLER.sub("", part).strip() for part in sentences(prose))
            if _has_content(sentence)
        ]
        for sentence in content[:2] if index == 0 else content:
            kept.append(sentence)
            used += len(sentence) + 1
            if used >= limit:
                return truncate(" ".join(kept), limit)
    return truncate(" ".join(kept), limit)


def _has_content(sentence: str) -> bool:
    return any(
        word not in COURTESY_WORDS and stem(word) not in COURTESY_STEMS
        for word in content_tokens(tokens(sentence))
    )


class ExtractiveSummaryModel:
    """Local facets from the user's turns: no network, no key, deterministic.

    Parameters
    ----------
    request_chars:
        Length cap of the `request` facet.
    keyword_count:
        How many content words of the user's turns end the `task` facet.
    """

    name = "extractive-v1"
    runs_in_processes = True  # pure Python over each conversation: chunks can be summarised in parallel

    def __init__(self, request_chars: int = 400, keyword_count: int = 5) -> None:
        self.request_chars = request_chars
        self.keyword_count = keyword_count

    def summarise(self, conversations: Sequence[Conversation]) -> list[ConversationSummary]:
        results = []
        for conversation in conversations:
            try:
                results.append(self.summarise_one(conversation))
            except Exception as error:  # a bad conversation must not lose the batch
                results.append(
                    ConversationSummary(
                        chat_id=conversation.chat_id, error=f"{type(error).__name__}: {error}"
                    )
                )
        return results

    def summarise_one(self, conversation: Conversation) -> ConversationSummary:
        # Scrubbed first: no facet, and so no name or description built from facets, carries personal data.
        user_turns = [
            scrub(m.content) for m in conversation.messages if m.role == "user" and m.content.strip()
        ]
        all_turns = [m.content for m in conversation.messages if m.content.strip()]
        if not user_turns:
            raise ValueError("conversation has no user turn")
        request = request_text(user_turns, self.request_chars)
        if not request:  # only courtesies ("hi", "thanks!"): the opening, as written
            opening = normalise_space(strip_code(user_turns[0], " "))
            request = truncate(" ".join(sentences(opening)[:2]) or opening, self.request_chars)
        follow_ups = [turn.lower() for turn in user_turns[1:]]

        intent = _first_match(request.lower(), INTENTS) or "Get help"
        # The user's words without code, split once: the keywords and the language detector both read them.
        user_words = [tokens(strip_code(turn)) for turn in user_turns]
        keywords = [
            word
            for word, _ in Counter(
                word for words in user_words for word in content_tokens(words)
            ).most_common(self.keyword_count)
        ]
        task = f"{intent}: {', '.join(keywords)}" if keywords else intent

        programming = detect_programming_languages(all_turns)
        natural = natural_languages_of_tokens(user_words)
        frustration = 1 + sum(
            sum(turn.count(cue) for cue in FRUSTRATION_CUES)
            + turn.count("!!")
            + len(SHOUTING.findall(original))
            for turn, original in zip(follow_ups, user_turns[1:])
        )
        everything_user = " ".join(turn.lower() for turn in user_turns)
        concern = next(
            (level for level, cues in CONCERN_LEVELS if any(c in everything_user for c in cues)), 1
        )
        errors = sorted(
            {label for turn in follow_ups for label, cues in ERROR_CUES if any(c in turn for c in cues)}
        )

        turn_note = f"{len(conversation.messages)} messages"
        follow_note = " The user followed up reporting problems." if errors else ""
        summary = f"{intent} — {request}{follow_note} ({turn_note})."
        return ConversationSummary(
            chat_id=conversation.chat_id,
            summary=summary,
            request=request,
            topic="software development" if programming else _topic_from_intent(intent),
            languages=natural + programming,
            task=task,
            concerning_score=concern,
            user_frustration=min(frustration, 5),
            assistant_errors=errors,
            metadata=dict(conversation.metadata),
        )


def _topic_from_intent(intent: str) -> str:
    if intent in {
        "Get a refund or return",
        "Track a missing order",
        "Resolve a payment problem",
        "Cancel or change a subscription",
        "Regain account access",
    }:
        return "customer support"
    return "general assistance"
