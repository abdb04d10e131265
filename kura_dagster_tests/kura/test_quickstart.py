"""Kura's README Quick Start (`shared/kura/quickstart.py`, kept verbatim in `quickstart.py` here) with `kura`
replaced by `kura_dagster.kura` in its imports, run as a script the way a Kura user runs it: against the
loopback OpenAI-compatible server, and with local models offline. The Hugging Face name points at a
`save_to_disk` folder made here (no hub)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kura_dagster_tests.conftest import REPO, make_conversations
from kura_dagster_tests.fake_openai import FakeOpenAIServer

QUICKSTART = Path(__file__).with_name("quickstart.py")
HUB_NAME = "ivanleomk/synthetic-gemini-conversations"
FILES = ("summaries.jsonl", "clusters.jsonl", "meta_clusters.jsonl", "dimensionality.jsonl")


def with_imports_changed(source: str) -> str:
    """Only the imports: `from kura ...` / `from kura.x ...` become `from kura_dagster.kura ...`."""
    return re.sub(r"^from kura(?=[ .])", "from kura_dagster.kura", source, flags=re.M)


def local_models(source: str) -> str:
    """The documented offline variant: `model="local"` on the three LLM models and `LocalEmbeddingModel()`."""
    replaced = source
    for old, new in (
        ("SummaryModel(console=console)", 'SummaryModel(model="local", console=console)'),
        ("ClusterModel(\n", 'ClusterModel(\n        model="local",\n'),
        ("OpenAIEmbeddingModel(sleep_seconds=1)", "LocalEmbeddingModel()"),
        ("import OpenAIEmbeddingModel", "import LocalEmbeddingModel"),
        ("MetaClusterModel(console=console)", 'MetaClusterModel(model="local", console=console)'),
    ):
        assert old in replaced, old
        replaced = replaced.replace(old, new)
    return replaced


def hf_folder(path: Path, per_theme: int) -> Path:
    """The hub dataset's columns (chat_id, created_at, messages with their own created_at) in a local folder;
    each opening made distinct so that no two conversations share one cached answer."""
    import datasets

    rows = []
    for i, conversation in enumerate(make_conversations(per_theme=per_theme)):
        record = conversation.model_dump(mode="json")
        rows.append(
            {
                "chat_id": record["chat_id"],
                "created_at": record["created_at"],
                "messages": [
                    {
                        "role": m["role"],
                        "content": f"{m['content']} (case {i})" if j == 0 else m["content"],
                        "created_at": record["created_at"],
                    }
                    for j, m in enumerate(record["messages"])
                ],
            }
        )
    datasets.Dataset.from_list(rows).save_to_disk(str(path))
    return path


def run_script(source: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "quickstart.py"
    script.write_text(source, encoding="utf-8")
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KURA_", "OPENAI_", "AZURE_"))},
        "PYTHONPATH": str(REPO),
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def tree_printed(stdout: str) -> str:
    """What the script prints from the tree on (the console's progress lines before it carry times)."""
    return stdout[stdout.index("=" * 80) :]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    # 30 per theme: about 12 base clusters, more than MetaClusterModel's 10 roots, so the hierarchy is built.
    return hf_folder(tmp_path_factory.mktemp("hf") / "conversations", per_theme=30)


def test_the_quickstart_runs_against_the_loopback_server_and_a_second_run_makes_no_call(
    tmp_path, dataset, real_kura
):
    source = with_imports_changed(QUICKSTART.read_text(encoding="utf-8")).replace(HUB_NAME, str(dataset))
    assert "import kura\n" not in source and "from kura " not in source and "from kura." not in source
    env = {"KURA_HOME": str(tmp_path / "home"), "OPENAI_API_KEY": "sk-test-quickstart"}
    with FakeOpenAIServer(embedding_mode="bow") as server:
        env["OPENAI_BASE_URL"] = server.base_url
        first = run_script(source, tmp_path / "run", env)
        assert first.returncode == 0, first.stderr[-3000:]
        assert "Processed 120 conversations" in first.stdout
        assert "Checkpoints saved to: checkpoints" in first.stdout
        calls = dict(server.calls)
        assert calls["chat"] >= 120 and calls["embeddings"] >= 1  # one summary call per conversation at least
        checkpoints = tmp_path / "run" / "checkpoints"
        assert sorted(p.name for p in checkpoints.glob("*.jsonl")) == sorted(FILES)
        tree = [json.loads(line) for line in (checkpoints / "meta_clusters.jsonl").read_text().splitlines()]
        base = (checkpoints / "clusters.jsonl").read_text().splitlines()
        assert len(base) > 10 and len(tree) > len(base)  # Clio's parents above more than 10 base clusters
        assert sum(node["count"] for node in tree if node["parent_id"] is None) == 120

        server.reset_counters()
        second = run_script(source, tmp_path / "run", env)
        assert second.returncode == 0, second.stderr[-3000:]
        assert sum(server.calls.values()) == 0  # every stage read back from its checkpoint
        assert tree_printed(second.stdout) == tree_printed(first.stdout)
    report = real_kura(checkpoints)
    assert report["kura"] == "0.5.4"
    assert {Path(p).name: f["rejected"] for p, f in report["files"].items()} == dict.fromkeys(FILES, 0)
    assert {Path(p).name: n for p, n in report["manager"].items()} == {
        Path(p).name: f["lines"] for p, f in report["files"].items()
    }


def test_the_quickstart_with_local_models_runs_offline(tmp_path, dataset):
    source = local_models(with_imports_changed(QUICKSTART.read_text(encoding="utf-8")))
    source = source.replace(HUB_NAME, str(dataset))
    # No endpoint at all: a call would fail to connect.
    env = {"KURA_HOME": str(tmp_path / "home"), "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    first = run_script(source, tmp_path / "run", env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Processed 120 conversations" in first.stdout
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("*.jsonl")) == sorted(FILES)
    assert not (tmp_path / "home" / "llm_cache.duckdb").exists()  # no hosted client was ever made
    second = run_script(source, tmp_path / "run", env)
    assert second.returncode == 0 and tree_printed(second.stdout) == tree_printed(first.stdout)
