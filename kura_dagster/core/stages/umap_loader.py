"""umap-learn, imported so that its numba functions compile once per machine instead of once per process.

UMAP's functions are numba-jitted without `cache=True`, so every new process (each Dagster run, each CLI
command) compiles them again: about 10 s of a short run. Turning on numba's on-disk cache for the module
level functions of umap before their first call keeps the compiled code in NUMBA_CACHE_DIR (set under
KURA_HOME by `Settings.prepare_home`); later processes load it in well under a second. Functions that
numba cannot cache (closures built inside UMAP's calls) still compile, which is numba's own limit.

It also makes UMAP's spectral initialisation deterministic (`_seed_arpack_restarts`): a seeded UMAP was not.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType
from typing import Any

_lock = threading.Lock()
_enabled = False
UMAP_MODULES = ("umap.umap_", "umap.layouts", "umap.utils", "umap.spectral", "umap.distances", "umap.sparse")
# Seed of the restart vectors ARPACK draws inside UMAP's spectral initialisation. Any fixed number makes
# them reproducible; UMAP's own `random_state` does not reach that call.
ARPACK_RESTART_SEED = 0


def import_umap() -> ModuleType:
    """The `umap` package, with numba's disk cache turned on for its jitted functions (once per process)."""
    global _enabled
    with _lock:
        if not _enabled:
            _enable_cache()
            _seed_arpack_restarts()
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
            if (
                isinstance(value, Dispatcher)
                and not value.overloads
                and type(value._cache).__name__ == "NullCache"
            ):
                value.enable_caching()


class _ModuleView(ModuleType):
    """A module seen with a few attributes replaced; every other name is the module's own."""

    def __init__(self, module: ModuleType, **replaced: Any) -> None:
        super().__init__(module.__name__)
        self.__dict__.update(replaced)
        self._module = module

    def __getattr__(self, name: str) -> Any:  # only reached for names not replaced above
        return getattr(self._module, name)


def _seed_arpack_restarts() -> None:
    """Give the ARPACK eigensolver that UMAP's spectral initialisation calls a seeded generator.

    Why: UMAP lays out each connected component of its neighbour graph from `eigsh(L, v0=ones)`. A component
    of near-identical conversations (the same greeting, the same pasted error) is a regular graph, whose
    Laplacian has all-ones as an eigenvector and few distinct eigenvalues, so the Lanczos iteration breaks
    down and ARPACK asks for a restart vector, which scipy (1.17) draws from `np.random.default_rng(None)`:
    fresh OS entropy on every call, whatever UMAP's `random_state`. Measured on a 20,000-conversation day
    (bench/generate.py): the neighbour graph was bit-identical between two fits in one process, but 10 of
    its 151 component layouts (sizes 20–27) differed, and with them the 10-d manifold and 81 of 667
    clusters; `eigsh` on one such 23-node component returned other eigenvectors on each of 4 calls. With
    `rng` seeded: 4 fits in one process gave one manifold, two fresh runs of that day (other PYTHONHASHSEED)
    identical tables, at the same speed (UMAP 36 and 46 s seeded, 44 and 38 s not, interleaved).
    lmcinnes/umap#1290 describes the same cause (unmerged). Older scipy drew restart vectors inside
    ARPACK's Fortran code, out of any caller's reach (scipy#22748 moved them out): hence the pin.

    Only `umap.spectral`'s view of scipy changes, not scipy for the rest of the process.
    """
    import scipy
    import scipy.sparse
    import scipy.sparse.linalg
    import umap.spectral

    eigsh = scipy.sparse.linalg.eigsh

    def seeded_eigsh(*args: Any, **kwargs: Any) -> Any:
        # An int: each call gets a fresh generator, so the same matrix always gets the same restarts.
        kwargs.setdefault("rng", ARPACK_RESTART_SEED)
        return eigsh(*args, **kwargs)

    linalg = _ModuleView(scipy.sparse.linalg, eigsh=seeded_eigsh)
    umap.spectral.scipy = _ModuleView(scipy, sparse=_ModuleView(scipy.sparse, linalg=linalg))
