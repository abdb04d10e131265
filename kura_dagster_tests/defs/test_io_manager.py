"""The IO manager's memory release between steps: once per step, and the long-lived objects frozen once."""

import gc

from kura_dagster.defs import io_manager


def test_memory_is_released_once_per_step_and_always_outside_a_run(monkeypatch):
    collections = []
    monkeypatch.setattr(io_manager.gc, "collect", lambda *args: collections.append(args) or 0)
    monkeypatch.setattr(io_manager, "_released_for", None)
    for step in [
        "run/embeddings",
        "run/meta_clusters",
        "run/meta_clusters",
        "run/meta_clusters",
        "run/projections",
    ]:
        io_manager.release_freed_memory(step)
    assert len(collections) == 3  # meta_clusters' second and third inputs find nothing new to free
    io_manager.release_freed_memory()
    io_manager.release_freed_memory()
    assert len(collections) == 5  # no step known (a hand-built context): every time


def test_objects_alive_at_the_first_release_are_frozen_once(monkeypatch):
    freezes = []
    monkeypatch.setattr(io_manager.gc, "freeze", lambda: freezes.append(1))
    monkeypatch.setattr(io_manager, "_frozen", False)
    io_manager.release_freed_memory("run/a")
    io_manager.release_freed_memory("run/b")
    assert freezes == [1] and io_manager._frozen
    assert gc.isenabled()  # the collector still runs for everything allocated since
