"""Every module, file and name the README and the package's docstrings and comments cite exists: a layout change
that leaves a citation behind fails here, naming the file and line."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# `core.stages.naming`, `kura_dagster.defs.steps.build_assets`, `launch.runs` (backticked, as the docs cite them)
DOTTED = re.compile(r"`((?:kura_dagster\.)?(?:core|defs|launch)(?:\.\w+)+)")
# kura_dagster/core/stages/naming.py, core/storage/tables.py, defs/steps.py (anywhere)
PATH = re.compile(r"(?<![\w/.])((?:kura_dagster/)?(?:core|defs|launch)/[\w/]+\.py)")
# Cited on purpose: where the run driver lived, which an earlier dagster.yaml names (launch/instance.py upgrades it).
FORMER = {"kura_dagster.defs.recovery", "kura_dagster/defs/instance.py", "kura_dagster/defs/recovery.py"}


def _sources() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "kura_dagster").rglob("*.py"))]


@cache
def _modules() -> dict[str, Path]:
    modules = {}
    for path in (REPO / "kura_dagster").rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


@cache
def _top_level_names(module: str) -> frozenset[str]:
    tree = ast.parse(_modules()[module].read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return frozenset(names)


def _resolves(dotted: str) -> bool:
    """A module, or a module and a name defined at its top level (a class's member is not checked)."""
    parts = (dotted if dotted.startswith("kura_dagster.") else f"kura_dagster.{dotted}").split(".")
    for length in range(len(parts), 1, -1):
        module = ".".join(parts[:length])
        if module in _modules():
            rest = parts[length:]
            return not rest or rest[0] in _top_level_names(module)
    return False


def _path_exists(cited: str) -> bool:
    return (REPO / cited).exists() or (REPO / "kura_dagster" / cited).exists()


def stale_citations() -> list[str]:
    stale = []
    for source in _sources():
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
            where = f"{source.relative_to(REPO)}:{number}"
            stale += [
                f"{where}: {name}"
                for name in DOTTED.findall(line)
                if not _resolves(name) and name not in FORMER
            ]
            stale += [
                f"{where}: {path}"
                for path in PATH.findall(line)
                if not _path_exists(path) and path not in FORMER
            ]
    return stale


def test_every_cited_module_file_and_name_exists():
    assert stale_citations() == []


def test_a_stale_citation_is_found():
    assert _resolves("core.stages.naming") and _resolves("core.ingest.landing.LandingWriter")
    assert not _resolves("core.naming") and not _resolves("core.privacy.scrub")
    assert _path_exists("kura_dagster/core/stages/naming.py") and not _path_exists(
        "kura_dagster/core/naming.py"
    )
