"""The command line as a user runs it: ingest → run → tree, on a temporary KURA_HOME."""

import csv
import importlib.util
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

from kura_dagster.cli import main
from kura_dagster_tests.conftest import REPO, SAMPLE_DATA, make_conversations, write_jsonl
from kura_dagster_tests.synthetic_partition import synthetic_partition, write_synthetic_partition
from kura_dagster_tests.terminal_signals import default_signal_handling


def kura_command() -> list[str]:
    script = Path(sys.executable).parent / "kura-dagster"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kura_dagster.cli"]


def kura(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        kura_command() + list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def kura_into_closed_pipe(*args: str, cwd: Path, env: dict) -> tuple[int, str]:
    """The command writing into a pipe whose reader is gone before it writes (`| head` that already quit)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    process = subprocess.Popen(
        kura_command() + list(args), cwd=cwd, env=env, stdout=write_end, stderr=subprocess.PIPE, text=True
    )
    os.close(write_end)
    _, err = process.communicate(timeout=600)
    return process.returncode, err


def test_ingest_run_tree(kura_env):
    env = dict(os.environ)
    export = kura_env / "export.jsonl"
    day_one = make_conversations(per_theme=8, day="2026-11-01")
    day_two = make_conversations(per_theme=8, seed=1, day="2026-11-02")
    for c in day_two:
        c.chat_id = c.chat_id + "-b"
    write_jsonl(export, day_one + day_two)
    with export.open("a") as handle:
        handle.write("{broken\n")

    ingested = kura("ingest", str(export), "--dataset", "support", cwd=kura_env, env=env)
    assert ingested.returncode == 0, ingested.stderr
    assert "65 records read, 64 accepted, 0 duplicates merged, 1 quarantined" in ingested.stdout
    assert f"{export}: record 65: malformed JSON" in ingested.stderr
    assert sorted(p.name for p in (kura_env / "data" / "support").iterdir()) == [
        "2026-11-01.jsonl",
        "2026-11-02.jsonl",
    ]
    quarantined = [
        json.loads(line)
        for line in (kura_env / "home" / "quarantine" / "support.jsonl").read_text().splitlines()
    ]
    assert quarantined[0]["record"] == 65

    again = kura("ingest", str(export), "--dataset", "support", cwd=kura_env, env=env)
    assert again.returncode == 0
    assert (
        len((kura_env / "data" / "support" / "2026-11-01.jsonl").read_text().splitlines()) == 32
    )  # idempotent

    ran = kura("run", "--dataset", "support", "--all", cwd=kura_env, env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "[1-2/2] support 2026-11-01..2026-11-02: ok in " in ran.stdout  # one run over both days
    assert "2 of 2 partitions materialised" in ran.stdout

    with duckdb.connect(str(kura_env / "home" / "kura.duckdb"), read_only=True) as connection:
        counts = connection.execute(
            "SELECT CAST(date AS VARCHAR), count(*) FROM kura.kura.summaries GROUP BY ALL ORDER BY 1"
        ).fetchall()
    assert counts == [("2026-11-01", 32), ("2026-11-02", 32)]

    for style, marker in (
        ("basic", "Clusters (32 conversations)"),
        ("enhanced", "ENHANCED CLUSTER VISUALIZATION"),
        ("rich", "Cluster Size Distribution"),
    ):
        tree = kura(
            "tree", "--dataset", "support", "--date", "2026-11-01", "--style", style, cwd=kura_env, env=env
        )
        assert tree.returncode == 0, tree.stderr
        assert marker in tree.stdout
    # A reader that stopped early (`kura-dagster tree ... | head`): the command stops quietly with 128 +
    # SIGPIPE, as other tools do, not with an error about a broken pipe.
    assert kura_into_closed_pipe(
        "tree", "--dataset", "support", "--date", "2026-11-01", cwd=kura_env, env=env
    ) == (
        141,
        "",
    )

    exported = kura(
        "export",
        "--dataset",
        "support",
        "--date",
        "2026-11-01",
        "--out",
        str(kura_env / "kura_ckpt"),
        cwd=kura_env,
        env=env,
    )
    assert exported.returncode == 0, exported.stderr
    assert len((kura_env / "kura_ckpt" / "conversations.jsonl").read_text().splitlines()) == 32


def test_clear_errors(kura_env):
    env = dict(os.environ)
    bad_name = kura("ingest", "x.jsonl", "--dataset", "Bad Name!", cwd=kura_env, env=env)
    assert bad_name.returncode == 2 and "invalid dataset name" in bad_name.stderr
    missing = kura("ingest", str(kura_env / "nope.jsonl"), "--dataset", "ok", cwd=kura_env, env=env)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    (kura_env / "data" / "ok").mkdir(parents=True)
    write_jsonl(kura_env / "data" / "ok" / "2026-11-01.jsonl", make_conversations(per_theme=1))
    no_run = kura("tree", "--dataset", "ok", "--date", "2026-11-01", cwd=kura_env, env=env)
    assert no_run.returncode == 2 and "kura-dagster run" in no_run.stderr
    bad_date = kura("run", "--dataset", "ok", "--date", "2026-13-01", cwd=kura_env, env=env)
    assert bad_date.returncode == 2 and "is not a date" in bad_date.stderr


def kura_in_a_terminal(*args: str, cwd: Path, env: dict) -> tuple[int, str]:
    """Run the command with a pseudo-terminal as its stdout, as in a person's shell (so `rich` colours)."""
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen(
        kura_command() + list(args), stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env
    )
    os.close(slave)
    received = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the command exited and closed the terminal
            break
        if not chunk:
            break
        received.append(chunk)
    os.close(master)
    return process.wait(timeout=120), b"".join(received).decode("utf-8", "replace")


def test_tree_prints_escape_sequences_from_user_text_as_nothing(kura_env):
    """A summary or a hosted model's name can carry terminal escapes; `tree` must not play them."""
    from datetime import date

    from kura_dagster.core.settings import Settings
    from kura_dagster.core.storage import tables
    from kura_dagster.core.storage.store import connect, write_partition
    from kura_dagster.core.types import Cluster
    from kura_dagster.launch.runs import kura_instance, register_datasets

    planted = "\x1b[2J\x1b]0;pwned\x07"
    members = [f"chat-{i}" for i in range(12)]
    nodes = [
        Cluster(
            id="root",
            name=planted + "Refund questions",
            description="Refunds." + planted,
            slug="r",
            chat_ids=members,
        ),
        Cluster(
            id="a",
            name="Broken blenders",
            description=f"Asks: {planted}my blender broke",
            slug="a",
            chat_ids=members[:6],
            parent_id="root",
        ),
        Cluster(
            id="b",
            name="Late parcels" + planted,
            description="Late.",
            slug="b",
            chat_ids=members[6:],
            parent_id="root",
        ),
    ]
    settings = Settings.from_env()
    settings.prepare_home()
    write_jsonl(
        settings.data_dir / "hostile" / "2026-11-01.jsonl", make_conversations(per_theme=1, day="2026-11-01")
    )
    register_datasets(kura_instance(settings), ["hostile"])
    with connect(settings.duckdb_path) as connection:
        write_partition(
            connection,
            "meta_clusters",
            "hostile",
            date(2026, 11, 1),
            tables.meta_clusters_to_arrow(nodes, [0, 1, 1]),
        )

    for style in ("rich", "enhanced", "basic"):
        code, shown = kura_in_a_terminal(
            "tree",
            "--dataset",
            "hostile",
            "--date",
            "2026-11-01",
            "--style",
            style,
            cwd=kura_env,
            env=dict(os.environ),
        )
        assert code == 0, shown
        assert "Refund questions" in shown and "Late parcels" in shown, style
        assert (
            "\x1b[2J" not in shown and "\x1b]" not in shown and "\x07" not in shown and "pwned" not in shown
        ), style
        if style == "rich":
            assert "\x1b[1;" in shown  # a real terminal: rich still colours its own output


# --------------------------------------------------------------------------------------------------
# Writes that cannot destroy or lose (issue 14, point 4)
# --------------------------------------------------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_export_of_a_day_without_data_leaves_an_earlier_export_intact(kura_env):
    env = dict(os.environ)
    write_synthetic_partition(
        kura_env / "home" / "kura.duckdb",
        "support_bot",
        "2026-11-07",
        synthetic_partition(60, 5),
        with_trends=False,
    )
    write_jsonl(
        kura_env / "data" / "support_bot" / "2026-11-08.jsonl", make_conversations(per_theme=1)
    )  # not run
    out = kura_env / "checkpoints"
    first = kura(
        "export", "--dataset", "support_bot", "--date", "2026-11-07", "--out", str(out), cwd=kura_env, env=env
    )
    assert first.returncode == 0, first.stderr
    assert f"{out / 'conversations.jsonl'}: 60 rows" in first.stdout
    before = _snapshot(out)
    assert set(before) == {
        "conversations.jsonl",
        "summaries.jsonl",
        "clusters.jsonl",
        "meta_clusters.jsonl",
        "dimensionality.jsonl",
    }
    assert all(before[name] for name in ("conversations.jsonl", "summaries.jsonl", "meta_clusters.jsonl"))

    empty_day = kura(
        "export", "--dataset", "support_bot", "--date", "2026-11-09", "--out", str(out), cwd=kura_env, env=env
    )
    assert empty_day.returncode == 2
    assert "no conversations for support_bot on 2026-11-09" in empty_day.stderr
    not_run = kura(
        "export", "--dataset", "support_bot", "--date", "2026-11-08", "--out", str(out), cwd=kura_env, env=env
    )
    assert not_run.returncode == 2
    assert (
        "nothing to export for dataset 'support_bot' on 2026-11-08: run `kura-dagster run --dataset support_bot "
        "--date 2026-11-08` first"
    ) in not_run.stderr
    assert _snapshot(out) == before  # not truncated, no scratch folder left


def test_concurrent_ingests_keep_every_quarantine_line(kura_env):
    """Two ingests of one dataset at once, 20,000 rejects each: before the fix one merge overwrote the other."""
    env = dict(os.environ)
    exports = []
    for name in ("a", "b"):
        path = kura_env / f"{name}.jsonl"
        write_jsonl(
            path,
            [
                c.model_copy(update={"chat_id": f"{name}-{c.chat_id}"})
                for c in make_conversations(per_theme=1)
            ],
        )
        with path.open("a") as handle:
            handle.writelines(f"{{broken {name} {i}\n" for i in range(20_000))
        exports.append(path)
    running = [
        subprocess.Popen(
            [*kura_command(), "ingest", str(path), "--dataset", "support_bot"],
            cwd=kura_env,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in exports
    ]
    outputs = [process.communicate(timeout=600) for process in running]
    assert [process.returncode for process in running] == [0, 0], outputs
    assert all("4 accepted, 0 duplicates merged, 20000 quarantined" in out for out, _ in outputs)

    lines = (kura_env / "home" / "quarantine" / "support_bot.jsonl").read_text().splitlines()
    assert len(lines) == 40_000
    assert {json.loads(line)["source"] for line in lines} == {str(path) for path in exports}
    with duckdb.connect(str(kura_env / "home" / "kura.duckdb"), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM kura.kura.quarantine").fetchone()[0] == 40_000
    assert len((kura_env / "data" / "support_bot" / "2026-11-01.jsonl").read_text().splitlines()) == 8
    assert not list((kura_env / "home" / "quarantine").glob(".*"))  # no scratch file left
    # Both created the fresh Dagster instance at once: it must still open (it was left with two alembic heads).
    assert _registered(kura_env) == ["support_bot"]


# --------------------------------------------------------------------------------------------------
# Nothing created by mistake (point 5)
# --------------------------------------------------------------------------------------------------


def _registered(kura_env: Path) -> list[str]:
    from kura_dagster.core.settings import Settings
    from kura_dagster.defs.partitions import DATASET_PARTITIONS
    from kura_dagster.launch.runs import kura_instance

    return sorted(kura_instance(Settings.from_env()).get_dynamic_partitions(DATASET_PARTITIONS.name))


def in_process(capsys, *args: str) -> tuple[int, str, str]:
    """The command run in this process (the same `main` as the console script, without a second start-up)."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_typo_names_the_known_datasets_and_creates_nothing(kura_env, capsys):
    env = dict(os.environ)
    for dataset in ("support_bot", "coding_assistant"):
        write_jsonl(kura_env / "data" / dataset / "2026-11-01.jsonl", make_conversations(per_theme=1))
    expected = (
        "unknown dataset 'supportbot'; known: coding_assistant, support_bot; did you mean 'support_bot'?"
    )
    ran = kura("run", "--dataset", "supportbot", cwd=kura_env, env=env)
    assert (ran.returncode, ran.stdout, ran.stderr) == (2, "", f"kura-dagster run: error: {expected}\n")
    for command in (
        ["tree", "--dataset", "supportbot", "--date", "2026-11-01"],
        ["report", "--dataset", "supportbot", "--date", "2026-11-01"],
        ["export", "--dataset", "supportbot", "--date", "2026-11-01", "--out", str(kura_env / "out")],
    ):
        assert in_process(capsys, *command) == (2, "", f"kura-dagster {command[0]}: error: {expected}\n")
    assert sorted(p.name for p in (kura_env / "data").iterdir()) == ["coding_assistant", "support_bot"]
    assert "supportbot" not in _registered(kura_env)
    assert not (kura_env / "out").exists() and not (kura_env / "home" / "kura.duckdb").exists()


def test_a_day_without_data_says_so(kura_env, capsys):
    env = dict(os.environ)
    write_jsonl(kura_env / "data" / "support_bot" / "2026-11-01.jsonl", make_conversations(per_theme=1))
    (kura_env / "data" / "support_bot" / "2026-11-02.jsonl").write_text("\n")  # an empty day file
    said = (
        f"error: no conversations for support_bot on 2026-11-09 (no file "
        f"{kura_env / 'data' / 'support_bot' / '2026-11-09.jsonl'}; days with files: 2026-11-01 .. 2026-11-02)\n"
    )
    ran = kura("run", "--dataset", "support_bot", "--date", "2026-11-09", cwd=kura_env, env=env)
    assert (ran.returncode, ran.stdout, ran.stderr) == (2, "", f"kura-dagster run: {said}")
    for command in (
        ["tree", "--dataset", "support_bot", "--date", "2026-11-09"],
        ["report", "--dataset", "support_bot", "--date", "2026-11-09"],
        ["export", "--dataset", "support_bot", "--date", "2026-11-09", "--out", str(kura_env / "out")],
    ):
        assert in_process(capsys, *command) == (2, "", f"kura-dagster {command[0]}: {said}")
    code, _, err = in_process(capsys, "run", "--dataset", "support_bot", "--date", "2026-11-02")
    assert (
        code == 2
        and "no conversations for support_bot on 2026-11-02" in err
        and "2026-11-02.jsonl is empty" in err
    )
    assert not (kura_env / "out").exists()


def test_an_ingest_where_every_record_is_rejected_registers_nothing(kura_env):
    env = dict(os.environ)
    export = kura_env / "broken.jsonl"
    export.write_text("".join(f"{{broken {i}\n" for i in range(3)))
    done = kura("ingest", str(export), "--dataset", "typo_set", cwd=kura_env, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    quarantine = kura_env / "home" / "quarantine" / "typo_set.jsonl"
    assert done.stderr.splitlines()[-1] == (
        f"kura-dagster ingest: {export}: all 3 records were rejected: nothing landed, "
        f"dataset 'typo_set' not registered; the rejects and their reasons are in "
        f"{quarantine}"
    )
    assert f"{export}: record 1: malformed JSON" in done.stderr
    assert len(quarantine.read_text().splitlines()) == 3  # the rejects are kept, with their reasons
    assert not (kura_env / "data" / "typo_set").exists()
    assert "typo_set" not in _registered(kura_env)
    tree = kura("tree", "--dataset", "typo_set", "--date", "2026-11-01", cwd=kura_env, env=env)
    assert tree.returncode == 2 and "unknown dataset 'typo_set'" in tree.stderr


def test_explicit_columns_win_over_guessed_ones(kura_env):
    """A message table whose chat id column is called `conversation`, named with --columns: it is the id,
    not a messages column (before: every row rejected, exit 0, dataset registered)."""
    env = dict(os.environ)
    export = kura_env / "messages.csv"
    with export.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["conversation", "role", "content", "ts"])
        for chat in ("c1", "c2"):
            writer.writerow(
                [chat, "user", f"my refund for order {chat} never arrived", "2026-11-03T09:00:00Z"]
            )
            writer.writerow([chat, "assistant", "Sorry about that, let me check.", "2026-11-03T09:01:00Z"])
    done = kura(
        "ingest",
        str(export),
        "--dataset",
        "tickets",
        "--columns",
        "chat_id=conversation,created_at=ts",
        cwd=kura_env,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "2 records read, 2 accepted, 0 duplicates merged, 0 quarantined" in done.stdout
    landed = [
        json.loads(line)
        for line in (kura_env / "data" / "tickets" / "2026-11-03.jsonl").read_text().splitlines()
    ]
    assert [(r["chat_id"], len(r["messages"])) for r in landed] == [("c1", 2), ("c2", 2)]


# --------------------------------------------------------------------------------------------------
# Dates that work (point 6)
# --------------------------------------------------------------------------------------------------


def test_an_export_without_timestamps_needs_a_default_date_and_lands_once(kura_env):
    env = dict(os.environ)
    export = kura_env / "openai.jsonl"
    export.write_text(
        "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": f"how do I reset password {i}?"},
                        {"role": "assistant", "content": "Use the reset link."},
                    ]
                }
            )
            + "\n"
            for i in range(3)
        )
    )
    undated = kura("ingest", str(export), "--dataset", "chats", cwd=kura_env, env=env)
    assert undated.returncode == 2
    assert undated.stderr == (
        f"kura-dagster ingest: error: {export}: record 1 has no timestamp (nor has any message "
        f"of it): pass --default-date YYYY-MM-DD, the day its conversations belong to; nothing "
        f"was ingested\n"
    )
    assert not (kura_env / "data" / "chats").exists()

    first = kura(
        "ingest", str(export), "--dataset", "chats", "--default-date", "2026-11-01", cwd=kura_env, env=env
    )
    assert first.returncode == 0, first.stderr
    assert "3 accepted" in first.stdout and "dated 2026-11-01T00:00:00+00:00 (--default-date)" in first.stdout
    again = kura(
        "ingest", str(export), "--dataset", "chats", "--default-date", "2026-11-02", cwd=kura_env, env=env
    )
    assert again.returncode == 0, again.stderr
    assert "0 accepted + 3 duplicates merged + 0 quarantined = 3 records read" in again.stdout
    assert (
        "3 of the duplicates were already landed with the same content on another day, kept there and not "
        "landed again: 2026-11-01 (3)"
    ) in again.stdout
    assert sorted(p.name for p in (kura_env / "data" / "chats").iterdir()) == ["2026-11-01.jsonl"]
    assert len((kura_env / "data" / "chats" / "2026-11-01.jsonl").read_text().splitlines()) == 3


# --------------------------------------------------------------------------------------------------
# Scratch folders removed (point 9)
# --------------------------------------------------------------------------------------------------


def _start_ingest(kura_env: Path, env: dict, export: Path, dataset: str) -> tuple[subprocess.Popen, Path]:
    """An ingest subprocess, returned once its scratch folder exists (so it is stopped mid-ingest)."""
    process = subprocess.Popen(
        [*kura_command(), "ingest", str(export), "--dataset", dataset],
        cwd=kura_env,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signal_handling,  # it is stopped with Ctrl-C
    )
    folder = kura_env / "data" / dataset
    while process.poll() is None:
        scratch = list(folder.glob(".ingest-*")) if folder.is_dir() else []
        if scratch:
            return process, scratch[0]
        time.sleep(0.01)
    raise AssertionError(f"the ingest ended before its scratch folder was seen: {process.communicate()}")


def _big_export(path: Path, count: int = 60_000) -> Path:
    text = "I cannot log in since the update, the reset link never arrives. " * 5
    with path.open("w") as handle:
        for i in range(count):
            handle.write(
                json.dumps(
                    {
                        "chat_id": f"c{i}",
                        "created_at": f"2026-11-0{1 + i % 3}T10:00:00Z",
                        "messages": [
                            {"role": "user", "content": f"{text} {i}"},
                            {"role": "assistant", "content": "Try the link again."},
                        ],
                    }
                )
                + "\n"
            )
    return path


def test_ingest_removes_its_scratch_folder_on_ctrl_c_and_after_a_kill(kura_env):
    env = dict(os.environ)
    export = _big_export(kura_env / "big.jsonl")

    process, scratch = _start_ingest(kura_env, env, export, "support_bot")
    process.send_signal(signal.SIGINT)  # Ctrl-C
    _, err = process.communicate(timeout=600)
    assert (
        process.returncode == 130 and "interrupted; scratch files removed" in err and "Traceback" not in err
    )
    assert (
        not scratch.exists() and not (kura_env / "data" / "support_bot").exists()
    )  # nothing left, not even the folder

    process, stale = _start_ingest(kura_env, env, export, "support_bot")
    process.kill()  # SIGKILL: nothing can clean up
    process.communicate(timeout=600)
    assert stale.exists()
    small = write_jsonl(kura_env / "small.jsonl", make_conversations(per_theme=1))
    done = kura("ingest", str(small), "--dataset", "support_bot", cwd=kura_env, env=env)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (kura_env / "data" / "support_bot").iterdir()) == [
        "2026-11-01.jsonl"
    ]  # stale one gone


# --------------------------------------------------------------------------------------------------
# What a person sees is right (point 9): the sample and the README's figures
# --------------------------------------------------------------------------------------------------

DEMO_FIGURES = (
    "Datasets",
    "Conversations loaded",
    "Summaries",
    "Embeddings",
    "Base clusters",
    "Meta clusters (tree nodes above the leaves)",
    "Root clusters",
    "Projected nodes",
)


def _summary_figures(text: str) -> dict[str, str]:
    """The '• Name: value' lines of a demo summary block that carry a figure of the sample."""
    block = text.split("KURA-DAGSTER DEMO SUMMARY", 1)[1].split("```", 1)[0]
    lines = (line[2:].split(": ", 1) for line in block.splitlines() if line.startswith("• ") and ": " in line)
    return {name: value for name, value in lines if name in DEMO_FIGURES}


def test_the_sample_is_what_the_generator_makes_with_every_slot_filled(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "generate_sample.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    committed = sorted(SAMPLE_DATA.glob("*/*.jsonl"))
    assert [p.relative_to(SAMPLE_DATA) for p in committed] == [
        p.relative_to(tmp_path) for p in sorted(tmp_path.glob("*/*.jsonl"))
    ]
    assert all(p.read_bytes() == (tmp_path / p.relative_to(SAMPLE_DATA)).read_bytes() for p in committed)

    spec = importlib.util.spec_from_file_location("generate_sample", REPO / "scripts" / "generate_sample.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    fillers = [
        generator.Conversation(random.Random(0), dataset, theme, "en", date(2026, 11, 1))
        for dataset, themes in generator.DATASETS.items()
        for theme in themes
    ]
    text = "\n".join(p.read_text(encoding="utf-8") for p in committed)
    names = set(
        re.findall(r"\{([A-Za-z_][A-Za-z_0-9]*)\}", text)
    )  # `${id}` in code is not a slot, `{last4}` was
    unfilled = sorted(name for name in names if any(f.slot(name) != "{" + name + "}" for f in fillers))
    assert unfilled == []


def test_readme_sample_figures_are_what_the_demo_prints(tmp_path):
    """The README's demo summary block against a real `kura-dagster demo` of the committed sample."""
    readme = _summary_figures((REPO / "README.md").read_text(encoding="utf-8"))
    assert set(readme) == set(DEMO_FIGURES)
    env = {
        **os.environ,
        "KURA_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "home" / "dagster"),
        "KURA_DATA_DIR": str(SAMPLE_DATA),
    }
    demo = kura("demo", cwd=tmp_path, env=env)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert _summary_figures(demo.stdout) == readme
