"""Streaming ingest: the JSON array reader against Python's own decoder, the bounded-memory landing writer
against a plain in-memory model of the duplicate rules, and the spilled quarantine."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kura_dagster.core.ingest import quarantine as quarantine_module
from kura_dagster.core.ingest.connectors import ConnectorOptions, load
from kura_dagster.core.ingest.connectors.documents import array_items
from kura_dagster.core.ingest.driver import ingest, signals_stop_like_ctrl_c
from kura_dagster.core.ingest.landing import SCRATCH_PREFIX, LandingWriter, conversation_line
from kura_dagster.core.ingest.quarantine import QuarantineWriter
from kura_dagster.core.ingest.records import Rejected, parse_record
from kura_dagster.core.types import Conversation

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


# --------------------------------------------------------------------------------------------------
# The JSON array reader
# --------------------------------------------------------------------------------------------------


@PROPERTY
@given(
    st.lists(json_values, max_size=12),
    st.sampled_from([None, 1, 2]),
    st.sampled_from([1, 2, 3, 7, 64, 1 << 20]),
)
def test_array_items_decode_what_json_loads_decodes(elements, indent, chunk):
    """Whatever the window size (down to one byte), the elements are exactly json.loads' elements."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "doc.json"
        path.write_text(json.dumps(elements, indent=indent, ensure_ascii=bool(indent)), encoding="utf-8")
        assert list(array_items(path, chunk=chunk)) == elements


@PROPERTY
@given(st.binary(max_size=120), st.sampled_from([1, 3, 16, 1 << 20]))
def test_array_items_agree_with_json_loads_on_any_bytes(data, chunk):
    """Accepted exactly when json.loads accepts the same text (bad bytes decoded the same way)."""
    data = b"[" + data
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "doc.json"
        path.write_bytes(data)
        try:
            expected = json.loads(data.decode("utf-8", "surrogateescape"))
        except (ValueError, RecursionError):
            with pytest.raises(ValueError, match="not a readable JSON document"):
                list(array_items(path, chunk=chunk))
            return
        assert repr(list(array_items(path, chunk=chunk))) == repr(expected)


def test_array_items_report_where_a_document_breaks(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"a": 1},\n  {"a": 2}\n  {"a": 3}\n]\n')
    with pytest.raises(
        ValueError,
        match=r"broken.json: not a readable JSON document: Expecting ',' delimiter at line 4 column 3",
    ):
        list(array_items(path, chunk=4))
    path.write_text('[{"a": 1}] trailing')
    with pytest.raises(ValueError, match="Extra data"):
        list(array_items(path))


def test_a_large_document_is_read_through_a_small_window(tmp_path, monkeypatch):
    """A Kura dump of 3,000 conversations read with a 4 KB window: same conversations as reading it whole,
    and the window never holds more than a few conversations."""
    records = [
        {
            "chat_id": f"c{i}",
            "created_at": f"2026-11-0{1 + i % 7}T10:00:00Z",
            "messages": [
                {"role": "user", "content": f"question {i} " * (i % 50 + 1)},
                {"role": "assistant", "content": "answer"},
            ],
        }
        for i in range(3000)
    ]
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    widest = 0
    real_decode = json.JSONDecoder.raw_decode

    def watched(self, text, index=0):
        nonlocal widest
        widest = max(widest, len(text))
        return real_decode(self, text, index)

    monkeypatch.setattr(json.JSONDecoder, "raw_decode", watched)
    from kura_dagster.core.ingest.connectors import documents

    monkeypatch.setattr(documents, "STREAM_CHUNK", 4096)
    monkeypatch.setattr(documents.array_items, "__defaults__", (4096,))
    result = load(path)
    assert [c.chat_id for c in result.conversations] == [r["chat_id"] for r in records]
    assert (
        widest < 5 * 4096 and path.stat().st_size > 20 * widest
    )  # the window is a small fraction of the file


# --------------------------------------------------------------------------------------------------
# The landing writer against an in-memory model
# --------------------------------------------------------------------------------------------------


def model_landing(
    existing: dict[str, list[str]], incoming: list[Conversation]
) -> tuple[dict[str, list[str]], int, int]:
    """The documented rules, in memory: (day files as lines, landed, duplicates)."""
    by_day: dict[str, dict[str, str]] = {}
    seen: dict[tuple[str, str], list[str]] = {}
    landed = duplicates = 0
    for conversation in incoming:
        day = conversation.created_at.date().isoformat()
        lines = by_day.setdefault(day, {})
        line = conversation_line(conversation)
        if conversation.chat_id not in lines:
            lines[conversation.chat_id] = line
            seen[(day, conversation.chat_id)] = [line]
            landed += 1
            continue
        variants = seen[(day, conversation.chat_id)]
        if line in variants:
            duplicates += 1
            continue
        variants.append(line)
        suffix = 2
        while f"{conversation.chat_id}~{suffix}" in lines:
            suffix += 1
        renamed = conversation.model_copy(update={"chat_id": f"{conversation.chat_id}~{suffix}"})
        lines[renamed.chat_id] = conversation_line(renamed)
        seen[(day, renamed.chat_id)] = [lines[renamed.chat_id]]
        landed += 1
    files = {}
    for day in set(by_day) | set(existing):
        merged = {}
        for line in existing.get(day, []):
            record = parse_record(json.loads(line))
            merged[record.chat_id] = conversation_line(record)
        merged.update(by_day.get(day, {}))

        def key(item):
            return (parse_record(json.loads(item[1])).created_at.isoformat(), item[0])

        files[day] = [line for _, line in sorted(merged.items(), key=key)]
    return files, landed, duplicates


@st.composite
def conversations(draw) -> list[Conversation]:
    ids = st.sampled_from(["a", "b", "a~2", "c"])
    texts = st.sampled_from(["hello", "refund please", "still broken"])
    moments = st.sampled_from(
        [
            datetime(2026, 11, 1, 9, tzinfo=timezone.utc),
            datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc),
            datetime(2026, 11, 2, 23, 59, 59, 500000, tzinfo=timezone.utc),
            datetime(2026, 11, 2, 23, 59, 59, tzinfo=timezone.utc),
        ]
    )
    return [
        Conversation(
            chat_id=draw(ids), created_at=draw(moments), messages=[{"role": "user", "content": draw(texts)}]
        )
        for _ in range(draw(st.integers(0, 14)))
    ]


@PROPERTY
@given(conversations(), conversations())
def test_landing_writer_matches_the_model(earlier, later):
    """Two ingests in a row: every day file, and the counts, are what the in-memory model says."""
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        files: dict[str, list[str]] = {}
        for batch in (earlier, later):
            expected, landed, duplicates = model_landing(files, batch)
            with LandingWriter(data, "d", max_open_files=1) as writer:
                for conversation in batch:
                    writer.add(conversation)
                days = writer.commit()
            assert (writer.written, writer.duplicates) == (landed, duplicates)
            assert days == sorted({c.created_at.date().isoformat() for c in batch})
            on_disk = {
                p.stem: p.read_text(encoding="utf-8").splitlines() for p in (data / "d").glob("*.jsonl")
            }
            assert on_disk == {day: lines for day, lines in expected.items() if lines}
            files = on_disk
            assert not list((data / "d").glob(f"{SCRATCH_PREFIX}*"))  # the scratch folder is gone


def test_a_repeated_variant_is_a_duplicate_not_a_third_conversation(tmp_path):
    base = {"created_at": "2026-11-01T10:00:00Z", "chat_id": "x"}
    lines = [
        dict(base, messages=[{"role": "user", "content": text}])
        for text in ("first", "second", "second", "first")
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = ingest(path, dataset="d", data_dir=tmp_path / "data", quarantine_dir=tmp_path / "q")
    assert (report.accepted, report.duplicates) == (2, 2)
    landed = [
        json.loads(line) for line in (tmp_path / "data" / "d" / "2026-11-01.jsonl").read_text().splitlines()
    ]
    assert {(r["chat_id"], r["messages"][0]["content"]) for r in landed} == {
        ("x", "first"),
        ("x~2", "second"),
    }


def test_day_file_lines_that_no_longer_parse_are_kept_at_the_end(tmp_path):
    folder = tmp_path / "data" / "d"
    folder.mkdir(parents=True)
    day_file = folder / "2026-11-01.jsonl"
    old = Conversation(
        chat_id="old", created_at="2026-11-01T12:00:00Z", messages=[{"role": "user", "content": "hi"}]
    )
    day_file.write_bytes(b"{hand edited, broken\n" + conversation_line(old).encode() + b"\n\xff not utf-8\n")
    new = Conversation(
        chat_id="new", created_at="2026-11-01T08:00:00Z", messages=[{"role": "user", "content": "yo"}]
    )
    with LandingWriter(tmp_path / "data", "d") as writer:
        writer.add(new)
        writer.commit()
    assert day_file.read_bytes().splitlines() == [
        conversation_line(new).encode(),
        conversation_line(old).encode(),
        b"{hand edited, broken",
        b"\xff not utf-8",
    ]
    before = day_file.stat().st_mtime_ns
    with LandingWriter(tmp_path / "data", "d") as writer:
        writer.add(new)
        writer.commit()
    assert writer.unchanged == 1 and day_file.stat().st_mtime_ns == before  # untouched


def test_a_failure_before_commit_leaves_the_landing_zone_alone(tmp_path):
    conversation = Conversation(
        chat_id="a", created_at="2026-11-01T10:00:00Z", messages=[{"role": "user", "content": "hi"}]
    )
    with pytest.raises(RuntimeError), LandingWriter(tmp_path / "data", "d") as writer:
        writer.add(conversation)
        raise RuntimeError("the export broke half way")
    assert not (
        tmp_path / "data" / "d"
    ).exists()  # no day file, no scratch folder, not even the folder it made


def test_an_export_that_fails_half_way_changes_nothing(tmp_path):
    path = tmp_path / "dump.json"
    good = {
        "chat_id": "a",
        "created_at": "2026-11-01T10:00:00Z",
        "messages": [{"role": "user", "content": "hi"}],
    }
    path.write_text(json.dumps([good] * 50)[:-1] + ", {broken]")
    with pytest.raises(ValueError, match="not a readable JSON document"):
        ingest(path, dataset="d", data_dir=tmp_path / "data", quarantine_dir=tmp_path / "q", fmt="kura")
    assert not list((tmp_path / "data").rglob("*.jsonl")) and not (tmp_path / "q").exists()


# --------------------------------------------------------------------------------------------------
# The quarantine, spilled and merged
# --------------------------------------------------------------------------------------------------


def test_quarantine_merges_by_key_in_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(quarantine_module, "BATCH", 3)  # several inserts into the table
    db = tmp_path / "kura.duckdb"
    stamp = datetime(2026, 11, 25, tzinfo=timezone.utc)

    def write(records: range, reason: str = "bad", sample: int = 2) -> QuarantineWriter:
        with QuarantineWriter(tmp_path / "q", "d", db_path=db, ingested_at=stamp, sample=sample) as writer:
            for number in records:
                writer.add(Rejected("/exports/x.jsonl", number, reason, "{raw " + "x" * number + "}"))
            writer.commit()
        return writer

    first = write(range(1, 11))
    assert first.count == 10 and [r.record for r in first.sample] == [1, 2]
    path = tmp_path / "q" / "d.jsonl"
    with path.open("a") as handle:
        handle.write("not json, kept verbatim\n")
    write(range(5, 16), sample=0)  # 5..10 again: nothing added for them; 11..15 new
    write(range(1, 3), reason="other")  # same records, another reason: new entries
    entries = [json.loads(line) for line in path.read_text().splitlines()[:-1]]
    assert path.read_text().splitlines()[-1] == "not json, kept verbatim"
    keys = [(e["record"], e["reason"]) for e in entries]
    assert keys == sorted(keys) and len(keys) == len(set(keys)) == 17
    with duckdb.connect(str(db), read_only=True) as connection:
        count = connection.execute(
            "SELECT count(*), count(DISTINCT (record, reason)) FROM kura.kura.quarantine"
        ).fetchone()
    assert count == (17, 17)
    assert not list((tmp_path / "q").glob(".*"))  # no scratch left behind


def test_counts_add_up_past_the_report_sample(tmp_path):
    """More rejects than the report keeps: the counts still add up and every one is in the quarantine."""
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    path = tmp_path / "export.jsonl"
    with path.open("w") as handle:
        for i in range(300):
            handle.write(
                "{broken\n"
                if i % 2
                else json.dumps(
                    {
                        "chat_id": f"c{i}",
                        "created_at": (start + timedelta(hours=i)).isoformat(),
                        "messages": [{"role": "user", "content": f"q{i}"}],
                    }
                )
                + "\n"
            )
    report = ingest(path, dataset="d", data_dir=tmp_path / "data", quarantine_dir=tmp_path / "q")
    assert (report.accepted, report.quarantined, report.records_read) == (150, 150, 300) and report.balanced
    assert len(report.rejected) == 100  # the sample shown by the command
    assert len((tmp_path / "q" / "d.jsonl").read_text().splitlines()) == 150


# --------------------------------------------------------------------------------------------------
# Scratch files of killed ingests, signals, undated exports
# --------------------------------------------------------------------------------------------------


def test_the_next_writer_removes_a_killed_ingests_scratch_folder_and_keeps_a_live_one(tmp_path):
    folder = tmp_path / "data" / "d"
    stale, live = folder / f"{SCRATCH_PREFIX}killed", folder / f"{SCRATCH_PREFIX}running"
    for scratch in (stale, live):
        scratch.mkdir(parents=True)
        (scratch / "2026-11-01.new").write_text("half an export\n")
    holder = os.open(live, os.O_RDONLY)  # what a live ingest holds on its scratch folder
    fcntl.flock(holder, fcntl.LOCK_SH)
    try:
        conversation = Conversation(
            chat_id="a", created_at="2026-11-01T10:00:00Z", messages=[{"role": "user", "content": "hi"}]
        )
        with LandingWriter(tmp_path / "data", "d") as writer:
            writer.add(conversation)
            writer.commit()
        assert sorted(p.name for p in folder.iterdir()) == [live.name, "2026-11-01.jsonl"]
    finally:
        os.close(holder)


def test_the_next_quarantine_merge_removes_a_killed_ingests_scratch_file(tmp_path):
    quarantine_dir = tmp_path / "q"
    quarantine_dir.mkdir()
    for name in (".d-killed.scratch", ".d-killed.merged"):
        (quarantine_dir / name).write_text("{}\n")
    with QuarantineWriter(quarantine_dir, "d") as writer:
        writer.add(Rejected("/exports/x.jsonl", 1, "bad", "{raw"))
        writer.commit()
    assert sorted(p.name for p in quarantine_dir.iterdir()) == ["d.jsonl"]


def test_sigterm_and_sighup_stop_an_ingest_like_ctrl_c():
    before = signal.getsignal(signal.SIGTERM)
    for number in (signal.SIGTERM, signal.SIGHUP):
        with pytest.raises(KeyboardInterrupt), signals_stop_like_ctrl_c():
            os.kill(os.getpid(), number)
            time.sleep(5)  # not reached: the handler raises as soon as the signal arrives
    assert signal.getsignal(signal.SIGTERM) == before


def test_an_undated_id_on_another_day_is_a_duplicate_only_with_the_same_content(tmp_path):
    def sharegpt(path: Path, text: str) -> Path:
        path.write_text(
            json.dumps(
                {
                    "id": "sg-1",
                    "conversations": [{"from": "human", "value": text}, {"from": "gpt", "value": "ok"}],
                }
            )
            + "\n"
        )
        return path

    data, quarantine_dir = tmp_path / "data", tmp_path / "q"
    first = sharegpt(tmp_path / "a.jsonl", "reset my password")
    ingest(
        first,
        dataset="d",
        data_dir=data,
        quarantine_dir=quarantine_dir,
        options=ConnectorOptions(default_created_at=datetime(2026, 11, 1, tzinfo=timezone.utc)),
    )
    same = ingest(
        first,
        dataset="d",
        data_dir=data,
        quarantine_dir=quarantine_dir,
        options=ConnectorOptions(default_created_at=datetime(2026, 11, 2, tzinfo=timezone.utc)),
    )
    assert (same.accepted, same.duplicates, same.elsewhere, same.days) == (0, 1, {"2026-11-01": 1}, [])
    other = ingest(
        sharegpt(tmp_path / "b.jsonl", "my refund never came"),
        dataset="d",
        data_dir=data,
        quarantine_dir=quarantine_dir,
        options=ConnectorOptions(default_created_at=datetime(2026, 11, 2, tzinfo=timezone.utc)),
    )
    assert (other.accepted, other.duplicates, other.elsewhere) == (1, 0, {})  # same id, other content: landed
    assert sorted(p.name for p in (data / "d").iterdir()) == ["2026-11-01.jsonl", "2026-11-02.jsonl"]
