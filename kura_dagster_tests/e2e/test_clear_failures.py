"""Clear failures, the way a person meets them: a bad setting, an unusable KURA_HOME, a corrupted DuckDB file
or an `--out` that cannot be written gives one line on stderr naming the variable or the path and what to do,
exit code 2, no traceback, and nothing written (a corrupted database keeps every byte).

Read-only folders and full disks are real: a tmpfs mounted read-only, or filled up, inside a private mount
namespace (`unshare`), so even root gets EROFS and ENOSPC.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from kura_dagster.core.settings import SETTINGS
from kura_dagster.core.storage.store import connect, write_partition
from kura_dagster_tests.conftest import make_conversations, write_jsonl
from kura_dagster_tests.synthetic_partition import synthetic_partition, write_synthetic_partition

BIN = Path(sys.executable).parent
DAY = "2026-11-01"
RUN = ("run", "--dataset", "support", "--date", DAY)


def environment(root: Path, **variables: str) -> dict[str, str]:
    """The caller's environment without any setting of ours, a private KURA_HOME, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if k not in {s.name for s in SETTINGS}}
    env.update(KURA_HOME=str(root / "home"), KURA_DATA_DIR=str(root / "data"))
    env.update(variables)
    return env


def kura(
    *args: str, env: dict[str, str], cwd: Path, wrap: list[str] | None = None
) -> subprocess.CompletedProcess:
    command = [str(BIN / "kura-dagster"), *args]
    return subprocess.run(
        (wrap or []) + command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def assert_one_line(result: subprocess.CompletedProcess, command: str, message: str) -> None:
    """Exit 2 and exactly `kura-dagster COMMAND: error: MESSAGE` on stderr: one line, no traceback."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.stderr.splitlines() == [f"kura-dagster {command}: error: {message}"], result.stderr
    assert result.returncode == 2


@pytest.fixture(scope="module")
def private_mounts() -> list[str]:
    """`unshare` arguments giving the command its own mounts (root, or an unprivileged user namespace)."""
    unshare = (
        ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--mount"]
    )
    if not shutil.which("unshare") or subprocess.run(unshare + ["true"], capture_output=True).returncode != 0:
        pytest.skip("needs `unshare` (root, or user namespaces) to mount a read-only or a full tmpfs")
    return unshare


def with_tmpfs(unshare: list[str], folder: Path, *, read_only: bool = False, full: bool = False) -> list[str]:
    """A prefix that runs the command with a tiny tmpfs on `folder`, mounted read-only or filled to the brim."""
    folder.mkdir(parents=True, exist_ok=True)
    setup = f"mount -t tmpfs -o {'ro,' if read_only else ''}size=64k tmpfs {shlex.quote(str(folder))}"
    if full:
        setup += f" && (cat /dev/zero > {shlex.quote(str(folder / 'filler'))} 2>/dev/null; true)"
    return unshare + ["sh", "-c", f'{setup} && exec "$@"', "sh"]


# --- settings ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("KURA_SEED", "-1", "KURA_SEED=-1: must be a whole number from 0 to 4294967295"),
        ("KURA_TARGET_CLUSTER_SIZE", "0", "KURA_TARGET_CLUSTER_SIZE=0: must be a whole number >= 1"),
        ("KURA_TARGET_CLUSTER_SIZE", "abc", "KURA_TARGET_CLUSTER_SIZE=abc: must be a whole number >= 1"),
        ("KURA_META_BRANCHING", "nan", "KURA_META_BRANCHING=nan: must be a number >= 1.5"),
        ("KURA_LEXICAL_WEIGHT", "inf", "KURA_LEXICAL_WEIGHT=inf: must be a number >= 0"),
        ("KURA_MAX_CONCURRENT", "two", "KURA_MAX_CONCURRENT=two: must be a whole number >= 1"),
        ("KURA_CLUSTERING", "dbscan", "KURA_CLUSTERING=dbscan: must be one of kmeans, hdbscan"),
        (
            "KURA_REPORT_INCLUDE_MESSAGES",
            "maybe",
            "KURA_REPORT_INCLUDE_MESSAGES=maybe: must be true or false (or 1/0, yes/no, on/off)",
        ),
        ("KURA_START_DATE", "2024-02-30", "KURA_START_DATE=2024-02-30: must be a date YYYY-MM-DD"),
        (
            "KURA_CUSTOM_FACETS",
            '{"mood": "happy"}',
            'KURA_CUSTOM_FACETS={"mood": "happy"}: must be a JSON object of facet name -> JSON schema (not an object of objects)',
        ),
        (
            "KURA_SCHEDULE_CRON",
            "0 25 * * *",
            "KURA_SCHEDULE_CRON=0 25 * * *: must be a cron expression of 5 fields such as \"0 2 * * *\" ('25' is not within 0-23)",
        ),
        ("KURA_MAX_SUMMARY_ERROR_RATE", "5%", "KURA_MAX_SUMMARY_ERROR_RATE=5%: must be a number from 0 to 1"),
    ],
)
def test_a_bad_setting_stops_the_command_before_anything_is_written(tmp_path, variable, value, message):
    result = kura(*RUN, env=environment(tmp_path, **{variable: value}), cwd=tmp_path)
    assert_one_line(result, "run", message)
    assert not (tmp_path / "home").exists()  # no instance, no database, no run: nothing happened


def test_a_bad_setting_in_dotenv_is_named_the_same_way(tmp_path):
    (tmp_path / ".env").write_text("KURA_SEED=-1\n")
    result = kura("tree", "--dataset", "support", "--date", DAY, env=environment(tmp_path), cwd=tmp_path)
    assert_one_line(result, "tree", "KURA_SEED=-1: must be a whole number from 0 to 4294967295")


def test_dagster_refuses_to_load_the_definitions_with_a_bad_setting(tmp_path):
    """What `dagster dev`, the daemon and every run do first: load the definitions. A bad setting stops them
    there, named, instead of failing a run after three stages were written."""
    env = environment(tmp_path, KURA_META_BRANCHING="nan")
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-m", "kura_dagster.definitions"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "SettingsError: KURA_META_BRANCHING=nan: must be a number >= 1.5" in result.stdout + result.stderr


def test_the_definitions_refuse_a_corrupted_database_and_an_unusable_home(tmp_path):
    from kura_dagster.core.paths import PathError
    from kura_dagster.core.settings import Settings
    from kura_dagster.core.storage.store import DatabaseFileError
    from kura_dagster.definitions import build_definitions

    path = corrupted_database(tmp_path / "home", "garbage")
    with pytest.raises(DatabaseFileError, match=f"^{path}: not a DuckDB database file"):
        build_definitions(Settings(home=tmp_path / "home", data_dir=tmp_path / "data"))
    with pytest.raises(PathError, match=f"^KURA_HOME={path}: is a file, not a folder"):
        build_definitions(Settings(home=path, data_dir=tmp_path / "data"))


# --- KURA_HOME -----------------------------------------------------------------------------------------------------

ADVICE = "point KURA_HOME at a folder you can write (it holds kura.duckdb and the Dagster instance)"


def test_a_kura_home_that_is_a_file_or_cannot_be_created_is_named(tmp_path):
    blocker = tmp_path / "home-file"
    blocker.write_text("I am a file")
    result = kura(*RUN, env=environment(tmp_path, KURA_HOME=str(blocker)), cwd=tmp_path)
    assert_one_line(result, "run", f"KURA_HOME={blocker}: is a file, not a folder; {ADVICE}")
    result = kura(*RUN, env=environment(tmp_path, KURA_HOME=str(blocker / "home")), cwd=tmp_path)
    assert_one_line(
        result,
        "run",
        f"KURA_HOME={blocker / 'home'}: cannot create this folder ({blocker} is a file); {ADVICE}",
    )
    assert blocker.read_text() == "I am a file"


def test_a_read_only_kura_home_is_named(tmp_path, private_mounts):
    read_only = tmp_path / "read-only"
    wrap = with_tmpfs(private_mounts, read_only, read_only=True)
    result = kura(*RUN, env=environment(tmp_path, KURA_HOME=str(read_only)), cwd=tmp_path, wrap=wrap)
    assert_one_line(
        result, "run", f"KURA_HOME={read_only}: cannot write in this folder (read-only file system); {ADVICE}"
    )
    result = kura(*RUN, env=environment(tmp_path, KURA_HOME=str(read_only / "home")), cwd=tmp_path, wrap=wrap)
    assert_one_line(
        result,
        "run",
        f"KURA_HOME={read_only / 'home'}: cannot create this folder (read-only file system); {ADVICE}",
    )


# --- the DuckDB file ----------------------------------------------------------------------------------------------

RESTORE = "restore it from a backup, or move it away to start a new database"


def corrupted_database(home: Path, kind: str) -> Path:
    """kura.duckdb as a person finds it after a bad copy, a full disk or a stray editor."""
    home.mkdir(parents=True)
    path = home / "kura.duckdb"
    if kind == "garbage":
        path.write_bytes(bytes(range(256)) * 40)
    elif kind == "empty":
        path.write_bytes(b"")
    else:  # a real database of several blocks, cut about in half at a 4 KiB page, as a full disk leaves a copy
        whole = home / "whole.duckdb"
        rows = 60_000
        with connect(whole) as connection:
            write_partition(
                connection,
                "summaries",
                "support",
                date.fromisoformat(DAY),
                pa.table(
                    {
                        "chat_id": [f"chat-{i}" for i in range(rows)],
                        "summary": [f"summary {i} of a refund request" for i in range(rows)],
                    }
                ),
            )
        data = whole.read_bytes()
        whole.unlink()
        path.write_bytes(data[: len(data) // 2 // 4096 * 4096 + 4096])
    return path


@pytest.mark.parametrize(
    "kind, message",
    [
        ("garbage", f"not a DuckDB database file (no DuckDB header); {RESTORE}"),
        (
            "empty",
            "empty file (0 bytes), not a DuckDB database; delete it to start a new database, or restore it from a backup",
        ),
        (
            "truncated",
            "truncated DuckDB file ({size:,} bytes, not a whole number of its 262,144-byte blocks); "
            + RESTORE,
        ),
    ],
)
def test_a_corrupted_database_is_named_and_never_written_to(tmp_path, kind, message):
    path = corrupted_database(tmp_path / "home", kind)
    before = path.read_bytes()
    export = write_jsonl(tmp_path / "export.jsonl", make_conversations(per_theme=2, day=DAY))
    env = environment(tmp_path)
    for command in (
        RUN,
        ("ingest", str(export), "--dataset", "support"),
        ("tree", "--dataset", "support", "--date", DAY),
    ):
        result = kura(*command, env=env, cwd=tmp_path)
        assert_one_line(result, command[0], f"{path}: {message.format(size=len(before))}")
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["kura.duckdb"]  # no WAL, no instance
    assert not (tmp_path / "data").exists()  # ingest stopped before landing anything


# --- --out ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def partition(tmp_path_factory) -> Path:
    """An ingested dataset `support` with one day whose tables are filled (synthetic, for speed)."""
    root = tmp_path_factory.mktemp("out")
    export = write_jsonl(root / "export.jsonl", make_conversations(per_theme=2, day=DAY))
    ingested = kura("ingest", str(export), "--dataset", "support", env=environment(root), cwd=root)
    assert ingested.returncode == 0, ingested.stderr
    write_synthetic_partition(
        root / "home" / "kura.duckdb", "support", DAY, synthetic_partition(60, 6), with_trends=False
    )
    return root


REPORT = ("report", "--dataset", "support", "--date", DAY, "--out")
EXPORT = ("export", "--dataset", "support", "--date", DAY, "--out")


def test_an_out_of_the_wrong_kind_is_named(partition):
    folder = partition / "a-folder"
    folder.mkdir(exist_ok=True)
    result = kura(*REPORT, str(folder), env=environment(partition), cwd=partition)
    assert_one_line(
        result,
        "report",
        f"{folder}: is a folder; --out names the file to write, e.g. {folder / 'report.html'}",
    )
    a_file = partition / "export.jsonl"
    result = kura(*EXPORT, str(a_file), env=environment(partition), cwd=partition)
    assert_one_line(result, "export", f"{a_file}: is a file; --out names the folder to write into")
    result = kura(*EXPORT, str(a_file / "inside"), env=environment(partition), cwd=partition)
    assert_one_line(
        result,
        "export",
        f"{a_file / 'inside'}: cannot write there ({a_file} is a file, not a folder); choose another --out",
    )
    assert list(folder.iterdir()) == []


def test_an_out_on_a_read_only_disk_is_named(partition, private_mounts):
    read_only = partition / "read-only"
    wrap = with_tmpfs(private_mounts, read_only, read_only=True)
    for command, out in ((REPORT, read_only / "report.html"), (EXPORT, read_only / "export")):
        result = kura(*command, str(out), env=environment(partition), cwd=partition, wrap=wrap)
        assert_one_line(
            result, command[0], f"{out}: cannot write there (read-only file system); choose another --out"
        )


def test_an_out_on_a_full_disk_is_named(partition, private_mounts):
    full = partition / "full"
    wrap = with_tmpfs(private_mounts, full, full=True)
    kept = {"report": "; a page already there is unchanged", "export": ""}  # both write aside, then replace
    for command, out in ((REPORT, full / "report.html"), (EXPORT, full / "export")):
        result = kura(*command, str(out), env=environment(partition), cwd=partition, wrap=wrap)
        assert_one_line(
            result,
            command[0],
            f"{out}: no space left on the device; free some space or write somewhere else{kept[command[0]]}",
        )
