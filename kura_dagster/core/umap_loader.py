"""umap-learn, imported so that its numba functions compile once per machine instead of once per process.

UMAP's functions are numba-jitted without `cache=True`, so every new process (each Dagster run, each CLI
command) compiles them again: about 10 s of a short run. Turning on numba's on-disk cache for the module
level functions of umap before their first call keeps the compiled code in NUMBA_CACHE_DIR (set under
KURA_HOME by `Settings.prepare_home`); later processes load it in well under a second. Functions that
numba cannot cache (closures built inside UMAP's calls) still compile, which is numba's own limit.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType

_lock = threading.Lock()
_enabled = False
UMAP_MODULES = ("umap.umap_", "umap.layouts", "umap.utils", "umap.spectral", "umap.distances", "umap.sparse")


def import_umap() -> ModuleType:
    """The `umap` package, with numba's disk cache turned on for its jitted functions (once per process)."""
    global _enabled
    with _lock:
        if not _enabled:
            _enable_cache()
            _enabled = True
    import umap

    return umap


def _enable_cache() -> None:
    import importlib

    import numba
    from numba.core.dispatcher import Dispatcher

    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    if cache_dir:
        numba.config.CACHE_DIR = cache_dir  # numba read the variable at import; it may have been set since
    for name in UMAP_MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            # Only functions that are not compiled yet and have no cache: enabling a cache changes nothing
            # about what the function computes, only where its machine code is kept.
            if isinstance(value, Dispatcher) and not value.overloads and type(value._cache).__name__ == "NullCache":
                value.enable_caching()
