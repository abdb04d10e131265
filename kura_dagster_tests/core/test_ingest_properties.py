"""Property: whatever mix of good and broken records an export holds, ingesting never crashes, every good
record lands, and accepted + duplicates + quarantined == input records, exactly; ingesting again changes
nothing."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kura_dagster.core.ingest.connectors import FORMATS, ConnectorOptions, load
from kura_dagster.core.ingest.driver import ingest
from kura_dagster.core.ingest.records import Limits

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
LIMITS = Limits(max_message_chars=60, now=NOW)
ROLES = ("user", "assistant", "system", "tool")
PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)

offsets = st.sampled_from(
    [
        None,
        timezone.utc,
        timezone(timedelta(hours=-5)),
        timezone(timedelta(hours=5, minutes=30)),
        timezone(timedelta(hours=14)),
    ]
)


@st.composite
def timestamps(draw) -> object:
    moment = draw(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2026, 11, 20)))
    zone = draw(offsets)
    style = draw(st.sampled_from(["iso", "iso", "epoch", "date"]))
    if style == "epoch":
        return int(moment.replace(tzinfo=timezone.utc).timestamp())
    if style == "date":
        return moment.date().isoformat()
    return (moment.replace(tzinfo=zone) if zone else moment).isoformat()


@st.composite
def good_records(draw, chat_id: str) -> dict:
    first = "q" + draw(st.text(max_size=80))  # never empty: at least one message has text
    others = draw(st.lists(st.tuples(st.sampled_from(ROLES), st.text(max_size=120)), max_size=3))
    record = {
        "chat_id": chat_id,
        "created_at": draw(timestamps()),
        "messages": [{"role": "user", "content": first}] + [{"role": r, "content": c} for r, c in others],
    }
    if draw(st.booleans()):
        record["metadata"] = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
    if draw(st.booleans()):  # extra fields are ignored, not fatal
        record["extra_" + draw(st.text(alphabet="abc", max_size=3))] = draw(json_values)
    return record


def mutations(good: dict) -> st.SearchStrategy[dict]:
    """Ways to break a good record that must get it rejected."""

    def without(key):
        return {k: v for k, v in good.items() if k != key}

    def with_(key, value):
        return {**good, key: value}

    messages = good["messages"]
    return st.one_of(
        st.sampled_from(["chat_id", "created_at", "messages"]).map(without),
        st.sampled_from([None, [], {}, 1.5, True, "", "   "]).map(lambda v: with_("chat_id", v)),
        st.sampled_from(
            [
                None,
                [],
                {},
                True,
                "not a date",
                "2026-13-01T00:00:00Z",
                "2026-02-30",
                "1999-06-01T00:00:00Z",
                "0001-01-01T00:00:00",
                "9999-12-31T23:59:59Z",
                "9999-12-31T23:59:59-05:00",
                (NOW + timedelta(days=3)).isoformat(),
                1e30,
            ]
        ).map(lambda v: with_("created_at", v)),
        st.sampled_from(
            [
                "text",
                5,
                {},
                [],
                [1],
                [{"role": "user"}],
                [{"content": "x"}],
                [{"role": "user", "content": ""}],
                [{"role": "user", "content": "  \n"}],
                [{"role": "user", "content": 5}],
            ]
        ).map(lambda v: with_("messages", v)),
        st.text(max_size=10)
        .filter(lambda r: r not in ROLES)
        .map(lambda role: with_("messages", [{**messages[0], "role": role}] + messages[1:])),
        st.sampled_from(["a string", [1, 2], 3]).map(lambda v: with_("metadata", v)),
        st.just(with_("messages", [{"role": "user", "content": "bad \ud800 surrogate"}])),
    )


def random_line_bytes() -> st.SearchStrategy[bytes]:
    """A non-blank line of arbitrary bytes (a blank line is not a record)."""

    def is_record(data: bytes) -> bool:
        try:
            return bool(data.decode("utf-8").strip())
        except UnicodeDecodeError:
            return True

    return st.binary(min_size=1, max_size=60).map(lambda b: b.replace(b"\n", b" ")).filter(is_record)


@st.composite
def exports(draw):
    """(lines as bytes, good chat ids, number of good records incl. repeats, number of bad records)."""
    count = draw(st.integers(1, 12))
    goods = [draw(good_records(f"good-{i}")) for i in range(count)]
    lines: list[tuple[str, bytes]] = [("good", json.dumps(g).encode()) for g in goods]
    expected_ids = {g["chat_id"] for g in goods}
    for index, good in enumerate(draw(st.lists(st.sampled_from(goods), max_size=3))):
        lines.append(("good", json.dumps(good).encode()))  # an exact repeat: a duplicate
        variant = {**good, "metadata": {"variant": index}}  # same id, other content: kept as ID~n
        lines.append(("good", json.dumps(variant).encode()))
        if draw(st.booleans()):  # the variant again: a duplicate of ID~n, not another ID~m
            lines.append(("good", json.dumps(variant).encode()))
    bad = draw(
        st.lists(
            st.one_of(
                st.sampled_from(goods)
                .flatmap(mutations)
                .map(lambda r: json.dumps(r).encode("utf-8", "surrogatepass")),
                json_values.map(
                    lambda v: {k: x for k, x in v.items() if k != "messages"} if isinstance(v, dict) else v
                ).map(lambda v: json.dumps(v).encode()),
                random_line_bytes(),
            ),
            max_size=15,
        )
    )
    lines += [("bad", line) for line in bad]
    order = draw(st.permutations(range(len(lines))))
    return [lines[i] for i in order], expected_ids


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@PROPERTY
@given(exports())
def test_nothing_is_lost(export):
    lines, good_ids = export
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = root / "export.jsonl"
        path.write_bytes(b"".join(line + b"\n" for _, line in lines) + b"\n\n")
        options = ConnectorOptions(limits=LIMITS)
        kwargs = dict(
            dataset="fuzz",
            data_dir=root / "data",
            quarantine_dir=root / "home" / "quarantine",
            fmt="jsonl",
            options=options,
            db_path=root / "home" / "kura.duckdb",
        )
        report = ingest(path, **kwargs)
        n_good = sum(1 for kind, _ in lines if kind == "good")
        n_bad = len(lines) - n_good
        assert report.records_read == len(lines)
        assert report.accepted + report.duplicates + report.quarantined == report.records_read
        assert report.quarantined == len(report.rejected) == n_bad, [r.describe() for r in report.rejected]
        assert report.accepted + report.duplicates == n_good
        distinct = {line for kind, line in lines if kind == "good"}  # repeats of a line are duplicates
        assert report.duplicates == n_good - len(distinct)
        if n_bad:  # every reject, once, in the file and in the table
            quarantined = (
                (root / "home" / "quarantine" / "fuzz.jsonl").read_text(encoding="utf-8").splitlines()
            )
            assert sorted(json.loads(q)["record"] for q in quarantined) == sorted(
                r.record for r in report.rejected
            )
            with duckdb.connect(str(root / "home" / "kura.duckdb"), read_only=True) as connection:
                assert connection.execute("SELECT count(*) FROM kura.kura.quarantine").fetchone()[0] == n_bad
        landed = {}
        for day_file in (root / "data" / "fuzz").glob("*.jsonl") if n_good else []:
            for line in day_file.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                landed[record["chat_id"]] = record
                assert day_file.stem == record["created_at"][:10]  # the file of its UTC day
                assert all(len(m["content"]) <= LIMITS.max_message_chars for m in record["messages"])
        assert good_ids <= set(landed)
        assert len(landed) == report.accepted
        before = _snapshot(root / "data") | _snapshot(root / "home" / "quarantine")
        again = ingest(path, **kwargs)
        assert (
            again.balanced
            and again.quarantined == n_bad
            and again.unchanged == again.accepted == report.accepted
        )
        assert _snapshot(root / "data") | _snapshot(root / "home" / "quarantine") == before


@st.composite
def claude_documents(draw):
    goods = []
    for i in range(draw(st.integers(0, 6))):
        messages = [
            {
                "sender": draw(st.sampled_from(["human", "assistant"])),
                "created_at": draw(timestamps()),
                "text": draw(st.text(max_size=40)),
                "content": draw(
                    st.lists(
                        st.fixed_dictionaries(
                            {
                                "type": st.sampled_from(["text", "tool_use", "tool_result", "thinking"]),
                                "text": st.text(max_size=30),
                                "name": st.text(max_size=10),
                            }
                        ),
                        max_size=3,
                    )
                ),
                "attachments": draw(
                    st.lists(st.fixed_dictionaries({"file_name": st.text(max_size=12)}), max_size=2)
                ),
            }
            for _ in range(draw(st.integers(0, 4)))
        ]
        messages.append({"sender": "human", "created_at": draw(timestamps()), "text": "q", "content": []})
        goods.append(
            {
                "uuid": f"conv-{i}",
                "name": draw(st.text(max_size=10)),
                "created_at": draw(timestamps()),
                "chat_messages": messages,
            }
        )
    junk = draw(
        st.lists(json_values.filter(lambda v: not (isinstance(v, dict) and "chat_messages" in v)), max_size=6)
    )
    broken = (
        [
            {**g, "chat_messages": draw(st.sampled_from([[], "x", [1], [{"sender": "robot", "text": "x"}]]))}
            for g in draw(st.lists(st.sampled_from(goods), max_size=3))
        ]
        if goods
        else []
    )
    records = [("good", g) for g in goods] + [("bad", j) for j in junk + broken]
    order = draw(st.permutations(range(len(records))))
    return [records[i] for i in order]


@PROPERTY
@given(claude_documents())
def test_claude_documents_never_crash(records):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "conversations.json"
        path.write_text(json.dumps([r for _, r in records]), encoding="utf-8")
        result = load(path, "claude", ConnectorOptions(limits=LIMITS))
        assert result.records == len(records) == len(result.conversations) + len(result.rejected)
        good = sum(1 for kind, _ in records if kind == "good")
        assert len(result.conversations) == good, [r.describe() for r in result.rejected]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=300),
    st.sampled_from([f for f in FORMATS if f != "hf"]),
    st.sampled_from([".json", ".csv", ".jsonl"]),
)
def test_any_bytes_in_any_format_either_fail_cleanly_or_balance(data, fmt, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"export{suffix}"
        path.write_bytes(data)
        try:
            result = load(path, fmt, ConnectorOptions(limits=LIMITS, default_created_at=NOW))
        except ValueError as error:  # the whole file is unreadable as that format: one clear error
            assert str(error)
            return
        assert result.records == len(result.conversations) + len(result.rejected)
