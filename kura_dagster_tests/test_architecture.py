"""The package's import graph, read from the source with `ast` (nothing is imported): no cycle between the
project's modules, and no import against the layers (DESIGN.md §1: cli → launch → definitions → defs → core;
the Kura facade `kura` over core only).

Every import statement counts, those inside functions too: a function-local import only moves a cycle from
import time to call time. `from pkg import name` is an edge to `pkg.name` when that is a module, else to
`pkg`; relative imports are resolved. Importing a submodule also runs its parent packages' `__init__`, but
those are not counted as edges: a package's `__init__` may re-export its own modules.

    python kura_dagster_tests/test_architecture.py     # prints modules, edges and cycles
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "kura_dagster"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

# (importer prefix, imported prefix, why not): a module under the first may not import one under the second.
FORBIDDEN = [
    ("kura_dagster.core", "kura_dagster.defs", "core is plain Python, usable without Dagster"),
    ("kura_dagster.core", "kura_dagster.launch", "core is plain Python, usable without Dagster"),
    ("kura_dagster.core", "kura_dagster.definitions", "core is plain Python, usable without Dagster"),
    ("kura_dagster.core", "kura_dagster.cli", "core is plain Python, usable without Dagster"),
    ("kura_dagster.core", "kura_dagster.kura", "the Kura facade is a layer above core"),
    ("kura_dagster.kura", "kura_dagster.defs", "the Kura facade is plain Python over core, like a notebook"),
    (
        "kura_dagster.kura",
        "kura_dagster.launch",
        "the Kura facade is plain Python over core, like a notebook",
    ),
    ("kura_dagster.kura", "kura_dagster.cli", "the Kura facade is plain Python over core, like a notebook"),
    ("kura_dagster.core.storage", "kura_dagster.core.stages", "storage holds the tables every stage reads"),
    ("kura_dagster.core.ingest", "kura_dagster.core.stages", "ingest lands data before any stage runs"),
    ("kura_dagster.defs", "kura_dagster.launch", "the run driver sits above the definitions it runs"),
    ("kura_dagster.defs", "kura_dagster.definitions", "definitions.py assembles defs, not the other way"),
    ("kura_dagster.defs", "kura_dagster.cli", "the command line sits on top"),
    ("kura_dagster.launch", "kura_dagster.cli", "the command line sits on top"),
]
# The one module allowed to import Dagster's private API (`dagster._...`), pinned by its own test.
DAGSTER_PRIVATE = "kura_dagster.launch.dagster_private"


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Module name → file, for every `.py` file of the package (`pkg/__init__.py` is `pkg`)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str, path: Path) -> Iterator[str]:
    """The names every import statement of the file brings in, function-local ones too: `import a.b` gives
    `a.b`; `from a import b` gives `a.b` (the caller checks whether that is a module, else takes `a`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, path.name == "__init__.py", node)
            yield from (f"{source}.{alias.name}" if alias.name != "*" else source for alias in node.names)


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Project module → the project modules it imports."""
    modules = module_files(root)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for name in imports(module, path):
            target = name if name in modules else name.rpartition(".")[0]
            if target in modules and target != module:
                targets.add(target)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{source} imports {target}: {why}"
        for source, targets in sorted(graph.items())
        for target in sorted(targets)
        for importer, imported, why in FORBIDDEN
        if _under(source, importer) and _under(target, imported)
    ]


def private_dagster_imports(root: Path = ROOT) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, path in module_files(root).items()
        if module != DAGSTER_PRIVATE
        for name in set(imports(module, path))
        if name.startswith("dagster._")
    )


def figures(graph: dict[str, set[str]]) -> str:
    found = cycles(graph)
    sizes = ", ".join(str(len(c)) for c in found) or "none"
    return (
        f"{len(graph)} modules, {sum(len(t) for t in graph.values())} edges, "
        f"{len(found)} cycles (sizes: {sizes})"
    )


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    found = cycles(graph)
    assert not found, figures(graph) + "\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_module_imports_against_the_layers():
    assert layer_violations(import_graph()) == []


def test_only_one_module_imports_dagsters_private_api():
    assert private_dagster_imports() == []


def test_the_graph_sees_function_local_and_relative_imports(tmp_path):
    # The checks above are only as good as the graph: a cycle hidden in a function, or spelled relatively,
    # must still be found.
    package = tmp_path / "kura_dagster"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "a.py").write_text("def f():\n    from . import b\n")
    (package / "sub" / "b.py").write_text("from kura_dagster.sub.a import f\n")
    (package / "c.py").write_text("from kura_dagster.sub import a, b\nimport kura_dagster.sub\n")
    graph = import_graph(package)
    assert graph["kura_dagster.sub.a"] == {"kura_dagster.sub.b"}
    assert graph["kura_dagster.sub.b"] == {"kura_dagster.sub.a"}
    assert graph["kura_dagster.c"] == {"kura_dagster.sub", "kura_dagster.sub.a", "kura_dagster.sub.b"}
    assert cycles(graph) == [["kura_dagster.sub.a", "kura_dagster.sub.b"]]


if __name__ == "__main__":
    graph = import_graph()
    print(figures(graph))
    for component in cycles(graph):
        print("cycle:", " ".join(component))
    for line in layer_violations(graph) + private_dagster_imports():
        print(line)
    sys.exit(0)
