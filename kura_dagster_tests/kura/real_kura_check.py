"""Run by the real kura==0.5.4 (in its own environment, `make kura-venv`): load every Kura checkpoint file of
the folders given, line by line, with Kura's own types and its `JSONLCheckpointManager`, and print one JSON
object with the counts: {"kura": version, "files": {path: {"lines", "rejected", "errors"}}, "manager": ...}.

    .venv-kura/bin/python real_kura_check.py DIR [DIR ...]

No import of kura_dagster: this is what a Kura user's own code sees.
"""

import json
import sys
from importlib.metadata import version
from pathlib import Path

from kura.checkpoints import JSONLCheckpointManager
from kura.types import Cluster, Conversation, ConversationSummary, ProjectedCluster

TYPES = {
    "conversations": Conversation,
    "summaries": ConversationSummary,
    "clusters": Cluster,
    "meta_clusters": Cluster,
    "dimensionality": ProjectedCluster,
}


def check(folder: Path) -> dict:
    files, managers = {}, {}
    manager = JSONLCheckpointManager(str(folder))
    for name, model in TYPES.items():
        path = folder / f"{name}.jsonl"
        if not path.exists():
            continue
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        errors = []
        for number, line in enumerate(lines, 1):
            try:
                model.model_validate_json(line)
            except Exception as error:  # a rejected line, with Kura's reason
                errors.append(f"line {number}: {str(error).splitlines()[0]}")
        files[str(path)] = {"lines": len(lines), "rejected": len(errors), "errors": errors[:5]}
        try:
            loaded = manager.load_checkpoint(name, model)
            managers[str(path)] = len(loaded or [])
        except Exception as error:
            managers[str(path)] = f"failed: {str(error).splitlines()[0]}"
    return {"files": files, "manager": managers}


if __name__ == "__main__":
    report = {"kura": version("kura"), "files": {}, "manager": {}}
    for folder in sys.argv[1:]:
        found = check(Path(folder))
        report["files"].update(found["files"])
        report["manager"].update(found["manager"])
    print(json.dumps(report))
