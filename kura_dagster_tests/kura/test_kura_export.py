"""`kura-dagster export --format kura` on input built to hold every case Kura 0.5.4's types reject as they
are (system and tool turns, null and mixed metadata, failed summaries, custom facets that share a metadata
key's name), then every exported file loaded by the real kura==0.5.4: its types, line by line, and its
`JSONLCheckpointManager`. Hosted models against the loopback server, so that summaries can fail."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kura_dagster_tests.conftest import make_conversations
from kura_dagster_tests.e2e.test_cli import kura
from kura_dagster_tests.fake_openai import FakeOpenAIServer

DAY = "2026-11-01"
FAIL = "PLEASE-FAIL-THIS-SUMMARY"
# Metadata values Kura's `metadata_dict` refuses as they are, and some it takes.
ODD_METADATA = [
    {"team": None, "tags": ["a", None]},
    {"mixed": [1, "two", 3.5], "flags": [True, False]},
    {"nested": {"plan": "pro", "seats": [1, 2]}, "empty": []},
    {"score": 0.5, "count": 3, "ok": True, "numbers": [1, 2.5], "names": ["x", "y"]},
]


def every_case() -> list[dict]:
    start = datetime.fromisoformat(DAY).replace(tzinfo=timezone.utc)
    records = []
    for i, conversation in enumerate(make_conversations(per_theme=6, day=DAY)):
        record = conversation.model_dump(mode="json")
        messages = [
            {
                **m,
                "content": f"{m['content']} (case {i})",
                "created_at": (start + timedelta(minutes=i, seconds=j)).isoformat(),
            }
            for j, m in enumerate(record["messages"])
        ]
        if i % 4 == 0:
            messages.insert(0, {"role": "system", "content": "You are a support assistant."})
        if i % 4 == 1:
            messages.insert(2, {"role": "tool", "content": '{"order": "shipped"}'})
        if i % 6 == 5:
            messages[0]["content"] += f" {FAIL}"
        record["messages"] = messages
        record["metadata"] = {
            **record["metadata"],
            **ODD_METADATA[i % len(ODD_METADATA)],
            "team": None if i % 2 else "red",
        }
        records.append(record)
    return records


def fail_marked(request: dict) -> str | None:
    """Answers that are not JSON for the conversations marked to fail (asked twice, so the summary fails)."""
    text = json.dumps(request.get("messages", []))
    return "this is not JSON" if FAIL in text else None


def test_every_exported_file_loads_in_real_kura_without_a_rejected_line(kura_env, real_kura):
    records = every_case()
    source = kura_env / "odd.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    facets = {"team": {"type": "string", "enum": ["billing", "tech"]}}
    with FakeOpenAIServer(embedding_mode="bow", responder=fail_marked) as server:
        env = {
            **os.environ,
            "KURA_LLM": "openai",
            "KURA_EMBEDDINGS": "openai",
            "OPENAI_API_KEY": "sk-test-export",
            "OPENAI_BASE_URL": server.base_url,
            "KURA_LLM_TIMEOUT": "5",
            "KURA_LLM_BACKOFF": "0.01",
            "KURA_CUSTOM_FACETS": json.dumps(facets),
            "KURA_MAX_SUMMARY_ERROR_RATE": "0.5",
            # Every cluster shown, so that the cluster files have lines to check.
            "KURA_MIN_CLUSTER_SIZE": "1",
            "KURA_MIN_CLUSTER_USERS": "1",
        }
        ingested = kura("ingest", str(source), "--dataset", "odd", cwd=kura_env, env=env)
        assert ingested.returncode == 0, ingested.stderr
        assert f"{len(records)} accepted" in ingested.stdout
        ran = kura("run", "--dataset", "odd", "--date", DAY, cwd=kura_env, env=env)
        assert ran.returncode == 0, ran.stderr[-3000:]
    out = kura_env / "kura-export"
    exported = kura(
        "export",
        "--dataset",
        "odd",
        "--date",
        DAY,
        "--format",
        "kura",
        "--out",
        str(out),
        cwd=kura_env,
        env=env,
    )
    assert exported.returncode == 0, exported.stderr

    report = real_kura(out)
    rejected = {Path(path).name: found["rejected"] for path, found in report["files"].items()}
    lines = {Path(path).name: found["lines"] for path, found in report["files"].items()}
    print("real kura", report["kura"], "lines", lines, "rejected", rejected)  # the counts, for the log
    assert report["kura"] == "0.5.4"
    assert set(rejected) == {
        "conversations.jsonl",
        "summaries.jsonl",
        "clusters.jsonl",
        "meta_clusters.jsonl",
        "dimensionality.jsonl",
    }
    assert rejected == dict.fromkeys(rejected, 0), report
    assert {
        Path(p).name: n for p, n in report["manager"].items()
    } == lines  # Kura's own loader takes them all
    assert lines["conversations.jsonl"] == lines["summaries.jsonl"] == len(records)
    assert min(lines.values()) > 0

    conversations = {
        r["chat_id"]: r for r in map(json.loads, (out / "conversations.jsonl").read_text().splitlines())
    }
    summaries = {r["chat_id"]: r for r in map(json.loads, (out / "summaries.jsonl").read_text().splitlines())}
    for record in records:
        exported_conversation = conversations[record["chat_id"]]
        # Every turn kept, in order, with its own timestamp; system and tool turns marked, as the assistant's.
        assert len(exported_conversation["messages"]) == len(record["messages"])
        for original, written in zip(record["messages"], exported_conversation["messages"]):
            assert written["role"] == ("user" if original["role"] == "user" else "assistant")
            if original["role"] in ("system", "tool"):
                assert written["content"] == f"[{original['role']}] {original['content']}"
            if "created_at" in original:
                assert datetime.fromisoformat(written["created_at"]) == datetime.fromisoformat(
                    original["created_at"]
                )
        metadata = exported_conversation["metadata"]
        assert "team" not in metadata or metadata["team"] == "red"  # a null drops its key
    failed = [s for s in summaries.values() if "summary_error" in s["metadata"]]
    assert failed and len(failed) == sum(FAIL in json.dumps(r["messages"]) for r in records)
    assert all(
        s["summary"] == "" and s["concerning_score"] is None and s["languages"] is None for s in failed
    )
    fine = [s for s in summaries.values() if "summary_error" not in s["metadata"]]
    # The custom facet `team` sits under its own key; the conversation's own `team` is untouched.
    assert all(s["metadata"]["custom_facets"]["team"] in ("billing", "tech") for s in fine)
    assert all(s["metadata"].get("team") in (None, "red") for s in fine)
