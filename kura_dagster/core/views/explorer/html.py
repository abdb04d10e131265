"""One self-contained HTML file: the template, its CSS and JavaScript inline, and the data as escaped JSON.

Names, summaries and messages are untrusted. The data travels in a `<script type="application/json">`
element, where the only way out is a `</script` sequence, so `<`, `>` and `&` are written as JSON escapes
(`\\u003c`...) that `JSON.parse` turns back into the same text; U+2028/U+2029 are escaped too for old parsers.
The page's script then puts every value into the DOM with `textContent` or SVG/canvas text, never as markup.
The template's placeholders are filled in a single pass, so text inside the data that happens to look like
a placeholder is never expanded.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _asset(name: str) -> str:
    return (
        resources.files("kura_dagster.core.views.explorer")
        .joinpath("static", name)
        .read_text(encoding="utf-8")
    )


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def embed_json(data: Any) -> str:
    """JSON that is safe inside a `<script>` element, whatever strings it carries."""
    text = json.dumps(_finite(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group(0)], text)


def embed_json_chunks(data: Any, depth: int = 2) -> Iterator[str]:
    """`embed_json(data)` in pieces, one per value down to `depth` levels of dicts: a page with a million
    conversations is written column by column instead of as one string several hundred MB long."""
    if not isinstance(data, dict) or depth <= 0:
        yield embed_json(data)
        return
    yield "{"
    for i, (key, value) in enumerate(data.items()):
        yield ("," if i else "") + embed_json(str(key)) + ":"
        yield from embed_json_chunks(value, depth - 1)
    yield "}"


def privacy_note(totals: dict) -> str:
    """The sentence that says how many conversations the page leaves out for privacy ("" when none)."""
    hidden = int(totals.get("hidden") or 0)
    if not hidden:
        return ""
    if totals.get("hidden_note"):  # with the thresholds in force: it also names the setting that shows them
        return totals["hidden_note"]
    why = "below the privacy thresholds" + (
        " or withheld by the privacy audit" if totals.get("hidden_withheld") else ""
    )
    return f"{hidden:,} conversation{'s' if hidden != 1 else ''} in groups {why} {'are' if hidden != 1 else 'is'} not shown."


def report_html_chunks(data: dict) -> Iterator[str]:
    """The explorer page for `data` (from `build_report_data`), in pieces to write one after the other."""
    parts = {
        "TITLE": html.escape(f"Kura explorer: {data.get('dataset', '')} {data.get('date', '')}"),
        # In the page itself, not only drawn by the script: it holds without JavaScript and for a grep.
        "PRIVACY_NOTE": html.escape(privacy_note(data.get("totals", {}))),
        "CSS": _asset("explorer.css"),
        "JS": _asset("explorer.js"),
    }
    for name in ("CSS", "JS"):  # our own files: guard against an edit that would end the element early
        if re.search(r"</(script|style)", parts[name], re.IGNORECASE):
            raise ValueError(f"static explorer {name} must not contain a closing script/style tag")
    template = _asset("explorer.html")
    done = 0
    for match in _PLACEHOLDER.finditer(template):
        yield template[done : match.start()]
        name = match.group(1)
        if name == "DATA":
            yield from embed_json_chunks(data)
        else:
            yield parts[name]
        done = match.end()
    yield template[done:]


def render_report_html(data: dict) -> str:
    """The explorer page for `data` (from `build_report_data`) as one string."""
    return "".join(report_html_chunks(data))
