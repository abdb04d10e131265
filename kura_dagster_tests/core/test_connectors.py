"""Connectors for real chat exports: fixtures written here for every format, detection, validation,
quarantine, idempotence, and the command line end to end for Claude and ChatGPT exports."""

from __future__ import annotations

import csv
import json
import os
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the hub from the tests
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import pytest  # noqa: E402

from kura_dagster.core.ingest.connectors import (  # noqa: E402
    ConnectorOptions,
    detect_format,
    load,
    open_export,
    parse_columns,
)
from kura_dagster.core.ingest.driver import ingest  # noqa: E402
from kura_dagster.core.ingest.records import Limits, normalise_metadata  # noqa: E402
from kura_dagster.core.types import Conversation  # noqa: E402
from kura_dagster_tests.e2e.test_cli import kura  # noqa: E402

# --------------------------------------------------------------------------------------------------
# Fixtures: realistic exports, written by the tests themselves.
# --------------------------------------------------------------------------------------------------


def claude_export() -> list[dict]:
    """Claude's conversations.json: text, tool use, attachments, an empty and a broken conversation."""
    return [
        {
            "uuid": "c1a0-0001",
            "name": "Quarterly report summary",
            "created_at": "2026-11-03T10:00:00.123456Z",
            "updated_at": "2026-11-03T10:05:00Z",
            "account": {"uuid": "acct-1"},
            "chat_messages": [
                {
                    "uuid": "m1",
                    "sender": "human",
                    "created_at": "2026-11-03T10:00:01Z",
                    "text": "Summarise the attached report and check the latest figures online",
                    "content": [
                        {
                            "type": "text",
                            "text": "Summarise the attached report and check the latest figures online",
                        }
                    ],
                    "attachments": [
                        {
                            "file_name": "report.pdf",
                            "file_size": 12345,
                            "file_type": "pdf",
                            "extracted_content": "Revenue grew 12%...",
                        }
                    ],
                    "files": [{"file_name": "report.pdf"}],
                },
                {
                    "uuid": "m2",
                    "sender": "assistant",
                    "created_at": "2026-11-03T10:00:09Z",
                    "text": "",
                    "content": [
                        {"type": "text", "text": "Let me look up the latest figures."},
                        {"type": "tool_use", "name": "web_search", "input": {"query": "Q3 revenue"}},
                        {
                            "type": "tool_result",
                            "name": "web_search",
                            "content": [{"type": "text", "text": "..."}],
                        },
                        {"type": "text", "text": "Revenue grew 12% year on year; the report matches."},
                    ],
                    "attachments": [],
                    "files": [],
                },
            ],
        },
        {  # a time zone offset that moves the conversation to the previous UTC day; messages out of order
            "uuid": "c1a0-0002",
            "name": "",
            "created_at": "2026-11-04T01:30:00+02:00",
            "chat_messages": [
                {
                    "sender": "assistant",
                    "created_at": "2026-11-04T01:30:05+02:00",
                    "text": "Sure: use a list comprehension.",
                    "content": [],
                },
                {
                    "sender": "human",
                    "created_at": "2026-11-04T01:30:00+02:00",
                    "text": "How do I flatten a list in Python?",
                    "content": [],
                },
            ],
        },
        {"uuid": "c1a0-0003", "name": "Untitled", "created_at": "2026-11-04T09:00:00Z", "chat_messages": []},
        {
            "uuid": "c1a0-0004",
            "created_at": "2026-11-04T09:00:00Z",
            "chat_messages": [
                {"sender": "robot", "created_at": "2026-11-04T09:00:00Z", "text": "beep", "content": []}
            ],
        },
        {
            "uuid": "c1a0-0005",
            "created_at": "0001-01-01T00:00:00Z",
            "chat_messages": [{"sender": "human", "text": "hello", "content": []}],
        },
    ]


def _node(node_id, role, text, parent, children, t, content_type="text", **meta):
    message = None
    if role is not None:
        content = (
            {"content_type": content_type, "parts": [text]}
            if content_type in ("text", "multimodal_text")
            else {"content_type": content_type, "text": text}
        )
        message = {
            "id": node_id,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": t,
            "content": content,
            "status": "finished_successfully",
            "metadata": meta,
        }
    return {"id": node_id, "message": message, "parent": parent, "children": children}


T0 = datetime(2026, 11, 5, 8, 0, tzinfo=timezone.utc).timestamp()


def chatgpt_export() -> list[dict]:
    """ChatGPT's conversations.json: a branching tree where current_node picks the edited branch."""
    branching = {
        "root": _node("root", None, None, None, ["sys"], None),
        "sys": _node("sys", "system", "", "root", ["u1"], None, is_visually_hidden_from_conversation=True),
        "u1": _node(
            "u1", "user", "My docker build fails with no space left on device", "sys", ["a1"], T0 + 1
        ),
        "a1": _node(
            "a1", "assistant", "Run docker system prune to free space.", "u1", ["u2old", "u2new"], T0 + 5
        ),
        "u2old": _node("u2old", "user", "ORIGINAL QUESTION that was edited away", "a1", ["a2old"], T0 + 60),
        "a2old": _node("a2old", "assistant", "ORIGINAL ANSWER", "u2old", [], T0 + 65),
        "u2new": _node(
            "u2new", "user", "It still fails inside the RUN apt-get step", "a1", ["tool1"], T0 + 120
        ),
        "tool1": _node(
            "tool1",
            "tool",
            "apt-get: exit code 100",
            "u2new",
            ["a2new"],
            T0 + 121,
            content_type="execution_output",
        ),
        "a2new": _node(
            "a2new", "assistant", "Add apt-get clean and combine the RUN steps.", "tool1", [], T0 + 125
        ),
    }
    custom = {
        "root": _node("root", None, None, None, ["ctx"], None),
        "ctx": _node(
            "ctx", "user", "I am a data engineer", "root", ["u1"], T0, content_type="user_editable_context"
        ),
        "u1": {
            "id": "u1",
            "parent": "ctx",
            "children": ["a1"],
            "message": {
                "author": {"role": "user"},
                "create_time": T0 + 3600,
                "content": {
                    "content_type": "multimodal_text",
                    "parts": [
                        {"content_type": "image_asset_pointer", "asset_pointer": "file-service://x"},
                        "What is in this chart?",
                    ],
                },
            },
        },
        "a1": _node("a1", "assistant", "A bar chart of monthly sales.", "u1", [], T0 + 3605),
    }
    return [
        {
            "id": "gpt-branching",
            "title": "Docker build space",
            "create_time": T0,
            "update_time": T0 + 200,
            "mapping": branching,
            "current_node": "a2new",
            "default_model_slug": "gpt-4o",
        },
        {
            "conversation_id": "gpt-image",
            "title": "Chart",
            "create_time": T0 + 3600,
            "mapping": custom,
        },  # no current_node
        {
            "id": "gpt-dangling",
            "title": "x",
            "create_time": T0,
            "mapping": {"a": _node("a", "user", "hi", None, [], T0)},
            "current_node": "missing",
        },
        {
            "id": "gpt-cycle",
            "title": "x",
            "create_time": T0,
            "current_node": "a",
            "mapping": {
                "a": _node("a", "user", "hi", "b", [], T0),
                "b": _node("b", "assistant", "yo", "a", ["a"], T0),
            },
        },
        {
            "id": "gpt-empty",
            "title": "x",
            "create_time": T0,
            "current_node": "root",
            "mapping": {"root": _node("root", None, None, None, [], None)},
        },
    ]


def openai_lines() -> list[dict]:
    return [
        {
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Translate 'good morning' into French"},
                {"role": "assistant", "content": "Bonjour"},
            ],
            "model": "gpt-4o-mini",
        },
        {
            "messages": [
                {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is in this picture?"},
                        {"type": "image_url", "image_url": {"url": "data:..."}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "describe_image"}}],
                },
                {"role": "tool", "content": "a cat on a sofa"},
                {"role": "assistant", "content": "A cat sitting on a sofa."},
            ],
            "tools": [
                {"type": "function", "function": {"name": "describe_image", "parameters": {"type": "object"}}}
            ],
        },
        {"messages": [{"role": "wizard", "content": "abracadabra"}]},
    ]


def sharegpt_lines() -> list[dict]:
    return [
        {
            "id": "sg-1",
            "conversations": [
                {"from": "system", "value": "You are a tutor."},
                {"from": "human", "value": "Explain recursion"},
                {"from": "gpt", "value": "A function that calls itself."},
            ],
        },
        {
            "conversations": [
                {"from": "human", "value": "Capital of Peru?"},
                {"from": "gpt", "value": "Lima."},
            ],
            "source": "geo",
        },
        {"id": "sg-3", "conversations": [{"from": "human", "value": ""}, {"from": "gpt", "value": ""}]},
    ]


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def write_lines(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def message_rows() -> list[dict]:
    """One row per message: two conversations interleaved, plus an orphan row and a bad role."""
    base = datetime(2026, 11, 6, 12, 0, tzinfo=timezone.utc)
    return [
        {
            "conversation_id": "t-1",
            "turn": 2,
            "role": "assistant",
            "content": "Try restarting the router.",
            "created_at": base + timedelta(seconds=30),
            "channel": "web",
            "message_id": "x2",
        },
        {
            "conversation_id": "t-2",
            "turn": 1,
            "role": "user",
            "content": "Refund for order 4411 please",
            "created_at": base + timedelta(hours=1),
            "channel": "app",
            "message_id": "y1",
        },
        {
            "conversation_id": "t-1",
            "turn": 1,
            "role": "user",
            "content": "My wifi keeps dropping",
            "created_at": base,
            "channel": "web",
            "message_id": "x1",
        },
        {
            "conversation_id": "t-2",
            "turn": 2,
            "role": "assistant",
            "content": "Done, refunded.",
            "created_at": base + timedelta(hours=1, seconds=20),
            "channel": "app",
            "message_id": "y2",
        },
        {
            "conversation_id": None,
            "turn": 1,
            "role": "user",
            "content": "orphan",
            "created_at": base,
            "channel": "web",
            "message_id": "z1",
        },
        {
            "conversation_id": "t-3",
            "turn": 1,
            "role": "alien",
            "content": "??",
            "created_at": base,
            "channel": "web",
            "message_id": "w1",
        },
    ]


def conversation_rows() -> list[dict]:
    return [
        {
            "id": "p-1",
            "ts": datetime(2026, 11, 7, 9, 0, tzinfo=timezone.utc),
            "user": "u1",
            "msgs": [
                {"role": "user", "content": "How do I merge dataframes?"},
                {"role": "assistant", "content": "Use pandas.merge on the key column."},
            ],
        },
        {
            "id": "p-2",
            "ts": datetime(2026, 11, 8, 9, 0, tzinfo=timezone.utc),
            "user": "u2",
            "msgs": [
                {"role": "user", "content": "Reset my password"},
                {"role": "assistant", "content": "Click 'forgot'."},
            ],
        },
        {"id": "p-3", "ts": datetime(2026, 11, 8, 9, 0, tzinfo=timezone.utc), "user": "u3", "msgs": []},
    ]


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    key: (
                        value.isoformat()
                        if isinstance(value, datetime)
                        else json.dumps(value)
                        if isinstance(value, (list, dict))
                        else value
                    )
                    for key, value in row.items()
                }
            )
    return path


def landed(data_dir: Path, dataset: str) -> dict[str, dict]:
    records = {}
    for path in sorted((data_dir / dataset).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            records[record["chat_id"]] = {**record, "_file": path.name}
    return records


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------------------
# Claude
# --------------------------------------------------------------------------------------------------


def test_claude_export(tmp_path):
    path = write_json(tmp_path / "conversations.json", claude_export())
    assert detect_format(path) == "claude"
    result = load(path)
    assert result.records == 5
    by_id = {c.chat_id: c for c in result.conversations}
    assert set(by_id) == {"c1a0-0001", "c1a0-0002"}
    first = by_id["c1a0-0001"]
    assert [m.role for m in first.messages] == ["user", "assistant"]
    assert first.messages[0].content.endswith("[attachment: report.pdf]")
    assert first.messages[0].content.count("[attachment: report.pdf]") == 1  # listed in files and attachments
    assert "[tool use: web_search]" in first.messages[1].content
    assert "[tool result: web_search]" in first.messages[1].content
    assert "Revenue grew 12% year on year" in first.messages[1].content
    assert first.metadata["title"] == "Quarterly report summary"
    second = by_id["c1a0-0002"]
    assert second.created_at == datetime(
        2026, 11, 3, 23, 30, tzinfo=timezone.utc
    )  # +02:00 → the previous UTC day
    assert [m.role for m in second.messages] == ["user", "assistant"]  # sorted by time
    assert second.messages[0].created_at.tzinfo == timezone.utc
    reasons = {r.record: r.reason for r in result.rejected}
    assert "no messages" in reasons[3]
    assert "unknown sender 'robot'" in reasons[4]
    assert "before 2000" in reasons[5]
    # Kura's API, and the zip / folder forms of the export
    assert [c.chat_id for c in Conversation.from_claude_conversation_dump(str(path))] == [
        "c1a0-0001",
        "c1a0-0002",
    ]
    with zipfile.ZipFile(tmp_path / "claude-export.zip", "w") as archive:
        archive.write(path, "data-2026-11-25/conversations.json")
    assert detect_format(tmp_path / "claude-export.zip") == "claude"
    assert len(load(tmp_path / "claude-export.zip").conversations) == 2
    tagged = Conversation.from_claude_conversation_dump(
        str(path), metadata_fn=lambda raw: {"account": raw.get("account", {}).get("uuid")}
    )
    assert tagged[0].metadata["account"] == "acct-1"


# --------------------------------------------------------------------------------------------------
# ChatGPT
# --------------------------------------------------------------------------------------------------


def test_chatgpt_export_follows_current_node(tmp_path):
    path = write_json(tmp_path / "conversations.json", chatgpt_export())
    assert detect_format(path) == "chatgpt"
    result = load(path)
    by_id = {c.chat_id: c for c in result.conversations}
    assert set(by_id) == {"gpt-branching", "gpt-image"}
    branch = by_id["gpt-branching"]
    assert [(m.role, m.content) for m in branch.messages] == [
        ("user", "My docker build fails with no space left on device"),
        ("assistant", "Run docker system prune to free space."),
        ("user", "It still fails inside the RUN apt-get step"),
        ("tool", "apt-get: exit code 100"),
        ("assistant", "Add apt-get clean and combine the RUN steps."),
    ]  # the hidden empty system message is skipped, the edited-away branch is not there
    assert branch.created_at == datetime.fromtimestamp(T0, tz=timezone.utc)
    assert branch.metadata == {"source_format": "chatgpt", "title": "Docker build space", "model": "gpt-4o"}
    image = by_id["gpt-image"]  # no current_node: the newest leaf; custom instructions hidden
    assert [m.content for m in image.messages] == [
        "[image]\nWhat is in this chart?",
        "A bar chart of monthly sales.",
    ]
    reasons = {r.record: r.reason for r in result.rejected}
    assert "not in mapping" in reasons[3]
    assert "loops" in reasons[4]
    assert "no visible messages" in reasons[5]
    assert [c.chat_id for c in Conversation.from_chatgpt_export(str(path))] == ["gpt-branching", "gpt-image"]


# --------------------------------------------------------------------------------------------------
# OpenAI messages and ShareGPT (no ids, no timestamps)
# --------------------------------------------------------------------------------------------------


def test_openai_messages(tmp_path):
    records = openai_lines()
    path = write_lines(tmp_path / "chats.jsonl", records + [records[0]])  # the first one twice
    assert detect_format(path) == "openai"
    day = datetime(2026, 11, 2, tzinfo=timezone.utc)
    result = load(path, options=ConnectorOptions(default_created_at=day))
    assert result.records == 4
    first, second, repeat = result.conversations
    assert first.chat_id.startswith("openai-") and first.chat_id == repeat.chat_id  # stable, content-derived
    assert first.created_at == day and first.metadata["created_at_assumed"] is True
    assert first.metadata["model"] == "gpt-4o-mini"
    assert [m.role for m in second.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert second.messages[1].content == "What is in this picture?\n[image]"
    assert second.messages[2].content == "[tool call: describe_image]"
    assert (
        json.loads(second.metadata["tools"])[0]["function"]["name"] == "describe_image"
    )  # lists of objects → JSON
    assert "unknown role 'wizard'" in result.rejected[0].reason and result.rejected[0].record == 3
    # Without --default-date the day the file was last modified is used.
    stamp = datetime(2026, 10, 20, 15, 0, tzinfo=timezone.utc).timestamp()
    os.utime(path, (stamp, stamp))
    reader = open_export(path)
    assert next(iter(reader)).created_at == datetime(2026, 10, 20, tzinfo=timezone.utc)
    assert reader.default_created_at == datetime(2026, 10, 20, tzinfo=timezone.utc)


def test_sharegpt(tmp_path):
    path = write_lines(tmp_path / "sharegpt.jsonl", sharegpt_lines())
    assert detect_format(path) == "sharegpt"
    result = load(path, options=ConnectorOptions(default_created_at=datetime(2026, 11, 2)))
    first, second = result.conversations
    assert first.chat_id == "sg-1"
    assert [m.role for m in first.messages] == ["system", "user", "assistant"]
    assert second.chat_id.startswith("sharegpt-") and second.metadata["source"] == "geo"
    assert "no messages" in result.rejected[0].reason
    as_document = write_json(tmp_path / "sharegpt.json", sharegpt_lines())  # a JSON list works too
    assert detect_format(as_document) == "sharegpt"
    assert [
        c.chat_id
        for c in load(
            as_document, options=ConnectorOptions(default_created_at=datetime(2026, 11, 2))
        ).conversations
    ][0] == "sg-1"


# --------------------------------------------------------------------------------------------------
# Tables: Parquet and CSV, both layouts
# --------------------------------------------------------------------------------------------------


def test_parquet_one_row_per_conversation(tmp_path):
    path = tmp_path / "chats.parquet"
    pq.write_table(pa.Table.from_pylist(conversation_rows()), path, row_group_size=1)
    assert detect_format(path) == "parquet"
    options = ConnectorOptions(columns=parse_columns("chat_id=id,created_at=ts,messages=msgs"))
    result = load(path, options=options)
    assert [c.chat_id for c in result.conversations] == ["p-1", "p-2"]
    assert result.conversations[0].metadata == {"user": "u1", "source_format": "parquet"}
    assert result.conversations[1].created_at == datetime(2026, 11, 8, 9, 0, tzinfo=timezone.utc)
    assert result.rejected[0].record == 3 and "no messages" in result.rejected[0].reason
    with pytest.raises(ValueError, match="no such column"):
        load(path, options=ConnectorOptions(columns={"messages": "nope"}))
    with pytest.raises(ValueError, match="no messages column"):
        load(path)  # without the mapping the columns are not recognised


def test_parquet_one_row_per_message(tmp_path):
    path = tmp_path / "messages.parquet"
    pq.write_table(pa.Table.from_pylist(message_rows()), path)
    options = ConnectorOptions(columns={"order": "turn"})  # the rest is found by name
    result = load(path, options=options)
    assert result.records == 4  # t-1, t-2, the orphan row, t-3
    t1, t2 = result.conversations
    assert t1.chat_id == "t-1" and [m.content for m in t1.messages] == [
        "My wifi keeps dropping",
        "Try restarting the router.",
    ]
    assert t1.created_at == datetime(2026, 11, 6, 12, 0, tzinfo=timezone.utc)
    assert t1.metadata == {
        "channel": "web",
        "source_format": "parquet",
    }  # message_id differs per row: not kept
    reasons = {r.record: r.reason for r in result.rejected}
    assert "missing" in reasons[5] and "unknown role 'alien'" in reasons[6]


def test_csv_both_layouts(tmp_path):
    per_message = write_csv(tmp_path / "messages.csv", message_rows())
    assert detect_format(per_message) == "csv"
    result = load(
        per_message, options=ConnectorOptions(columns=parse_columns("chat_id=conversation_id,order=turn"))
    )
    assert [c.chat_id for c in result.conversations] == ["t-1", "t-2"]
    assert result.conversations[1].messages[1].content == "Done, refunded."
    assert len(result.rejected) == 2
    per_conversation = write_csv(tmp_path / "chats.csv", conversation_rows())
    result = load(
        per_conversation,
        options=ConnectorOptions(columns=parse_columns("chat_id=id,created_at=ts,messages=msgs")),
    )
    assert [c.chat_id for c in result.conversations] == ["p-1", "p-2"]
    assert result.conversations[0].messages[1].content == "Use pandas.merge on the key column."
    # A broken row (wrong number of fields, bad JSON) is a rejected record, not a failed file.
    with per_conversation.open("a", encoding="utf-8") as handle:
        handle.write('p-9,2026-11-08T00:00:00,u9,"[{not json"\nonly-one-field\n')
    result = load(
        per_conversation,
        options=ConnectorOptions(columns=parse_columns("chat_id=id,created_at=ts,messages=msgs")),
    )
    assert result.records == 5
    assert {r.record: r.reason.split(":")[0] for r in result.rejected} == {
        3: "msgs",
        4: "msgs",
        5: "row has 1 fields, the header has 4",
    }


def test_parse_columns_errors():
    assert parse_columns("chat_id=id, created_at = ts") == {"chat_id": "id", "created_at": "ts"}
    with pytest.raises(ValueError, match="unknown key"):
        parse_columns("title=name")
    with pytest.raises(ValueError, match="KEY=COLUMN"):
        parse_columns("chat_id")


# --------------------------------------------------------------------------------------------------
# Hugging Face datasets (local only: a save_to_disk folder and data files; never the hub)
# --------------------------------------------------------------------------------------------------


def test_hf_save_to_disk_and_data_files(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = [
        {"chat_id": r["id"], "created_at": r["ts"].isoformat(), "messages": r["msgs"], "user": r["user"]}
        for r in conversation_rows()
    ]
    saved = tmp_path / "saved"
    datasets.Dataset.from_list(rows).save_to_disk(str(saved))
    assert detect_format(saved) == "hf"
    result = load(saved)
    assert [c.chat_id for c in result.conversations] == ["p-1", "p-2"] and len(result.rejected) == 1
    assert result.conversations[0].metadata["user"] == "u1"
    # A DatasetDict folder with splits
    splits = tmp_path / "splits"
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(rows[:1]), "test": datasets.Dataset.from_list(rows[1:2])}
    ).save_to_disk(str(splits))
    assert [c.chat_id for c in load(splits, "hf", ConnectorOptions(split="test")).conversations] == ["p-2"]
    # Local data files through load_dataset("json" / "parquet", data_files=...)
    json_file = write_lines(tmp_path / "rows.jsonl", rows)
    parquet_file = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet_file)
    for data_file in (json_file, parquet_file):
        options = ConnectorOptions(cache_dir=tmp_path / "hf-cache")
        assert [c.chat_id for c in load(data_file, "hf", options).conversations] == ["p-1", "p-2"]
    # ShareGPT-style rows and Kura's *_fn arguments
    sharegpt = tmp_path / "sharegpt"
    datasets.Dataset.from_list(
        [{"id": "s1", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}]
    ).save_to_disk(str(sharegpt))
    loaded = Conversation.from_hf_dataset(
        str(sharegpt),
        created_at_fn=lambda row: "2026-11-09T00:00:00Z",
        metadata_fn=lambda row: {"origin": "hf"},
    )
    assert loaded[0].chat_id == "s1" and loaded[0].metadata["origin"] == "hf"
    assert [m.role for m in loaded[0].messages] == ["user", "assistant"]
    assert len(Conversation.from_hf_dataset(str(saved), max_conversations=1)) == 1


# --------------------------------------------------------------------------------------------------
# Kura dump / JSONL: detection and validation rules
# --------------------------------------------------------------------------------------------------


def kura_record(chat_id: str, created_at: str = "2026-11-01T10:00:00Z", **extra) -> dict:
    return {
        "chat_id": chat_id,
        "created_at": created_at,
        "messages": [
            {"role": "user", "content": f"question {chat_id}"},
            {"role": "assistant", "content": "answer"},
        ],
        "metadata": {},
        **extra,
    }


def test_kura_detection(tmp_path):
    records = [kura_record("a"), kura_record("b")]
    assert detect_format(write_json(tmp_path / "dump.json", records)) == "kura"
    assert detect_format(write_lines(tmp_path / "dump.jsonl", records)) == "jsonl"
    broken_first = tmp_path / "broken.jsonl"
    broken_first.write_text("{broken\n" + json.dumps(records[0]) + "\n")
    assert detect_format(broken_first) == "jsonl"
    assert load(broken_first).records == 2
    assert detect_format(write_json(tmp_path / "wrapped.json", {"conversations": records})) == "kura"
    (tmp_path / "wrapped-one-line.json").write_text(json.dumps({"conversations": records}))
    assert len(load(tmp_path / "wrapped-one-line.json").conversations) == 2
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="cannot tell the format"):
        detect_format(tmp_path / "notes.txt")
    (tmp_path / "truncated.json").write_text('[{"chat_id": "a",\n')
    with pytest.raises(ValueError, match="not a readable JSON document"):
        load(tmp_path / "truncated.json")


def test_validation_rules(tmp_path):
    now = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    giant = "x" * 150
    records = [
        kura_record("tz", "2026-11-01T23:30:00-05:00"),  # → 2026-11-02T04:30Z
        kura_record("naive", "2026-11-01T10:00:00"),  # naive = UTC
        kura_record("old", "1999-12-31T23:59:59Z"),
        kura_record("year1", "0001-01-01T00:00:00Z"),
        kura_record("future", "9999-12-31T23:59:59Z"),
        kura_record("tomorrow+", (now + timedelta(days=2)).isoformat()),
        kura_record("bad-date", "2026-02-30T00:00:00Z"),
        {
            **kura_record("giant"),
            "messages": [{"role": "user", "content": giant}, {"role": "assistant", "content": giant}],
        },
        kura_record(
            "nested",
            metadata={
                "user": {"id": 7, "plan": {"tier": "pro"}},
                "tags": ["a", "b"],
                "events": [{"t": 1}],
                "score": float("nan"),
            },
        ),
        {**kura_record("lone-surrogate"), "messages": [{"role": "user", "content": "bad \ud800 text"}]},
        {
            **kura_record("msg-time"),
            "messages": [{"role": "user", "content": "hi", "created_at": "2026-11-01T12:00:00+01:00"}],
        },
        kura_record(""),
    ]
    path = write_lines(tmp_path / "edge.jsonl", records)
    limits = Limits(max_message_chars=100, now=now)
    result = load(path, options=ConnectorOptions(limits=limits))
    by_id = {c.chat_id: c for c in result.conversations}
    assert by_id["tz"].created_at == datetime(2026, 11, 2, 4, 30, tzinfo=timezone.utc)
    assert by_id["naive"].created_at == datetime(2026, 11, 1, 10, 0, tzinfo=timezone.utc)
    assert [len(m.content) for m in by_id["giant"].messages] == [100, 100]
    assert by_id["giant"].metadata["truncated_messages"] == 2
    assert by_id["nested"].metadata == {
        "user.id": 7,
        "user.plan.tier": "pro",
        "tags": ["a", "b"],
        "events": '[{"t": 1}]',
        "score": "nan",
    }
    assert by_id["msg-time"].messages[0].created_at == datetime(2026, 11, 1, 11, 0, tzinfo=timezone.utc)
    reasons = {json.loads(r.raw)["chat_id"]: r.reason for r in result.rejected}
    assert set(reasons) == {"old", "year1", "future", "tomorrow+", "bad-date", "lone-surrogate", ""}
    assert "before 2000-01-01" in reasons["old"] and "before 2000-01-01" in reasons["year1"]
    assert "in the future" in reasons["future"] and "in the future" in reasons["tomorrow+"]
    assert "created_at" in reasons["bad-date"]
    assert "invalid UTF-8" in reasons["lone-surrogate"]
    assert "chat_id: empty" in reasons[""]
    assert normalise_metadata(by_id["nested"].metadata) == by_id["nested"].metadata  # a fixed point
    assert normalise_metadata({"a.b": 1, "a": {"b": 2}}) == {"a.b": 1, "a.b~2": 2}  # nothing overwritten


def test_invalid_utf8_inside_a_json_document_spoils_one_record(tmp_path):
    good, bad = kura_record("good"), kura_record("bad")
    data = json.dumps([good, bad]).encode().replace(b"question bad", b"question \xff\xfe bad")
    (tmp_path / "dump.json").write_bytes(data)
    result = load(tmp_path / "dump.json")
    assert [c.chat_id for c in result.conversations] == ["good"]
    assert "invalid UTF-8" in result.rejected[0].reason and result.rejected[0].record == 2


# --------------------------------------------------------------------------------------------------
# Ingest: duplicates, quarantine, idempotence, one file per day
# --------------------------------------------------------------------------------------------------


def test_ingest_duplicates_quarantine_and_idempotence(tmp_path):
    records = [
        kura_record("a"),
        kura_record("a"),
        {**kura_record("a"), "metadata": {"v": 2}},
        kura_record("b"),
        kura_record("c", "2026-11-02T08:00:00Z"),
        {"chat_id": "broken"},
    ]
    path = write_lines(tmp_path / "export.jsonl", records)
    with path.open("a") as handle:
        handle.write("{not json\n")
    data_dir, quarantine_dir, db_path = (
        tmp_path / "data",
        tmp_path / "home" / "quarantine",
        tmp_path / "home" / "kura.duckdb",
    )
    report = ingest(path, dataset="demo", data_dir=data_dir, quarantine_dir=quarantine_dir, db_path=db_path)
    assert (report.records_read, report.accepted, report.duplicates, len(report.rejected)) == (7, 4, 1, 2)
    assert report.balanced and report.format == "jsonl"
    assert set(landed(data_dir, "demo")) == {"a", "a~2", "b", "c"}
    assert landed(data_dir, "demo")["a~2"]["metadata"] == {"v": 2}
    before = snapshot(tmp_path / "data") | snapshot(quarantine_dir)
    again = ingest(path, dataset="demo", data_dir=data_dir, quarantine_dir=quarantine_dir, db_path=db_path)
    assert again.unchanged == 4 and again.balanced
    assert snapshot(tmp_path / "data") | snapshot(quarantine_dir) == before  # byte-identical
    assert len((quarantine_dir / "demo.jsonl").read_text().splitlines()) == 2
    with duckdb.connect(str(db_path), read_only=True) as connection:
        rows = connection.execute(
            "SELECT dataset, source, record, reason FROM kura.kura.quarantine ORDER BY record"
        ).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("demo", str(path), 6), ("demo", str(path), 7)]
    assert "malformed JSON" in rows[1][3]


def test_thirty_day_export_writes_thirty_files(tmp_path):
    start = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)
    records = [
        kura_record(f"d{day:02d}-{i}", (start + timedelta(days=day, hours=i * 5)).isoformat())
        for day in range(30)
        for i in range(3)
    ]
    path = write_json(tmp_path / "month.json", records)
    report = ingest(path, dataset="month", data_dir=tmp_path / "data", quarantine_dir=tmp_path / "q")
    assert report.accepted == 90 and len(report.days) == 30
    files = sorted(p.name for p in (tmp_path / "data" / "month").iterdir())
    assert len(files) == 30 and files[0] == "2026-10-01.jsonl" and files[-1] == "2026-10-30.jsonl"


# --------------------------------------------------------------------------------------------------
# The command line, end to end, on a temporary KURA_HOME
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, export, expected",
    [
        ("claude", claude_export, {"read": 5, "accepted": 2, "quarantined": 3, "days": ["2026-11-03.jsonl"]}),
        (
            "chatgpt",
            chatgpt_export,
            {"read": 5, "accepted": 2, "quarantined": 3, "days": ["2026-11-05.jsonl"]},
        ),
    ],
)
def test_cli_ingest_chat_exports(kura_env, name, export, expected):
    env = dict(os.environ)
    path = write_json(kura_env / f"{name}-conversations.json", export())
    first = kura("ingest", str(path), "--dataset", name, cwd=kura_env, env=env)
    assert first.returncode == 0, first.stderr
    counts = (
        f"{expected['read']} records read, {expected['accepted']} accepted, 0 duplicates merged, "
        f"{expected['quarantined']} quarantined"
    )
    assert f"({name})" in first.stdout and counts in first.stdout
    assert (
        f"{expected['accepted']} accepted + 0 duplicates merged + {expected['quarantined']} quarantined = "
        f"{expected['read']} records read"
    ) in first.stdout
    assert f"{path}: record 3:" in first.stderr
    data = kura_env / "data" / name
    assert sorted(p.name for p in data.iterdir()) == expected["days"]
    home = kura_env / "home"
    before = snapshot(data) | snapshot(home / "quarantine")
    second = kura("ingest", str(path), "--dataset", name, cwd=kura_env, env=env)
    assert second.returncode == 0, second.stderr
    assert f"{expected['accepted']} of the accepted were already landed unchanged" in second.stdout
    assert snapshot(data) | snapshot(home / "quarantine") == before
    quarantined = [
        json.loads(line) for line in (home / "quarantine" / f"{name}.jsonl").read_text().splitlines()
    ]
    assert len(quarantined) == expected["quarantined"]
    assert {"dataset", "source", "record", "reason", "raw", "ingested_at"} <= set(quarantined[0])
    with duckdb.connect(str(home / "kura.duckdb"), read_only=True) as connection:
        count = connection.execute(
            "SELECT count(*) FROM kura.kura.quarantine WHERE dataset = ?", [name]
        ).fetchone()[0]
    assert count == expected["quarantined"]


def test_cli_ingest_tables_and_options(kura_env):
    env = dict(os.environ)
    path = write_csv(kura_env / "chats.csv", conversation_rows())
    done = kura(
        "ingest",
        str(path),
        "--dataset",
        "tables",
        "--columns",
        "chat_id=id,created_at=ts,messages=msgs",
        cwd=kura_env,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "3 records read, 2 accepted, 0 duplicates merged, 1 quarantined" in done.stdout
    assert sorted(p.name for p in (kura_env / "data" / "tables").iterdir()) == [
        "2026-11-07.jsonl",
        "2026-11-08.jsonl",
    ]
    sharegpt = write_lines(kura_env / "sharegpt.jsonl", sharegpt_lines())
    done = kura(
        "ingest", str(sharegpt), "--dataset", "sg", "--default-date", "2026-11-10", cwd=kura_env, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "dated 2026-11-10T00:00:00+00:00 (--default-date)" in done.stdout
    assert (kura_env / "data" / "sg" / "2026-11-10.jsonl").exists()
    bad = kura("ingest", str(path), "--dataset", "tables", "--columns", "nonsense=x", cwd=kura_env, env=env)
    assert bad.returncode == 2 and "unknown key 'nonsense'" in bad.stderr
