"""Personal-data scrubbing: typed placeholders for what could identify someone or grant access.

Applied before any text leaves the machine (hosted prompts) and to every facet the local summariser
writes, so names, descriptions and reports built from facets never carry these values. Patterns favour
recall on the high-risk kinds (keys, cards) and precision elsewhere: a card number must pass the Luhn check
and an IBAN its mod-97 check, so order numbers and prices are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Replacement = str | Callable[[re.Match], str]


def luhn_valid(digits: str) -> bool:
    total, double = 0, False
    for char in reversed(digits):
        value = int(char) * (2 if double else 1)
        total += value - 9 if value > 9 else value
        double = not double
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(char, 36)) for char in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def _card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[CARD_NUMBER]" if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group(0)


def _iban(match: re.Match) -> str:
    return "[IBAN]" if iban_valid(match.group(0)) else match.group(0)


def _ipv4(match: re.Match) -> str:
    return "[IP_ADDRESS]" if all(int(part) <= 255 for part in match.group(0).split(".")) else match.group(0)


# Order matters: secrets and URLs before the generic number patterns that could eat parts of them.
PATTERNS: tuple[tuple[str, re.Pattern, Replacement], ...] = (
    (
        "private_key",
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        "[PRIVATE_KEY]",
    ),
    (
        "api_key",
        re.compile(
            r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
            r"|xox[abposr]-[A-Za-z0-9\-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{35}|glpat-[A-Za-z0-9_\-]{20,}"
            r"|eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,})"
        ),
        "[API_KEY]",
    ),
    (
        "secret_assignment",
        re.compile(
            r"(?i)\b((?:api[_-]?key|secret|token|password|passwd|pwd|access[_-]?key|auth)[\"']?\s*[:=]\s*[\"']?)"
            r"(?!\[)([^\s\"',;]{6,})"
        ),
        lambda m: f"{m.group(1)}[SECRET]",
    ),
    (
        "url_credentials",
        re.compile(r"\b([a-z][a-z0-9+.\-]*://)[^\s/:@]+:[^\s/@]+@", re.I),
        lambda m: f"{m.group(1)}[CREDENTIALS]@",
    ),
    (
        "url_token",
        re.compile(
            r"(?i)([?&](?:token|access_token|api_key|apikey|key|sig|signature|auth|password)=)"
            r"[^&\s#]+"
        ),
        lambda m: f"{m.group(1)}[TOKEN]",
    ),
    ("email", re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b"), "[EMAIL]"),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"), _iban),
    ("card_number", re.compile(r"\b(?:\d[ \-]?){12,18}\d\b"), _card),
    ("ipv6", re.compile(r"\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b", re.I), "[IP_ADDRESS]"),
    ("ipv4", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), _ipv4),
    # A phone number needs a telling shape: a +country prefix, an (area) code, or the 3-3-4 grouping; bare
    # digit groups (order numbers, versions, a card that failed Luhn) are not phones.
    (
        "phone",
        re.compile(
            r"(?<![\w\-+])(?:\+\d{1,3}[ .\-]?(?:\(?\d{1,4}\)?[ .\-]?)?\d{2,4}[ .\-]?\d{2,4}(?:[ .\-]?\d{2,4})?"
            r"|\(\d{2,4}\)[ .\-]?\d{3,4}[ .\-]\d{3,5}|\d{3}[ .\-]\d{3}[ .\-]\d{4})(?![\w\-]|[ .]\d)"
        ),
        "[PHONE]",
    ),
)


_DIGIT = re.compile(r"\d")


def _has_digit(text: str) -> bool:
    return _DIGIT.search(text) is not None


# A character or word each pattern cannot match without, tested with `in` (a fast scan) before the regex:
# most turns hold none, and running every pattern over every turn was most of the local summariser's time.
# Placeholders never add these characters, so testing the text as it is at that point is exact.
MAY_MATCH: dict[str, Callable[[str], bool]] = {
    "private_key": lambda text: "PRIVATE KEY-----" in text,
    "api_key": lambda text: any(cue in text for cue in ("sk-", "_", "xox", "AKIA", "AIza", "glpat-", "eyJ")),
    "secret_assignment": lambda text: ":" in text or "=" in text,
    "url_credentials": lambda text: "://" in text and "@" in text,
    "url_token": lambda text: "=" in text and ("?" in text or "&" in text),
    "email": lambda text: "@" in text,
    "iban": _has_digit,
    "card_number": _has_digit,
    "ipv6": lambda text: ":" in text,
    "ipv4": lambda text: "." in text and _has_digit(text),
    "phone": _has_digit,
}


def scrub(text: str) -> str:
    """`text` with personal data and secrets replaced by typed placeholders such as [EMAIL]."""
    if not text:
        return text
    for kind, pattern, replacement in PATTERNS:
        if MAY_MATCH[kind](text):
            text = pattern.sub(replacement, text)
    return text


def find_personal_data(text: str) -> list[tuple[str, str]]:
    """(kind, value) of everything `scrub` would replace; for tests and audits."""
    found = []
    for kind, pattern, replacement in PATTERNS:
        for match in pattern.finditer(text or ""):
            if callable(replacement) and replacement(match) == match.group(0):
                continue
            found.append((kind, match.group(0)))
    return found
