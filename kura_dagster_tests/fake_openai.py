"""A loopback, OpenAI-compatible HTTP server for tests and benchmarks (standard library only).

    with FakeOpenAIServer(latency_s=0.05, fault_rate=0.1) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        ...
        assert server.calls["chat"] == 10

Endpoints (OpenAI and Azure style paths):

* ``POST /v1/chat/completions`` and ``POST /openai/deployments/{deployment}/chat/completions?api-version=...``
* ``POST /v1/embeddings`` and ``POST /openai/deployments/{deployment}/embeddings?api-version=...``
* ``GET /v1/models`` (a one-model list, for clients that probe it)

Chat content, in order of precedence: the ``responder(request_json)`` hook (dict -> JSON-encoded, str -> raw,
None -> default); the privacy auditor's two schemas, answered like a careful model would (see
:func:`privacy_rating` and :func:`general_name`); for ``response_format={"type": "json_schema", ...}`` a JSON
object generated deterministically from the schema (see :func:`generate_from_schema`); for ``{"type": "json_object"}`` a
``{"text": ...}`` object; otherwise a short plain text made from the last user message (:func:`prompt_text`).

Embeddings are deterministic unit vectors: ``embedding_mode="hash"`` (default) seeds ``random.Random`` with
the SHA-256 of the text (unrelated texts are ~orthogonal), ``embedding_mode="bow"`` hashes the words of the
text (feature hashing) so texts sharing words get similar vectors, which is handy for clustering tests.
Both ``encoding_format="float"`` and ``"base64"`` (float32 little-endian, the openai client's default) work.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlsplit

__all__ = [
    "FakeOpenAIServer",
    "general_name",
    "privacy_rating",
    "generate_from_schema",
    "prompt_text",
    "embed_text",
    "validate_json_schema",
]

DEFAULT_FAULTS: tuple[str, ...] = ("429", "500", "timeout", "invalid_json")
# "reset" (not a default) drops the connection with a TCP reset instead of answering.
KNOWN_FAULTS = frozenset(DEFAULT_FAULTS) | {"reset"}

_STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from how i i'm in is it its me my no not of on or so that the "
    "this to was we what when where which why with you your".split()
)
_WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_'\-\.]*")
_TAG_BLOCK_RE = re.compile(r"<([A-Za-z_][\w\-]*)[^>]*>(.*?)</\1\s*>", re.S)


# --------------------------------------------------------------------------------------------------
# Deterministic content helpers (public: tests and benchmarks may want to predict the output).
# --------------------------------------------------------------------------------------------------


def _hash_int(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def _content_text(content: Any) -> str:
    """Text of a message ``content``: a string, or a list of parts (``{"type": "text", "text": ...}``)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    out.append(text)
        return "\n".join(out)
    return str(content)


def _messages_text(body: dict) -> str:
    messages = body.get("messages") or []
    return "\n".join(
        f"{m.get('role', '')}: {_content_text(m.get('content'))}" for m in messages if isinstance(m, dict)
    )


def last_user_message(body: dict) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return _content_text(message.get("content"))
    messages = body.get("messages") or []
    return _content_text(messages[-1].get("content")) if messages and isinstance(messages[-1], dict) else ""


def prompt_text(body: dict, max_words: int = 12) -> str:
    """The default short text for a chat request: the first ``max_words`` words of the last user message.

    If that message wraps material in XML-like tags (``<transcript>...</transcript>``, as Clio/Kura style
    prompts do), the longest tagged block is used instead of the whole message, so prompts built from one
    template still give different texts.
    """
    source = last_user_message(body)
    blocks = [m.group(2) for m in _TAG_BLOCK_RE.finditer(source)]
    blocks = [b for b in blocks if _WORD_RE.search(b)]
    if blocks:
        source = max(blocks, key=len)
    words = _WORD_RE.findall(source)
    text = " ".join(words[:max_words]).strip()
    return text or "empty prompt"


# What the fake privacy auditor treats as identifying: a placeholder left by personal-data scrubbing, a number
# of three or more digits (order, account, house numbers), an @ (handles, addresses).
_IDENTIFYING_RE = re.compile(
    r"\[(?:EMAIL|PHONE|CARD_NUMBER|IBAN|IP_ADDRESS|CREDENTIALS|TOKEN|API_KEY|SECRET|"
    r"PRIVATE_KEY)\]|\d{3,}|\S*@\S*"
)


def _tagged(body: dict, tag: str) -> str:
    """The content of the last ``<tag>...</tag>`` block of the last user message (the whole message without one)."""
    source = last_user_message(body)
    blocks = [m.group(2) for m in _TAG_BLOCK_RE.finditer(source) if m.group(1) == tag]
    return blocks[-1] if blocks else source


def privacy_rating(text: str) -> int:
    """The fake auditor's score on Clio's 1-5 privacy scale: 2 when ``text`` has an identifying cue, else 5."""
    return 2 if _IDENTIFYING_RE.search(text) else 5


def general_name(text: str) -> dict:
    """The fake auditor's more general rewrite of a ``Name: ...`` / ``Description: ...`` block: every
    identifying cue dropped (which is what :func:`privacy_rating` looks for)."""
    fields = {"name": "", "summary": ""}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        target = {"name": "name", "description": "summary"}.get(key.strip().lower())
        if target:
            fields[target] = " ".join(_IDENTIFYING_RE.sub(" ", value).split())
    name = " ".join(fields["name"].split()[:10]) or "General request"
    return {"summary": fields["summary"] or f"Conversations about: {name}.", "name": name}


def _fit_string(text: str, schema: dict, key: str) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2024-01-01T00:00:00Z"
    if fmt == "date":
        return "2024-01-01"
    if fmt == "time":
        return "00:00:00"
    if fmt == "email":
        return f"user{_hash_int(key, text) % 1000}@example.com"
    if fmt in ("uri", "url"):
        return f"https://example.com/{_hash_int(key, text) % 1000}"
    if fmt == "uuid":
        return str(uuid.UUID(int=_hash_int(key, text) << 64 | _hash_int(text, key)))
    if key.rsplit(".", 1)[-1] == "name":  # key is the JSON path, e.g. "$.name"
        # Like a model following "a name of at most ten words": short names for fields called "name".
        text = " ".join(text.split()[:6])
    min_len = int(schema.get("minLength", 0) or 0)
    max_len = schema.get("maxLength")
    while len(text) < min_len:
        text = (text + " " + text).strip() if text else "x" * min_len
    if max_len is not None:
        text = text[: int(max_len)]
    return text


def _resolve_ref(ref: str, root: dict) -> dict:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref are supported, got {ref!r}")
    node: Any = root
    for token in ref.lstrip("#").strip("/").split("/"):
        if not token:
            continue
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _is_null_schema(schema: Any) -> bool:
    return isinstance(schema, dict) and (schema.get("type") == "null" or schema.get("const", 0) is None)


def generate_from_schema(
    schema: dict,
    text: str,
    seed_text: str | None = None,
    *,
    root: dict | None = None,
    path: str = "$",
    depth: int = 0,
) -> Any:
    """A value that validates against the JSON ``schema``, chosen deterministically.

    ``text`` fills strings; ``seed_text`` (default ``text``) and the JSON path seed every other choice
    (enum members, integers in range, booleans, array lengths), so different prompts choose differently.
    Supports type (incl. lists of types), properties/required, items/prefixItems, min/max constraints,
    enum/const, anyOf/oneOf (non-null branch preferred), allOf (merged), and local ``$ref``/``$defs``.
    """
    seed_text = text if seed_text is None else seed_text
    root = schema if root is None else root
    if not isinstance(schema, dict):  # `true` / `{}`-like schemas
        return text
    h = _hash_int(seed_text, path)

    if "$ref" in schema:
        target = _resolve_ref(schema["$ref"], root)
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        if rest:
            target = {**target, **rest}
        return generate_from_schema(target, text, seed_text, root=root, path=path, depth=depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema and schema["enum"]:
        values = list(schema["enum"])
        non_null = [v for v in values if v is not None]
        values = non_null or values
        return values[h % len(values)]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = list(schema[key])
            non_null = [o for o in options if not _is_null_schema(o)]
            if depth > 12 and len(non_null) < len(options):
                return None
            choice = (non_null or options)[0]
            merged = (
                {**{k: v for k, v in schema.items() if k != key}, **choice}
                if isinstance(choice, dict)
                else choice
            )
            return generate_from_schema(merged, text, seed_text, root=root, path=path, depth=depth + 1)
    if schema.get("allOf"):
        merged: dict = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if isinstance(part, dict) and "$ref" in part:
                part = _resolve_ref(part["$ref"], root)
            if not isinstance(part, dict):
                continue
            props = {**merged.get("properties", {}), **part.get("properties", {})}
            required = list(dict.fromkeys([*merged.get("required", []), *part.get("required", [])]))
            merged = {**merged, **part, "properties": props, "required": required}
            if not props:
                merged.pop("properties")
            if not required:
                merged.pop("required")
        return generate_from_schema(merged, text, seed_text, root=root, path=path, depth=depth + 1)

    type_ = schema.get("type")
    if isinstance(type_, list):
        non_null = [t for t in type_ if t != "null"]
        if not non_null or (depth > 12 and "null" in type_):
            return None
        type_ = non_null[0]
    if type_ is None:
        if "properties" in schema or "additionalProperties" in schema:
            type_ = "object"
        elif "items" in schema or "prefixItems" in schema:
            type_ = "array"
        else:
            type_ = "string"

    if type_ == "null":
        return None
    if type_ == "boolean":
        return h % 2 == 0
    if type_ in ("integer", "number"):
        return _generate_number(schema, type_, h)
    if type_ == "string":
        return _fit_string(text, schema, path)
    if type_ == "array":
        return _generate_array(schema, text, seed_text, root, path, depth, h)
    if type_ == "object":
        out: dict = {}
        properties = schema.get("properties") or {}
        for name, sub in properties.items():
            out[name] = generate_from_schema(
                sub, text, seed_text, root=root, path=f"{path}.{name}", depth=depth + 1
            )
        # required keys without a declared schema
        for name in schema.get("required") or []:
            out.setdefault(name, text)
        min_props = int(schema.get("minProperties", 0) or 0)
        extra = schema.get("additionalProperties")
        i = 0
        while len(out) < min_props and extra is not False:
            out[f"key_{i}"] = generate_from_schema(
                extra if isinstance(extra, dict) else {},
                text,
                seed_text,
                root=root,
                path=f"{path}.key_{i}",
                depth=depth + 1,
            )
            i += 1
        return out
    raise ValueError(f"unsupported JSON schema type {type_!r} at {path}")


def _generate_number(schema: dict, type_: str, h: int) -> int | float:
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    xlo = schema.get("exclusiveMinimum")
    xhi = schema.get("exclusiveMaximum")
    if isinstance(xlo, bool):  # draft-4 style booleans
        xlo = lo if xlo else None
        lo = None if xlo is not None else lo
    if isinstance(xhi, bool):
        xhi = hi if xhi else None
        hi = None if xhi is not None else hi
    if type_ == "integer":
        low = math.ceil(lo) if lo is not None else None
        if xlo is not None:
            low = max(low, math.floor(xlo) + 1) if low is not None else math.floor(xlo) + 1
        high = math.floor(hi) if hi is not None else None
        if xhi is not None:
            high = min(high, math.ceil(xhi) - 1) if high is not None else math.ceil(xhi) - 1
        if low is None and high is None:
            low, high = 1, 10
        elif low is None:
            low = high - 9
        elif high is None:
            high = low + 9
        if high < low:
            return low
        value = low + h % (high - low + 1)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            candidate = math.ceil(low / step) * step
            n = max(0, (high - candidate) // step)
            value = candidate + step * (h % (n + 1))
        return value
    low = float(lo if lo is not None else (xlo if xlo is not None else 0.0))
    high = float(hi if hi is not None else (xhi if xhi is not None else low + 1.0))
    frac = (h % 997 + 1) / 999.0  # strictly inside (0, 1): safe for exclusive bounds
    return round(low + frac * (high - low), 6) if high > low else low


def _generate_array(
    schema: dict, text: str, seed_text: str, root: dict, path: str, depth: int, h: int
) -> list:
    prefix = schema.get("prefixItems") or []
    items = schema.get("items", {})
    if isinstance(items, list):  # draft-4 tuple form
        prefix, items = items, schema.get("additionalItems", {})
    min_items = int(schema.get("minItems", 0) or 0)
    max_items = schema.get("maxItems")
    n = 1 + h % 2
    if depth > 12:
        n = 0
    n = max(n, min_items, len(prefix) if items is False else 0)
    if max_items is not None:
        n = min(n, int(max_items))
    out: list = []
    seen: set[str] = set()
    unique = bool(schema.get("uniqueItems"))
    attempts = 0
    while len(out) < n and attempts < n + 20:
        i = len(out)
        sub = prefix[i] if i < len(prefix) else items
        item_path = f"{path}[{i}]" if attempts == i else f"{path}[{i}]#{attempts}"
        item_text = text if i == 0 else f"{text} {i + 1}"
        value = generate_from_schema(
            sub if sub is not True else {}, item_text, seed_text, root=root, path=item_path, depth=depth + 1
        )
        attempts += 1
        key = json.dumps(value, sort_keys=True)
        if unique and key in seen:
            continue
        seen.add(key)
        out.append(value)
    return out


def validate_json_schema(
    instance: Any, schema: dict, *, root: dict | None = None, path: str = "$"
) -> list[str]:
    """A small JSON-schema validator (the subset :func:`generate_from_schema` supports); returns error strings.

    Good enough for tests without the ``jsonschema`` package; not a complete implementation.
    """
    root = schema if root is None else root
    errors: list[str] = []
    if schema is True or schema == {}:
        return errors
    if schema is False:
        return [f"{path}: schema is false"]
    if "$ref" in schema:
        errors += validate_json_schema(instance, _resolve_ref(schema["$ref"], root), root=root, path=path)
    if "const" in schema and instance != schema["const"]:
        errors.append(f"{path}: {instance!r} != const {schema['const']!r}")
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{path}: {instance!r} not in enum {schema['enum']!r}")
    for key in ("anyOf", "oneOf"):
        if key in schema:
            matches = [not validate_json_schema(instance, s, root=root, path=path) for s in schema[key]]
            if not any(matches):
                errors.append(f"{path}: matches no {key} branch")
    for sub in schema.get("allOf", []):
        errors += validate_json_schema(instance, sub, root=root, path=path)
    type_ = schema.get("type")
    if type_ is not None:
        types = type_ if isinstance(type_, list) else [type_]
        checks = {
            "null": lambda v: v is None,
            "boolean": lambda v: isinstance(v, bool),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "string": lambda v: isinstance(v, str),
            "array": lambda v: isinstance(v, list),
            "object": lambda v: isinstance(v, dict),
        }
        if not any(checks[t](instance) for t in types):
            return errors + [f"{path}: {instance!r} is not of type {type_!r}"]
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        if "minimum" in schema and instance < schema["minimum"]:
            errors.append(f"{path}: {instance} < minimum {schema['minimum']}")
        if "maximum" in schema and instance > schema["maximum"]:
            errors.append(f"{path}: {instance} > maximum {schema['maximum']}")
        xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        if isinstance(xlo, (int, float)) and not isinstance(xlo, bool) and instance <= xlo:
            errors.append(f"{path}: {instance} <= exclusiveMinimum {xlo}")
        if isinstance(xhi, (int, float)) and not isinstance(xhi, bool) and instance >= xhi:
            errors.append(f"{path}: {instance} >= exclusiveMaximum {xhi}")
    if isinstance(instance, str):
        if len(instance) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than minLength")
        if "maxLength" in schema and len(instance) > schema["maxLength"]:
            errors.append(f"{path}: longer than maxLength")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            errors.append(f"{path}: fewer than minItems")
        if "maxItems" in schema and len(instance) > schema["maxItems"]:
            errors.append(f"{path}: more than maxItems")
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(instance):
                errors += validate_json_schema(item, items, root=root, path=f"{path}[{i}]")
    if isinstance(instance, dict):
        for name in schema.get("required", []):
            if name not in instance:
                errors.append(f"{path}: missing required key {name!r}")
        properties = schema.get("properties", {})
        for name, value in instance.items():
            if name in properties:
                errors += validate_json_schema(value, properties[name], root=root, path=f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected key {name!r}")
    return errors


def embed_text(text: str, dim: int, mode: str = "hash") -> list[float]:
    """A deterministic unit vector for ``text`` (see the module docstring for ``mode``)."""
    if dim <= 0:
        raise ValueError("dimension must be positive")
    if mode == "bow":
        # random indexing: each content word owns a fixed random direction; the text is their weighted sum
        vec = [0.0] * dim
        words = [w.lower().strip(".'-") for w in _WORD_RE.findall(text)]
        content = [w for w in words if w and w not in _STOPWORDS] or words or [text]
        for word, count in Counter(content).items():
            rng = random.Random(_hash_int("bow", word))
            weight = 1.0 + math.log(count)
            for j in range(dim):
                vec[j] += weight * rng.gauss(0.0, 1.0)
        # a little text-specific noise so distinct texts never collide exactly
        rng = random.Random(_hash_int("noise", text))
        vec = [v + 0.01 * rng.gauss(0.0, 1.0) for v in vec]
    elif mode == "hash":
        rng = random.Random(hashlib.sha256(text.encode("utf-8")).digest())
        vec = [rng.gauss(0.0, 1.0) for _ in range(dim)]
    else:
        raise ValueError(f"unknown embedding mode {mode!r}")
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


# --------------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    allow_reuse_address = True
    fake: "FakeOpenAIServer"

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001 - stdlib signature
        # Client disconnects (and anything else) must never spam stderr during tests.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    sys_version = ""
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            self.server.fake._track(self.connection, add=False)

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError, OSError):
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = urlsplit(self.path).path.rstrip("/")
        if path.endswith("/models"):
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake-openai"}
                    ],
                },
            )
        else:
            self._send_json(404, _error_body(f"Unknown path {path}", "invalid_request_error", "not_found"))

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self.server.fake._handle_post(self)

    # -- response helpers ------------------------------------------------------------------------
    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(body).encode("utf-8"), headers)

    def _send_raw(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            # Headers and body in ONE write: two small writes would hit Nagle + delayed-ACK (~40 ms each).
            self._headers_buffer.append(b"\r\n")
            self._headers_buffer.append(payload)
            self.flush_headers()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            self.close_connection = True


def _error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


_AZURE_RE = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/(?P<op>chat/completions|embeddings)$")
_OPENAI_RE = re.compile(r"^(?:/v1)?/(?P<op>chat/completions|embeddings)$")


class FakeOpenAIServer:
    """A threaded loopback server speaking enough of the OpenAI (and Azure OpenAI) REST API for tests.

    Counters (all guarded by a lock): ``calls`` (Counter by endpoint, "chat"/"embeddings", every request
    including faulted ones), ``faults`` (Counter by injected fault kind actually served), ``requests``
    (parsed JSON bodies in arrival order), ``api_keys`` (Counter of the keys clients sent), ``in_flight`` and
    ``max_in_flight``.
    """

    def __init__(
        self,
        latency_s: float = 0.0,
        fault_rate: float = 0.0,
        seed: int = 0,
        faults: tuple[str, ...] = DEFAULT_FAULTS,
        embedding_dim: int = 64,
        responder: Callable[[dict], dict | str | None] | None = None,
        *,
        timeout_sleep_s: float = 2.0,
        embedding_mode: str = "hash",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        unknown = set(faults) - KNOWN_FAULTS
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {sorted(KNOWN_FAULTS)}")
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be within [0, 1]")
        if fault_rate > 0 and not faults:
            raise ValueError("fault_rate > 0 needs at least one fault kind")
        if embedding_mode not in ("hash", "bow"):
            raise ValueError("embedding_mode must be 'hash' or 'bow'")
        self.latency_s = float(latency_s)
        self.fault_rate = float(fault_rate)
        self.seed = seed
        self.fault_kinds = tuple(faults)
        self.embedding_dim = int(embedding_dim)
        self.responder = responder
        self.timeout_sleep_s = float(timeout_sleep_s)
        self.embedding_mode = embedding_mode
        self.host = host
        self._requested_port = port

        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.calls: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.requests: list[dict] = []
        self.api_keys: Counter[str] = Counter()  # keys the clients sent (Bearer or Azure's api-key header)
        self.in_flight = 0
        self.max_in_flight = 0

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> "FakeOpenAIServer":
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self._requested_port), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-openai-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes requests sleeping for latency / "timeout" faults
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # idle keep-alive connections would otherwise linger
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeOpenAIServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server is not running")
        return self._httpd.server_address[1]

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (use as ``azure_endpoint``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (use as the OpenAI client's ``base_url``)."""
        return f"{self.root_url}/v1"

    @property
    def azure_endpoint(self) -> str:
        return self.root_url

    def reset_counters(self) -> None:
        with self._lock:
            self.calls = Counter()
            self.faults = Counter()
            self.requests = []
            self.api_keys = Counter()
            self.max_in_flight = self.in_flight

    # -- internals -----------------------------------------------------------------------------------
    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _draw_fault(self, endpoint: str) -> str | None:
        with self._lock:
            if self.fault_rate <= 0 or not self.fault_kinds:
                return None
            if self._rng.random() >= self.fault_rate:
                return None
            kind = self._rng.choice(self.fault_kinds)
        if kind == "invalid_json" and endpoint != "chat":
            kind = "500"
        return kind

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _handle_post(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        path = split.path.rstrip("/")
        deployment = None
        match = _AZURE_RE.match(path)
        if match:
            deployment = match.group("deployment")
        else:
            match = _OPENAI_RE.match(path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if not match:
            handler._send_json(
                404, _error_body(f"Unknown path {split.path}", "invalid_request_error", "not_found")
            )
            return
        endpoint = "chat" if match.group("op") == "chat/completions" else "embeddings"
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("request body must be a JSON object")
        except ValueError as exc:
            handler._send_json(400, _error_body(f"Invalid JSON body: {exc}", "invalid_request_error"))
            return

        with self._lock:
            self.calls[endpoint] += 1
            self.requests.append(body)
            key = handler.headers.get("api-key") or handler.headers.get("Authorization", "").removeprefix(
                "Bearer "
            )
            self.api_keys[key] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = self._respond(endpoint, body, deployment)
        finally:
            # Leave the in-flight window before writing, so a client that has its answer sees in_flight == 0.
            with self._lock:
                self.in_flight -= 1
        if response is None:  # shutting down during a "timeout" fault
            handler.close_connection = True
            return
        if response == "reset":
            # SO_LINGER with a zero timeout makes close() send RST: the client sees "connection reset".
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.close_connection = True
            handler.connection.close()
            return
        handler._send_json(*response)

    def _respond(self, endpoint: str, body: dict, deployment: str | None) -> tuple[int, Any, dict] | None:
        """(status, JSON body, extra headers) for one request, after latency and fault injection."""
        self._sleep(self.latency_s)
        fault = self._draw_fault(endpoint)
        if fault is not None:
            with self._lock:
                self.faults[fault] += 1
        if fault == "429":
            return (
                429,
                _error_body(
                    "Rate limit reached (injected by FakeOpenAIServer).", "requests", "rate_limit_exceeded"
                ),
                {"Retry-After": "0.05", "retry-after-ms": "50"},
            )
        if fault == "500":
            return (
                500,
                _error_body(
                    "The server had an error (injected by FakeOpenAIServer).", "server_error", "server_error"
                ),
                {},
            )
        if fault == "reset":
            return "reset"
        if fault == "timeout":
            self._sleep(self.timeout_sleep_s)
            if self._stopping.is_set():
                return None
        model = body.get("model") or deployment or "fake-model"
        try:
            if endpoint == "chat":
                return 200, self._chat(body, model, invalid_json=fault == "invalid_json"), {}
            return 200, self._embeddings(body, model), {}
        except _BadRequest as exc:
            return 400, _error_body(str(exc), "invalid_request_error", param=exc.param), {}
        except Exception as exc:  # a responder or schema bug: make it visible to the test
            return (
                500,
                _error_body(
                    f"FakeOpenAIServer failed: {type(exc).__name__}: {exc}", "server_error", "fake_server_bug"
                ),
                {"x-should-retry": "false"},
            )

    def _chat(self, body: dict, model: str, *, invalid_json: bool) -> dict:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _BadRequest("'messages' must be a non-empty list", "messages")
        text = prompt_text(body)
        content: str | None = None
        if self.responder is not None:
            custom = self.responder(body)
            if isinstance(custom, (dict, list)):
                content = json.dumps(custom)
            elif isinstance(custom, str):
                content = custom
            elif custom is not None:
                raise TypeError(f"responder returned {type(custom).__name__}, expected dict, str or None")
        if content is None:
            content = self._default_content(body, text)
        if invalid_json:
            content = '{"summary": "' + text[:20]  # truncated mid-string: never valid JSON
        prompt_tokens = max(1, len(_messages_text(body)) // 4)
        completion_tokens = max(1, len(content) // 4)
        n = int(body.get("n") or 1)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
                for i in range(n)
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens * n,
                "total_tokens": prompt_tokens + completion_tokens * n,
            },
        }

    def _default_content(self, body: dict, text: str) -> str:
        fmt = body.get("response_format") or {}
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind == "json_schema":
            spec = fmt.get("json_schema") or {}
            if spec.get("name") == "privacy_rating":
                block = _tagged(body, "cluster")
                score = privacy_rating(block)
                reason = "identifying details" if score < 3 else "general description"
                return json.dumps({"reasoning": reason, "score": score})
            if spec.get("name") == "general_cluster_name":
                return json.dumps(general_name(_tagged(body, "cluster")))
            schema = spec.get("schema")
            if not isinstance(schema, dict):
                raise _BadRequest(
                    "response_format.json_schema.schema must be an object",
                    "response_format.json_schema.schema",
                )
            value = generate_from_schema(schema, text, seed_text=_messages_text(body))
            return json.dumps(value)
        if kind == "json_object":
            return json.dumps({"text": text})
        return text

    def _embeddings(self, body: dict, model: str) -> dict:
        inputs = body.get("input")
        if isinstance(inputs, str):
            texts = [inputs]
        elif isinstance(inputs, list) and inputs and all(isinstance(x, int) for x in inputs):
            texts = [json.dumps(inputs)]  # one token array
        elif isinstance(inputs, list) and inputs:
            texts = [x if isinstance(x, str) else json.dumps(x) for x in inputs]
        else:
            raise _BadRequest("'input' must be a non-empty string or list", "input")
        dim = body.get("dimensions") or self.embedding_dim
        if not isinstance(dim, int) or dim <= 0:
            raise _BadRequest("'dimensions' must be a positive integer", "dimensions")
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise _BadRequest("'encoding_format' must be 'float' or 'base64'", "encoding_format")
        data = []
        for i, text in enumerate(texts):
            vec = embed_text(text, dim, self.embedding_mode)
            if encoding == "base64":
                embedding: Any = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode("ascii")
            else:
                embedding = vec
            data.append({"object": "embedding", "index": i, "embedding": embedding})
        tokens = max(1, sum(len(t) for t in texts) // 4)
        return {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


class _BadRequest(ValueError):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param
