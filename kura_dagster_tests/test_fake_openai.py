"""The loopback fake OpenAI server, exercised through the real ``openai`` client."""

from __future__ import annotations

import asyncio
import json
import math
import time
import urllib.request
from typing import Literal, Optional

import httpx2
import openai
import pydantic
import pytest

from kura_dagster_tests.fake_openai import (
    FakeOpenAIServer,
    embed_text,
    generate_from_schema,
    validate_json_schema,
)

pytestmark = pytest.mark.timeout(60)

SUMMARY_SCHEMA = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "maxLength": 200},
        "request": {"type": "string"},
        "language": {"type": "string", "enum": ["english", "french", "german", "spanish", "code"]},
        "frustration": {"type": "integer", "minimum": 1, "maximum": 5},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "concerning": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
        "detail": {
            "type": "object",
            "properties": {
                "task": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "level": {"$ref": "#/$defs/Level"},
            },
            "required": ["task", "level"],
            "additionalProperties": False,
        },
        "note": {"anyOf": [{"type": "null"}, {"type": "string"}]},
    },
    "required": [
        "summary",
        "request",
        "language",
        "frustration",
        "score",
        "concerning",
        "tags",
        "detail",
        "note",
    ],
    "additionalProperties": False,
    "$defs": {"Level": {"type": "string", "enum": ["low", "medium", "high"]}},
}


def _response_format(schema: dict = SUMMARY_SCHEMA) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "summary", "schema": schema, "strict": True}}


@pytest.fixture
def server():
    with FakeOpenAIServer() as srv:
        yield srv


def _client(srv: FakeOpenAIServer, **kwargs) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=srv.base_url, api_key="test", **kwargs)


# -- chat / structured output -----------------------------------------------------------------------


def test_json_schema_structured_output_validates(server):
    client = _client(server)
    prompt = "Summarise: my pandas merge raises a KeyError on the customer_id column"
    resp = client.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "system", "content": "You summarise."}, {"role": "user", "content": prompt}],
        response_format=_response_format(),
    )
    assert resp.object == "chat.completion"
    assert resp.model == "gpt-test"
    assert resp.choices[0].finish_reason == "stop"
    data = json.loads(resp.choices[0].message.content)
    assert validate_json_schema(data, SUMMARY_SCHEMA) == []
    assert set(data) == set(SUMMARY_SCHEMA["required"])
    assert data["language"] in SUMMARY_SCHEMA["properties"]["language"]["enum"]
    assert 1 <= data["frustration"] <= 5 and isinstance(data["frustration"], int)
    assert 0 <= data["score"] <= 1
    assert 1 <= len(data["tags"]) <= 3
    assert data["detail"]["level"] in ("low", "medium", "high")
    assert isinstance(data["detail"]["task"], str)
    assert data["summary"].startswith("Summarise my pandas merge")
    # usage follows the "characters / 4" rule
    assert (
        resp.usage.prompt_tokens > 0
        and resp.usage.completion_tokens == len(resp.choices[0].message.content) // 4
    )
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    # the request is recorded for inspection
    assert server.requests[-1]["messages"][-1]["content"] == prompt
    assert server.calls["chat"] == 1


def test_structured_output_is_deterministic_and_varies_with_prompt(server):
    client = _client(server)

    def ask(text: str) -> dict:
        resp = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": text}], response_format=_response_format()
        )
        return json.loads(resp.choices[0].message.content)

    assert ask("same prompt") == ask("same prompt")
    answers = [ask(f"conversation number {i} about topic {i * 7}") for i in range(16)]
    assert len({a["language"] for a in answers}) > 1
    assert len({a["frustration"] for a in answers}) > 1
    assert all(validate_json_schema(a, SUMMARY_SCHEMA) == [] for a in answers)


class Level(pydantic.BaseModel):
    name: Literal["low", "medium", "high"]
    rank: int = pydantic.Field(ge=10, le=12)


class Summary(pydantic.BaseModel):
    summary: str
    language: Literal["english", "french"]
    levels: list[Level]
    note: Optional[str]


def test_pydantic_parse_helper(server):
    """``client.chat.completions.parse`` sends a strict schema (with $defs/$ref) and parses the reply."""
    client = _client(server)
    completion = client.chat.completions.parse(
        model="m",
        messages=[{"role": "user", "content": "I forgot my password and the reset email never arrives"}],
        response_format=Summary,
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Summary)
    assert parsed.summary.startswith("I forgot my password")
    assert parsed.levels and all(10 <= lv.rank <= 12 for lv in parsed.levels)
    sent = server.requests[-1]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True


def test_prompt_text_prefers_tagged_block(server):
    client = _client(server)
    template = "Please summarise the transcript below.\n<transcript>\nuser: docker build fails with no space\n</transcript>\nBe brief."
    resp = client.chat.completions.create(model="m", messages=[{"role": "user", "content": template}])
    assert resp.choices[0].message.content == "user docker build fails with no space"


def test_responder_hook():
    seen = []

    def responder(body: dict):
        seen.append(body)
        text = body["messages"][-1]["content"]
        if text == "dict":
            return {"summary": "custom"}
        if text == "str":
            return "raw text"
        return None

    with FakeOpenAIServer(responder=responder) as srv:
        client = _client(srv)

        def ask(text):
            return (
                client.chat.completions.create(
                    model="m",
                    messages=[{"role": "user", "content": text}],
                    response_format=_response_format(),
                )
                .choices[0]
                .message.content
            )

        assert json.loads(ask("dict")) == {"summary": "custom"}
        assert ask("str") == "raw text"
        assert validate_json_schema(json.loads(ask("fallback")), SUMMARY_SCHEMA) == []
    assert len(seen) == 3


def test_generate_from_schema_edge_cases():
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "exclusiveMinimum": 3, "exclusiveMaximum": 5},
            "x": {"type": ["number", "null"], "minimum": -2, "maximum": -1},
            "u": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 3, "uniqueItems": True},
            "s": {"type": "string", "minLength": 30, "maxLength": 40},
            "c": {"const": "fixed"},
            "tree": {"$ref": "#/$defs/Node"},
        },
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
                "required": ["children"],
            }
        },
    }
    value = generate_from_schema(schema, "hello world")
    assert value["n"] == 4
    assert -2 <= value["x"] <= -1
    assert sorted(value["u"]) == ["a", "b", "c"]
    assert 30 <= len(value["s"]) <= 40
    assert value["c"] == "fixed"
    assert validate_json_schema(value, schema) == []


# -- embeddings ---------------------------------------------------------------------------------------


def test_embeddings_dimension_determinism_and_formats():
    with FakeOpenAIServer(embedding_dim=32) as srv:
        client = _client(srv)
        texts = ["refund my broken blender", "docker build fails", "refund my broken blender"]
        default = client.embeddings.create(model="emb", input=texts)  # client asks for base64 under the hood
        assert srv.requests[-1]["encoding_format"] == "base64"
        assert default.object == "list" and default.model == "emb"
        vecs = [d.embedding for d in default.data]
        assert [d.index for d in default.data] == [0, 1, 2]
        assert all(len(v) == 32 for v in vecs)
        assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-4) for v in vecs)
        assert vecs[0] == vecs[2] and vecs[0] != vecs[1]

        floats = client.embeddings.create(model="emb", input=texts, encoding_format="float")
        assert [d.embedding for d in floats.data][0] == pytest.approx(vecs[0], abs=1e-6)
        assert floats.data[0].embedding == pytest.approx(embed_text(texts[0], 32), abs=1e-12)

        single = client.embeddings.create(model="emb", input="docker build fails", dimensions=128)
        assert len(single.data) == 1 and len(single.data[0].embedding) == 128
        assert single.usage.prompt_tokens == len("docker build fails") // 4
        assert srv.calls["embeddings"] == 3

    # deterministic across server instances
    with FakeOpenAIServer(embedding_dim=32, seed=99) as other:
        again = _client(other).embeddings.create(model="emb", input=texts[0])
        assert again.data[0].embedding == vecs[0]


def test_bow_embeddings_make_related_texts_closer():
    def cos(a, b):
        return sum(x * y for x, y in zip(a, b))

    a = embed_text("refund for my broken blender order", 64, "bow")
    b = embed_text("I want a refund for the broken blender", 64, "bow")
    c = embed_text("docker build fails at the apt-get step", 64, "bow")
    assert cos(a, b) > cos(a, c) + 0.2


# -- concurrency --------------------------------------------------------------------------------------


def test_concurrent_async_requests_overlap():
    async def main(srv):
        async with openai.AsyncOpenAI(base_url=srv.base_url, api_key="test", max_retries=0) as client:
            tasks = [
                client.chat.completions.create(model="m", messages=[{"role": "user", "content": f"q{i}"}])
                for i in range(50)
            ]
            return await asyncio.gather(*tasks)

    with FakeOpenAIServer(latency_s=0.2) as srv:
        start = time.perf_counter()
        results = asyncio.run(main(srv))
        elapsed = time.perf_counter() - start
        assert len(results) == 50
        assert sorted(r.choices[0].message.content for r in results) == sorted(f"q{i}" for i in range(50))
        assert elapsed < 3.0, elapsed  # sequential would take 10 s
        assert srv.max_in_flight >= 20
        assert srv.calls["chat"] == 50 and srv.in_flight == 0


# -- fault injection ----------------------------------------------------------------------------------


def _chat(client, content="hi", **kwargs):
    return client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": content}], **kwargs
    )


def test_fault_429(capfd):
    with FakeOpenAIServer(fault_rate=1.0, faults=("429",)) as srv:
        with pytest.raises(openai.RateLimitError) as excinfo:
            _chat(_client(srv))
        err = excinfo.value
        assert err.status_code == 429
        assert err.response.headers["retry-after"] == "0.05"
        assert err.response.headers["retry-after-ms"] == "50"
        assert err.code == "rate_limit_exceeded"
        assert srv.faults["429"] == 1 and srv.calls["chat"] == 1
    assert capfd.readouterr().err == ""


def test_fault_500_chat_and_embeddings():
    with FakeOpenAIServer(fault_rate=1.0, faults=("500",)) as srv:
        client = _client(srv)
        with pytest.raises(openai.InternalServerError) as excinfo:
            _chat(client)
        assert excinfo.value.status_code == 500
        with pytest.raises(openai.InternalServerError):
            client.embeddings.create(model="e", input="x")
        assert srv.faults["500"] == 2


def test_fault_timeout_and_quiet_disconnect(capfd):
    with FakeOpenAIServer(fault_rate=1.0, faults=("timeout",), timeout_sleep_s=0.8) as srv:
        client = _client(srv, timeout=0.5)
        start = time.perf_counter()
        with pytest.raises(openai.APITimeoutError):
            _chat(client)
        assert time.perf_counter() - start < 0.79
        client.close()
        time.sleep(0.5)  # the server now answers into a closed socket: must stay silent
        assert srv.faults["timeout"] == 1
        # a patient client gets a normal answer
        resp = _chat(_client(srv, timeout=5), content="patient")
        assert resp.choices[0].message.content == "patient"
    assert capfd.readouterr().err == ""


def test_fault_invalid_json():
    with FakeOpenAIServer(fault_rate=1.0, faults=("invalid_json",)) as srv:
        client = _client(srv)
        content = _chat(client, response_format=_response_format()).choices[0].message.content
        assert content.startswith('{"summary": "')
        with pytest.raises(json.JSONDecodeError):
            json.loads(content)
        # embeddings have no "content": that fault becomes a 500
        with pytest.raises(openai.InternalServerError):
            client.embeddings.create(model="e", input="x")
        assert srv.faults == {"invalid_json": 1, "500": 1}


def test_partial_fault_rate_is_seeded_and_client_retries_succeed():
    def run(seed):
        with FakeOpenAIServer(fault_rate=0.3, seed=seed, faults=("429", "500")) as srv:
            client = _client(srv)
            outcomes = []
            for i in range(40):
                try:
                    _chat(client, content=f"q{i}")
                    outcomes.append("ok")
                except openai.RateLimitError:
                    outcomes.append("429")
                except openai.InternalServerError:
                    outcomes.append("500")
            return outcomes, dict(srv.faults)

    first, faults = run(7)
    assert run(7) == (first, faults)
    assert 0 < first.count("ok") < 40
    assert faults == {k: first.count(k) for k in ("429", "500") if first.count(k)}

    # with retries the client recovers quickly, honouring the short Retry-After
    with FakeOpenAIServer(fault_rate=0.5, seed=1, faults=("429",)) as srv:
        client = _client(srv, max_retries=8)
        start = time.perf_counter()
        for i in range(10):
            _chat(client, content=f"r{i}")
        assert srv.faults["429"] > 0
        assert srv.calls["chat"] == 10 + srv.faults["429"]
        assert time.perf_counter() - start < 3.0


def test_counters_reset(server):
    _chat(_client(server))
    assert server.calls["chat"] == 1 and len(server.requests) == 1 and server.max_in_flight == 1
    server.reset_counters()
    assert server.calls == {} and server.faults == {} and server.requests == [] and server.max_in_flight == 0


# -- Azure ------------------------------------------------------------------------------------------


def test_azure_paths(server):
    client = openai.AzureOpenAI(
        azure_endpoint=server.root_url, api_version="2024-06-01", api_key="x", max_retries=0
    )
    resp = client.chat.completions.create(
        model="my-gpt-deployment",
        messages=[{"role": "user", "content": "hello azure"}],
        response_format=_response_format(),
    )
    assert validate_json_schema(json.loads(resp.choices[0].message.content), SUMMARY_SCHEMA) == []
    emb = client.embeddings.create(model="my-embedding-deployment", input=["a", "b"])
    assert len(emb.data) == 2 and len(emb.data[0].embedding) == 64
    assert server.calls == {"chat": 1, "embeddings": 1}

    # explicit deployment in the endpoint, and a raw request with the api-version query string
    client2 = openai.AzureOpenAI(
        azure_endpoint=server.root_url,
        azure_deployment="dep",
        api_version="2024-06-01",
        api_key="x",
        max_retries=0,
    )
    assert _chat(client2, content="via deployment").choices[0].message.content == "via deployment"
    request = urllib.request.Request(
        f"{server.root_url}/openai/deployments/raw-dep/chat/completions?api-version=2024-06-01",
        data=json.dumps({"messages": [{"role": "user", "content": "raw"}]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as raw:
        body = json.loads(raw.read())
    assert body["model"] == "raw-dep" and body["choices"][0]["message"]["content"] == "raw"


def test_unknown_path_is_404(server):
    response = httpx2.post(f"{server.base_url}/nope", json={})
    assert response.status_code == 404
    assert "error" in response.json()
