"""Clio's rule end to end on the local path: a person's name and a city that hundreds of conversations share
name no topic. Planted in 300 conversations from 60 users (each tied to two of the four themes, so they set
those topics apart), run through the whole pipeline with Dagster, then looked for in every place a topic's
name or description reaches: the tables, the terminal tree, the exported cluster files and the explorer."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, materialize

from kura_dagster.cli import main
from kura_dagster.core.settings import Settings
from kura_dagster.core.types import Conversation, Message
from kura_dagster.core.views.explorer import load_report_data
from kura_dagster.defs.asset_graph import build_asset_graph
from kura_dagster.defs.partitions import DATASET_PARTITIONS, partition_key
from kura_dagster.defs.resources import resources_from_settings
from kura_dagster_tests.conftest import THEMES, kura_home_at, write_jsonl

DAY = "2026-11-01"
DATASET = "specifics"
PERSON, CITY = "Morgan Whitfield", "Brookhaven"
PLANTED = ("morgan", "whitfield", "brookhaven")
# How people mention them: mostly capitalised, sometimes not; at the start, middle or end of a request.
WITH_PERSON = [
    "{theme} This is {person}.",
    "Hi, {person} here. {theme}",
    "{theme} The account is under {person}.",
    "{theme} thanks, {lower_person}",
]
WITH_CITY = [
    "{theme} I'm in {city} this week.",
    "Writing from {city}: {theme}",
    "{theme} I live in {lower_city}.",
    "{theme} Is the {city} office open?",
]


def planted_corpus() -> list[Conversation]:
    """300 conversations, 75 per theme, from 60 users; the person in the pandas and refund themes, the city
    in the password and docker themes, both in every tenth conversation of any theme."""
    rng = random.Random(11)
    start = datetime.fromisoformat(DAY).replace(tzinfo=timezone.utc)
    conversations = []
    for t, (theme, phrasings) in enumerate(THEMES.items()):
        for k in range(75):
            words = {
                "theme": phrasings[k % len(phrasings)],
                "person": PERSON,
                "lower_person": PERSON.lower(),
                "city": CITY,
                "lower_city": CITY.lower(),
            }
            templates = WITH_PERSON if theme in ("pandas", "refund") else WITH_CITY
            opening = templates[k % len(templates)].format(**words)
            if k % 10 == 0:
                opening += f" My colleague {PERSON} in {CITY} has the same problem on Tuesday at 9:30."
            conversations.append(
                Conversation(
                    chat_id=f"{theme}-{k:03d}",
                    created_at=start + timedelta(minutes=t * 75 + k),
                    messages=[
                        Message(role="user", content=opening),
                        Message(role="assistant", content=f"Thanks {PERSON.split()[0]}, let's fix it."),
                    ],
                    metadata={"user_id": f"u{rng.randrange(60):02d}"},
                )
            )
    return conversations


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("specifics")
    with kura_home_at(root) as settings:
        conversations = planted_corpus()
        write_jsonl(settings.data_dir / DATASET / f"{DAY}.jsonl", conversations)
        instance = DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(DATASET_PARTITIONS.name, [DATASET])
        result = materialize(
            build_asset_graph(settings),
            partition_key=partition_key(DATASET, DAY),
            instance=instance,
            resources=resources_from_settings(settings),
        )
        assert result.success
        exported = {}
        for fmt in ("kura", "parquet", "csv"):
            assert (
                main(
                    ["export", "--dataset", DATASET, "--date", DAY, "--format", fmt, "--out", str(root / fmt)]
                )
                == 0
            )
            exported.update({f"{fmt}/{p.name}": p for p in (root / fmt).iterdir()})
        yield settings, exported


def found_in(text: str) -> list[str]:
    lowered = text.lower()
    return [word for word in PLANTED if word in lowered]


def topic_texts(settings: Settings, sql: str) -> list[str]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return [" | ".join(str(value) for value in row) for row in connection.execute(sql).fetchall()]


def test_the_planted_specifics_are_in_the_data_and_shared_by_many_people(planted):
    """The checks below can fail: the name and the city are all over the requests the namer reads."""
    settings, _ = planted
    requests = topic_texts(settings, "SELECT request, metadata FROM kura.kura.summaries")
    with_person = [r for r in requests if "whitfield" in r.lower()]
    with_city = [r for r in requests if "brookhaven" in r.lower()]
    assert len(with_person) >= 150 and len(with_city) >= 150
    users = {json.loads(r.split(" | ")[1])["user_id"] for r in with_person + with_city}
    assert len(users) >= 50


def test_no_topic_is_named_or_described_by_a_person_or_a_place_in_the_tables(planted):
    settings, _ = planted
    named = topic_texts(
        settings,
        "SELECT name, description, slug FROM kura.kura.base_clusters UNION ALL "
        "SELECT name, description, slug FROM kura.kura.meta_clusters UNION ALL "
        "SELECT name, description, slug FROM kura.kura.taxonomy UNION ALL "
        "SELECT name, '', '' FROM kura.kura.topic_trends",
    )
    assert len(named) > 8
    assert [text for text in named if found_in(text)] == []
    # Nor a weekday or a time, which the colleague sentence carries too.
    assert [text for text in named if "tuesday" in text.lower() or "9:30" in text] == []
    # The topics are still named after what people asked (refund, password, docker, pandas merge).
    names = " ".join(named).lower()
    assert sum(word in names for word in ("refund", "password", "docker", "merge")) >= 3


def test_no_person_or_place_in_the_tree_the_exports_or_the_explorer(planted, capsys):
    settings, exported = planted
    assert main(["tree", "--dataset", DATASET, "--date", DAY, "--style", "enhanced"]) == 0
    tree = capsys.readouterr().out
    assert "refund" in tree.lower() and found_in(tree) == []

    cluster_files = {
        name: path
        for name, path in exported.items()
        if "cluster" in path.stem or path.stem == "dimensionality"
    }
    assert {"kura/clusters.jsonl", "kura/meta_clusters.jsonl"} <= set(cluster_files)
    for name, path in cluster_files.items():
        text = (
            json.dumps(pq.read_table(path).to_pylist(), default=str)
            if path.suffix == ".parquet"
            else path.read_text(encoding="utf-8")
        )
        assert found_in(text) == [], name

    explorer = load_report_data(settings.duckdb_path, DATASET, DAY)
    shown = explorer["clusters"]["name"] + explorer["clusters"]["description"]
    trends = json.dumps(explorer["trends"])
    assert len(explorer["clusters"]["name"]) > 8
    assert found_in(" ".join(shown)) == [] and found_in(trends) == []
