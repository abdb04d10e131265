"""Tests of the benchmarks' own logic (bench/ is scripts, not a package: `load_bench` imports one)."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load_bench(name: str, file: str | None = None) -> ModuleType:
    """bench/`file` (default `name`.py) as module `name`, with bench/ on the path for its own imports."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / (file or f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module
