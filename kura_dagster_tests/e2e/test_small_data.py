"""Small data stays useful (issue 17.7): on a 36-conversation day the privacy thresholds hide most groups; the
tree, the CLI and the explorer say how many conversations are hidden and which KURA_* setting would show
them, fold the hidden groups into one line, and the advised setting really shows them when the day runs again.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import kura_dagster

DAY = "2026-11-01"
SAMPLE = Path(kura_dagster.__file__).resolve().parents[1] / "data" / "support_bot" / f"{DAY}.jsonl"
HIDDEN_LINE = re.compile(
    r"Hidden: (\d+) of 36 conversations are in (\d+) groups? below the privacy thresholds and are not "
    r"described; KURA_MIN_CLUSTER_SIZE=(\d+) \(now 10\) would show them \(then "
    rf"`kura-dagster run --dataset small --date {DAY}`\)"
)


def kura(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "kura-dagster"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "kura_dagster.cli"]
    return subprocess.run(command + list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    """36 conversations of the sample's support bot, ingested and run with the default thresholds."""
    root = tmp_path_factory.mktemp("small")
    env = {
        **os.environ,
        "KURA_HOME": str(root / "home"),
        "KURA_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "home" / "dagster"),
    }
    for name in ("KURA_MIN_CLUSTER_SIZE", "KURA_MIN_CLUSTER_USERS", "KURA_LLM", "KURA_EMBEDDINGS"):
        env.pop(name, None)
    export = root / "small.jsonl"
    export.write_text("".join(SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)[:36]))
    ingested = kura("ingest", str(export), "--dataset", "small", cwd=root, env=env)
    assert ingested.returncode == 0, ingested.stderr
    ran = kura("run", "--dataset", "small", "--date", DAY, cwd=root, env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return root, env


def test_the_tree_says_how_many_are_hidden_and_which_setting_shows_them(small):
    root, env = small
    for style in ("basic", "enhanced", "rich"):
        tree = kura("tree", "--dataset", "small", "--date", DAY, "--style", style, cwd=root, env=env)
        assert tree.returncode == 0, tree.stderr
        found = HIDDEN_LINE.search(tree.stdout)
        assert found, tree.stdout
        hidden, groups = int(found.group(1)), int(found.group(2))
        assert 0 < hidden < 36 and groups >= 2
        # the hidden groups are one line of the tree, with their conversations counted
        assert tree.stdout.count("Below threshold") == 1
        assert f"Below threshold: {groups} small groups" in tree.stdout
    basic = kura("tree", "--dataset", "small", "--date", DAY, cwd=root, env=env).stdout
    assert f"Below threshold: {groups} small groups ({hidden} conversations)" in basic


def test_the_explorer_says_it_in_one_line_and_lists_no_hidden_group(small):
    root, env = small
    reported = kura("report", "--dataset", "small", "--date", DAY, cwd=root, env=env)
    assert reported.returncode == 0, reported.stderr
    page = (root / "home" / "reports" / "small" / f"{DAY}.html").read_text(encoding="utf-8")
    note = re.search(r'<div id="privacy-note"[^>]*>([^<]*)</div>', page).group(1)
    tree = kura("tree", "--dataset", "small", "--date", DAY, cwd=root, env=env).stdout
    expected = HIDDEN_LINE.search(tree).group(0).removeprefix("Hidden: ")
    assert note.startswith(expected) and note.endswith("lower it only if groups that small may be shown.")
    data = json.loads(re.search(r'<script type="application/json"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert not [name for name in data["clusters"]["name"] if "threshold" in name.lower()]
    assert data["totals"]["hidden"] == int(HIDDEN_LINE.search(tree).group(1))


def test_the_advised_setting_shows_every_hidden_group_once_the_day_runs_again(small):
    root, env = small
    tree = kura("tree", "--dataset", "small", "--date", DAY, cwd=root, env=env).stdout
    advised = HIDDEN_LINE.search(tree).group(3)
    lowered = {**env, "KURA_MIN_CLUSTER_SIZE": advised}
    before_rerun = kura("tree", "--dataset", "small", "--date", DAY, cwd=root, env=lowered).stdout
    assert "the thresholds set now would show them once the day runs again" in before_rerun
    ran = kura("run", "--dataset", "small", "--date", DAY, cwd=root, env=lowered)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    after = kura("tree", "--dataset", "small", "--date", DAY, cwd=root, env=lowered).stdout
    assert "Below threshold" not in after and "Hidden:" not in after, after
    assert "Clusters (36 conversations)" in after
