import json

from kura_dagster.core.ingest.connectors import load, load_kura_dump
from kura_dagster.core.ingest.records import load_jsonl
from kura_dagster_tests.conftest import write_jsonl


def test_jsonl_keeps_good_records_and_names_bad_ones(tmp_path, conversations):
    path = write_jsonl(tmp_path / "day.jsonl", conversations[:3])
    with path.open("ab") as handle:
        handle.write(b"{not json\n")
        handle.write(
            json.dumps({"chat_id": "empty", "created_at": "2026-11-01T00:00:00Z", "messages": []}).encode()
            + b"\n"
        )
        handle.write(b"\xff\xfe broken bytes\n")
        handle.write(
            json.dumps(
                {
                    "chat_id": "role",
                    "created_at": "2026-11-01T00:00:00Z",
                    "messages": [{"role": "robot", "content": "hi"}],
                }
            ).encode()
            + b"\n"
        )
        handle.write(b"\n")
        handle.write(json.dumps(conversations[3].model_dump(mode="json")).encode() + b"\n")
    result = load_jsonl(path)
    assert [c.chat_id for c in result.conversations] == [c.chat_id for c in conversations[:4]]
    reasons = {r.record: r.reason for r in result.rejected}
    assert set(reasons) == {4, 5, 6, 7}
    assert "malformed JSON" in reasons[4]
    assert "no messages" in reasons[5]
    assert "invalid UTF-8" in reasons[6]
    assert "role" in reasons[7]
    assert all(str(path) in r.describe() for r in result.rejected)


def test_kura_dump_round_trip(tmp_path, conversations):
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([c.model_dump(mode="json") for c in conversations[:5]] + [{"chat_id": "x"}]))
    loaded = load_kura_dump(path)
    assert [c.chat_id for c in loaded] == [c.chat_id for c in conversations[:5]]
    assert loaded[0].messages == conversations[0].messages
    assert len(load(path, "kura").rejected) == 1


def test_naive_timestamps_are_utc(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(
        json.dumps(
            {
                "chat_id": "a",
                "created_at": "2026-11-01T23:30:00+02:00",
                "messages": [{"role": "user", "content": "hi"}],
            }
        )
        + "\n"
    )
    conversation = load_jsonl(path).conversations[0]
    assert conversation.created_at.isoformat() == "2026-11-01T21:30:00+00:00"


def test_landing_table_in_byte_ranges_equals_reading_the_whole_file(tmp_path, conversations):
    from kura_dagster.core.ingest.landing_reader import load_landing_partition, load_landing_table
    from kura_dagster.core.storage import tables

    good = [json.dumps(c.model_dump(mode="json")).encode() for c in conversations]
    bad = [b"{not json", b"\xff\xfe broken bytes", b"", json.dumps({"chat_id": "x", "messages": []}).encode()]
    lines = [b"\xef\xbb\xbf" + good[0]]  # a byte order mark on the first line only
    for i, line in enumerate(good[1:], start=1):
        lines.append(line)
        if i % 7 == 0:
            lines.append(bad[i % len(bad)])
    path = tmp_path / "data" / "chat" / "2026-11-01.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\n".join(lines))  # no newline after the last record
    whole = load_landing_partition(tmp_path / "data", "chat", "2026-11-01")
    assert whole.rejected and len(whole.conversations) == len(conversations)
    expected = tables.conversations_to_arrow(whole.conversations)
    for workers, chunk_bytes in ((1, 1), (1, 900), (2, 2000), (2, 1 << 20)):
        table, rejected = load_landing_table(
            tmp_path / "data", "chat", "2026-11-01", workers=workers, chunk_bytes=chunk_bytes
        )
        assert table.equals(expected), (workers, chunk_bytes)
        assert rejected == whole.rejected, (workers, chunk_bytes)
    empty, none = load_landing_table(tmp_path / "data", "chat", "2026-11-02")
    assert empty.num_rows == 0 and empty.schema == expected.schema and none == []


def test_kuras_constructors_work_however_conversation_is_imported(tmp_path, conversations):
    """`Conversation.from_*` are set by the connectors when `kura_dagster.core` is imported, which importing
    `kura_dagster.core.types` does first: a fresh process that imports only the type has them."""
    import subprocess
    import sys

    from kura_dagster_tests.conftest import REPO

    path = write_jsonl(tmp_path / "day.jsonl", conversations[:3])
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps([c.model_dump(mode="json") for c in conversations[:2]]))
    script = (
        "from kura_dagster.core.types import Conversation\n"
        f"print(len(Conversation.from_jsonl({str(path)!r})), len(Conversation.from_conversation_dump({str(dump)!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.split() == ["3", "2"], result.stderr


def test_the_procedural_api_exports_every_name_it_lists():
    import kura_dagster.core as core

    assert all(getattr(core, name) is not None for name in core.__all__)
    assert {"load_jsonl", "load_kura_dump", "summarise_conversations", "visualise_pipeline_results"} <= set(
        core.__all__
    )
