"""Hostile dataset and file names: clear errors, no path traversal, no SQL or shell executed.

Dataset names reach file paths and SQL, so they are validated slugs everywhere they enter: the CLI, the
Dagster partition key (a partition added by hand in the UI), the landing-zone scan behind the sensor. Values
that reach SQL are bound parameters, never spliced into the statement.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from dagster import DagsterInstance, materialize

from kura_dagster.cli import main
from kura_dagster.core.ingest.landing import landing_file, scan_landing_zone
from kura_dagster.core.ingest.landing_reader import load_landing_partition
from kura_dagster.core.settings import Settings
from kura_dagster.core.storage.store import connect, read_partition, write_partition
from kura_dagster.defs.assets import build_pipeline_assets
from kura_dagster.defs.partitions import DATASET_PARTITIONS, partition_key
from kura_dagster.defs.resources import resources_from_settings
from kura_dagster_tests.conftest import make_conversations, write_jsonl

HOSTILE = [
    "../x",
    "..",
    "x/../../etc",
    "a;DROP TABLE conversations",
    "a'); DROP TABLE kura.conversations; --",
    "ünïcode",
    "数据",
    "x" * 65,
    "",
    "UPPER",
    "a b",
    "$(touch pwned)",
    "a\nb",
]
DAY = "2026-11-01"


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("name", HOSTILE)
def test_every_command_refuses_a_hostile_dataset_name(kura_env, capsys, name):
    source = write_jsonl(kura_env / "export.jsonl", make_conversations(per_theme=1, day=DAY))
    before = snapshot(kura_env)
    commands = [
        ["ingest", str(source), "--dataset", name],
        ["run", "--dataset", name, "--all"],
        ["tree", "--dataset", name, "--date", DAY],
        ["export", "--dataset", name, "--date", DAY, "--out", str(kura_env / "out")],
    ]
    for command in commands:
        with pytest.raises(SystemExit) as exit_info:
            main(command)
        assert exit_info.value.code == 2
        assert "invalid dataset name" in capsys.readouterr().err, command
    assert snapshot(kura_env) == before  # nothing written: no folder, no DuckDB file, no export
    assert not list(kura_env.parent.glob("pwned")) and not (kura_env / "pwned").exists()


@pytest.mark.parametrize("name", ["../x", "a;DROP TABLE conversations", "ünïcode"])
def test_a_hostile_partition_added_by_hand_fails_before_any_read_or_write(tmp_path, name):
    settings = Settings(home=tmp_path / "home", data_dir=tmp_path / "data")
    settings.prepare_home()
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(DATASET_PARTITIONS.name, [name])  # Dagster itself accepts any key
    result = materialize(
        build_pipeline_assets(settings)[:1],
        partition_key=partition_key(name, DAY),
        instance=instance,
        resources=resources_from_settings(settings),
        raise_on_error=False,
    )
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "invalid dataset name" in failure.step_failure_data.error.to_string()
    assert not settings.duckdb_path.exists() and not (tmp_path / "x").exists()


@pytest.fixture
def zone(tmp_path: Path) -> Path:
    """A landing zone with one good dataset, hostile folder and file names, and links that lead out of it."""
    data, outside = tmp_path / "data", tmp_path / "outside"
    few = make_conversations(per_theme=1, day=DAY)
    write_jsonl(data / "good" / f"{DAY}.jsonl", few)
    for folder in ("a;DROP TABLE x", "ünïcode", "x" * 65, "UPPER", "$(touch pwned)"):
        write_jsonl(data / folder / f"{DAY}.jsonl", few)
    for stem in ("2026-11-01;rm -rf ~", "$(touch pwned)", "2026-11-02 ", "..2026-11-03"):
        write_jsonl(data / "good" / f"{stem}.jsonl", few)
    write_jsonl(outside / "secret" / f"{DAY}.jsonl", few)
    (data / "escape").symlink_to(outside / "secret", target_is_directory=True)
    (data / "good" / "2026-11-04.jsonl").symlink_to(outside / "secret" / f"{DAY}.jsonl")
    return data


def test_the_landing_scan_keeps_good_files_and_names_what_it_skips(zone):
    scan = scan_landing_zone(zone)
    assert scan.datasets == ["good"] and scan.dates("good") == [DAY]
    reasons = dict(scan.skipped)
    assert (
        "invalid dataset name" in reasons["a;DROP TABLE x"] and "invalid dataset name" in reasons["ünïcode"]
    )
    assert "invalid dataset name" in reasons["x" * 65] and "invalid dataset name" in reasons["$(touch pwned)"]
    assert reasons["escape"] == "a link that leads outside the landing zone"
    assert reasons["good/2026-11-04.jsonl"] == "a link that leads outside the landing zone"
    assert reasons["good/2026-11-01;rm -rf ~.jsonl"] == "the name is not a YYYY-MM-DD date"
    assert not list(zone.parent.rglob("pwned"))  # nothing was executed


def test_reading_a_day_never_follows_a_link_out_of_the_zone(zone):
    with pytest.raises(ValueError, match="leads outside the landing zone"):
        load_landing_partition(zone, "good", "2026-11-04")
    with pytest.raises(ValueError, match="leads outside the landing zone"):
        load_landing_partition(zone, "escape", DAY)
    with pytest.raises(ValueError, match="invalid day"):
        landing_file(zone, "good", "../../outside/secret/2026-11-01")
    assert len(load_landing_partition(zone, "good", DAY).conversations) == 4


def test_the_sensor_registers_only_the_good_dataset(zone, monkeypatch):
    from kura_dagster_tests.defs.test_automation import _definitions, tick

    monkeypatch.setenv("KURA_DATA_DIR", str(zone))
    monkeypatch.setenv("KURA_HOME", str(zone.parent / "home"))
    from dagster import instance_for_test

    with instance_for_test() as instance:
        keys, _, _, added = tick(instance, _definitions(), None)
    assert added == ["good"] and keys == [f"good|{DAY}"]
    assert not list(zone.parent.rglob("pwned"))


def test_values_reach_sql_as_parameters_never_as_statements(tmp_path):
    database = tmp_path / "kura.duckdb"
    day = date(2026, 11, 1)
    rows = pa.table({"chat_id": ["a", "b"], "value": [1, 2]})
    with connect(database) as connection:
        write_partition(connection, "things", "good", day, rows)
        hostile = "x'; DROP TABLE kura.things; --"
        write_partition(connection, "things", hostile, day, rows.slice(0, 1))  # stored as a value
        assert read_partition(connection, "things", "good' OR '1'='1", day).num_rows == 0  # no injection
        assert read_partition(connection, "things", "good", day).num_rows == 2
        assert read_partition(connection, "things", hostile, day).num_rows == 1
    with duckdb.connect(str(database), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM kura.kura.things").fetchall() == [(3,)]
