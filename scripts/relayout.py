"""Bring code written for the flat `core/` (before issue 15) to the layout by role: module paths in imports,
citations and strings, and files that a merge brought back to a former place.

    python scripts/relayout.py            # every tracked .py file and the README
    python scripts/relayout.py FILE ...   # only these

For merging branches made before the move; once none is left, this script can go. What it cannot do is
the API change of the Dagster layer: `PIPELINE_ASSETS`, `PIPELINE_CHECKS`, `EXPLORER_ASSETS` and the
module-level partitions are built from settings now (`build_pipeline_assets(settings)`, ...).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# Former module → its place now (a former package moves with its submodules).
MOVES = {
    "kura_dagster.core.loaders": "kura_dagster.core.ingest.records",
    "kura_dagster.core.connectors": "kura_dagster.core.ingest.connectors",
    "kura_dagster.core.landing": "kura_dagster.core.ingest.landing",
    "kura_dagster.core.quarantine": "kura_dagster.core.ingest.quarantine",
    "kura_dagster.core.ingest": "kura_dagster.core.ingest.driver",
    "kura_dagster.core.summarise": "kura_dagster.core.stages.summaries",
    "kura_dagster.core.embed": "kura_dagster.core.stages.embeddings",
    "kura_dagster.core.cluster": "kura_dagster.core.stages.base_clusters",
    "kura_dagster.core.meta_cluster": "kura_dagster.core.stages.meta_clusters",
    "kura_dagster.core.project": "kura_dagster.core.stages.projections",
    "kura_dagster.core.trends": "kura_dagster.core.stages.topic_trends",
    "kura_dagster.core.naming": "kura_dagster.core.stages.naming",
    "kura_dagster.core.gazetteer": "kura_dagster.core.stages.gazetteer",
    "kura_dagster.core.features": "kura_dagster.core.stages.features",
    "kura_dagster.core.umap_loader": "kura_dagster.core.stages.umap_loader",
    "kura_dagster.core.privacy": "kura_dagster.core.privacy.scrubbing",
    "kura_dagster.core.thresholds": "kura_dagster.core.privacy.thresholds",
    "kura_dagster.core.injection": "kura_dagster.core.privacy.injection",
    "kura_dagster.core.tables": "kura_dagster.core.storage.tables",
    "kura_dagster.core.store": "kura_dagster.core.storage.store",
    "kura_dagster.core.export": "kura_dagster.core.storage.export",
    "kura_dagster.core.visualise": "kura_dagster.core.views.tree_view",
    "kura_dagster.core.map_image": "kura_dagster.core.views.map_image",
    "kura_dagster.core.report": "kura_dagster.core.views.explorer",
    "kura_dagster.defs.runs": "kura_dagster.launch.runs",
    "kura_dagster.defs.backfills": "kura_dagster.launch.backfills",
    "kura_dagster.defs.instance": "kura_dagster.launch.instance",
    "kura_dagster.defs.recovery": "kura_dagster.launch.recovery",
}
# Files that name former modules on purpose (an earlier dagster.yaml, the tests of this layout and of its rules).
CITE_FORMER_NAMES = {
    "scripts/relayout.py",
    "kura_dagster/launch/instance.py",
    "kura_dagster_tests/launch/test_recovery.py",
    "kura_dagster_tests/test_architecture.py",
    "kura_dagster_tests/test_references.py",
}
# Former modules whose name is now a package: a name already inside the package is left alone.
PACKAGES_NOW = {"kura_dagster.core.ingest", "kura_dagster.core.privacy"}


def _short(dotted: str) -> str:
    return dotted.removeprefix("kura_dagster.")


def _rename(old: str, new: str, text: str) -> str:
    """`old` → `new` as a dotted name (full, or short as `core.x` in citations) and as a path."""
    for before, after, sep in (
        (old, new, "."),
        (_short(old), _short(new), "."),
        (old.replace(".", "/"), new.replace(".", "/"), "/"),
        (_short(old).replace(".", "/"), _short(new).replace(".", "/"), "/"),
    ):
        keep = ""
        if (
            old in PACKAGES_NOW
        ):  # its name is the package now: `x.records`, `x/records.py`, `from x import ...` stay
            keep = "(?!" + re.escape(sep) + "(?:" + "|".join(_submodules(old)) + r")\b)(?!\s+import\b)"
        text = re.sub(r"(?<![\w./])" + re.escape(before) + keep + r"(?![\w])", after, text)
    return text


def _submodules(package: str) -> list[str]:
    folder = Path(package.replace(".", "/"))
    return sorted(
        path.stem if path.is_file() else path.name
        for path in folder.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()
    )


FROM_PACKAGE = re.compile(r"^(\s*from )(kura_dagster\.(?:core|defs)) import (\w+)(\s+as \w+)?", re.MULTILINE)
# `from kura_dagster.core.ingest import ingest`: the former module's names come from its new place.
FROM_PACKAGE_NOW = re.compile(
    r"^(\s*from )(kura_dagster\.core\.(?:ingest|privacy)) import (?!\()([\w ,]+)$", re.MULTILINE
)


def rewrite(text: str) -> str:
    def from_package(match: re.Match) -> str:
        former = f"{match.group(2)}.{match.group(3)}"
        if former not in MOVES:
            return match.group(0)
        parent, _, leaf = MOVES[former].rpartition(".")
        alias = match.group(4) or (f" as {match.group(3)}" if leaf != match.group(3) else "")
        return f"{match.group(1)}{parent} import {leaf}{alias}"

    def from_package_now(match: re.Match) -> str:
        names = [name.split(" as ")[0].strip() for name in match.group(3).split(",")]
        if all(name in _submodules(match.group(2)) for name in names):
            return match.group(0)
        return f"{match.group(1)}{MOVES[match.group(2)]} import {match.group(3)}"

    text = FROM_PACKAGE.sub(from_package, text)
    text = FROM_PACKAGE_NOW.sub(from_package_now, text)
    for old in sorted(MOVES, key=len, reverse=True):
        text = _rename(old, MOVES[old], text)
    return text


def move_back_files() -> None:
    """`git mv` a file that sits at a former place (a merge brought it there) to its place now."""
    for old, new in MOVES.items():
        path = Path(old.replace(".", "/") + ".py")
        if path.is_file():
            target = Path(new.replace(".", "/") + ".py")
            target.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["git", "mv", str(path), str(target)], check=True)
            print(f"moved {path} -> {target}")


def main(argv: list[str]) -> int:
    move_back_files()
    files = argv or [
        f
        for f in subprocess.run(
            ["git", "ls-files", "*.py", "README.md"], capture_output=True, text=True, check=True
        ).stdout.split()
        if f not in CITE_FORMER_NAMES
    ]
    for name in files:
        path = Path(name)
        text = path.read_text(encoding="utf-8")
        new = rewrite(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
