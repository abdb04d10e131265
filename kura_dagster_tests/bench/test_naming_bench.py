"""The naming benchmark's measures (fidelity, repeated names, specifics) and the sample's labels file."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kura_dagster.core.types import Cluster
from kura_dagster_tests.bench import BENCH, load_bench

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def naming():
    return load_bench("naming_bench", "naming.py")


def node(node_id, name, chats, parent=None):
    return Cluster(id=node_id, name=name, description="", slug=node_id, chat_ids=chats, parent_id=parent)


def test_fidelity_counts_conversations_of_leaves_whose_name_shares_a_stem_with_their_label(naming):
    labels = {"a": "card_arrival", "b": "card_arrival", "c": "card_arrival", "d": "exchange_rate", "e": "pin"}
    nodes = [
        node("r", "Cards", ["a", "b", "c", "d", "e"]),
        node("l1", "When will my card arrive", ["a", "b", "c"], "r"),  # card/arrive ~ card_arrival
        node("l2", "Currency conversion", ["d", "e"], "r"),
    ]  # no shared word with exchange_rate
    share, rows = naming.fidelity(nodes, labels)
    assert share == pytest.approx(3 / 5)
    assert [(r["name"], r["label"], r["hit"]) for r in rows] == [
        ("When will my card arrive", "card_arrival", True),
        ("Currency conversion", "exchange_rate", False),
    ]


def test_parent_coverage_counts_each_conversation_by_its_own_label_against_its_parents_name(naming):
    labels = {"a": "card_arrival", "b": "card_arrival", "c": "lost_card", "d": "exchange_rate", "e": "pin"}
    nodes = [
        node("r", "Cards", list("abcde")),  # card ~ card_arrival, lost_card: 3 of 5
        node("p", "Card delivery", list("abc"), "r"),  # card: 3 of 3
        node("l1", "When will my card arrive", list("ab"), "p"),  # leaves are not parents: not counted
        node("l2", "Lost it", list("c"), "p"),
        node("l3", "Currency conversion", list("de"), "r"),
    ]
    assert naming.parent_coverage(nodes, labels) == pytest.approx((3 + 3) / (5 + 3))
    assert naming.parent_coverage(nodes[2:], labels) != naming.parent_coverage(nodes[2:], labels)  # none: nan


def test_hidden_leaves_are_not_judged_by_their_name(naming):
    labels = {"a": "pin", "b": "pin", "c": "refund"}
    nodes = [
        node("r", "Pins", ["a", "b", "c"]),
        node("l1", "Change a pin", ["a", "b"], "r"),
        node("l2", "Below threshold", ["c"], "r"),
    ]
    share, rows = naming.fidelity(nodes, labels)
    assert share == 1.0 and len(rows) == 1


def test_repeated_names_among_siblings_and_between_parent_and_child(naming):
    nodes = [
        node("r", "Refund for a damaged order", list("abcd")),
        node("l1", "Refund for a damaged order", list("ab"), "r"),
        node("l2", "Track a parcel", list("cd"), "r"),
        node("r2", "Track a parcel", list("ef")),
        node("r3", "Track a parcel", list("gh")),
    ]
    assert naming.repeated_names(nodes) == {"same_name_siblings": 1, "parent_named_like_child": 1}


def test_specifics_are_days_numbers_and_words_the_corpus_writes_capitalised(naming):
    from kura_dagster.core.types import Conversation, Message

    talk = [
        Conversation(
            chat_id=str(i),
            created_at="2026-11-01T00:00:00Z",
            messages=[
                Message(role="user", content="I need a taxi to Detroit tonight, my name is Morgan."),
                Message(role="assistant", content="Sure, a taxi to Detroit for Morgan. Pandas or React?"),
            ],
        )
        for i in range(3)
    ]
    proper = naming.corpus_proper_nouns(talk)
    assert {"detroit", "morgan"} <= proper and "taxi" not in proper and "react" not in proper
    assert naming.specifics_in("Taxi to Detroit on Monday at 15:15", proper) == [
        "detroit",
        "monday",
        "<digit>",
    ]
    assert naming.specifics_in("120 conversations (40%) about k8s and W-2 forms", proper) == []


def test_the_sample_generator_writes_theme_and_language_labels_outside_the_landing_zone(tmp_path):
    out, labels = tmp_path / "zone", tmp_path / "labels.csv"
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "generate_sample.py"),
            "--out",
            str(out),
            "--days",
            "1",
            "--per-day",
            "30",
            "--labels",
            str(labels),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(labels.open(encoding="utf-8")))
    assert list(rows[0]) == ["chat_id", "dataset", "theme", "language"]
    written = sum(len(p.read_text().splitlines()) for p in out.rglob("*.jsonl"))
    assert len(rows) == written and {r["language"] for r in rows} <= {"en", "es", "fr", "de", "pt"}
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["2026-11-01.jsonl", "2026-11-01.jsonl"]
    inside = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "generate_sample.py"),
            "--out",
            str(out),
            "--days",
            "1",
            "--labels",
            str(out / "labels.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert inside.returncode == 2 and "inside the landing zone" in inside.stderr
    assert not (out / "labels.csv").exists()


def test_the_scale_generator_writes_the_same_records_and_their_labels(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            str(BENCH / "generate.py"),
            "--n",
            "40",
            "--out",
            str(tmp_path / "a"),
            "--labels",
            str(tmp_path / "labels.csv"),
        ],
        capture_output=True,
        text=True,
    )
    plain = subprocess.run(
        [sys.executable, str(BENCH / "generate.py"), "--n", "40", "--out", str(tmp_path / "b")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and plain.returncode == 0, run.stderr + plain.stderr
    records = (tmp_path / "a" / "bench" / "2026-11-01.jsonl").read_text()
    assert records == (tmp_path / "b" / "bench" / "2026-11-01.jsonl").read_text()  # labels change no byte
    rows = list(csv.DictReader((tmp_path / "labels.csv").open(encoding="utf-8")))
    assert [r["chat_id"] for r in rows] == [json.loads(line)["chat_id"] for line in records.splitlines()]
    assert {r["dataset"] for r in rows} <= {"coding_assistant", "support_bot"} and all(
        r["theme"] for r in rows
    )
