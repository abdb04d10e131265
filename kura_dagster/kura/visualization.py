"""Kura's `kura.visualization` (and `kura.v1.visualization`): the topic tree in the terminal, in Kura's three
styles, drawn by `core.views.tree_view` (names are printed terminal-safe)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kura_dagster.core.views.tree_view import STYLES, render_tree
from kura_dagster.kura.types import Cluster


def _clusters(clusters: Sequence[Cluster] | None, checkpoint_path: str | Path | None) -> list[Cluster]:
    if clusters is not None:
        return list(clusters)
    if checkpoint_path is None:
        raise ValueError("Either clusters or checkpoint_path must be provided")
    from kura_dagster.kura.checkpoints.jsonl import JSONLCheckpointManager

    path = Path(checkpoint_path)
    return JSONLCheckpointManager(path.parent).load_checkpoint(path.name, Cluster) or []


def _show(clusters: Sequence[Cluster], style: str, console: Any = None) -> None:
    text = render_tree(list(clusters), style)
    if console is not None:
        console.print(text, end="", markup=False, highlight=False)
    else:
        print(text, end="")


def visualise_clusters(
    clusters: Sequence[Cluster] | None = None, *, checkpoint_path: str | Path | None = None
) -> None:
    _show(_clusters(clusters, checkpoint_path), "basic")


def visualise_clusters_enhanced(
    clusters: Sequence[Cluster] | None = None, *, checkpoint_path: str | Path | None = None
) -> None:
    _show(_clusters(clusters, checkpoint_path), "enhanced")


def visualise_clusters_rich(
    clusters: Sequence[Cluster] | None = None,
    *,
    checkpoint_path: str | Path | None = None,
    console: Any = None,
) -> None:
    _show(_clusters(clusters, checkpoint_path), "rich", console)


def visualise_from_checkpoint_manager(
    checkpoint_manager: Any, meta_cluster_model: Any = None, *, style: str = "basic", console: Any = None
) -> None:
    name = getattr(meta_cluster_model, "checkpoint_filename", "meta_clusters")
    visualise_pipeline_results(
        checkpoint_manager.load_checkpoint(name, Cluster) or [], style=style, console=console
    )


def visualise_pipeline_results(
    clusters: Sequence[Cluster], *, style: str = "enhanced", console: Any = None
) -> None:
    """Kura's `visualise_pipeline_results(clusters, style="basic" | "enhanced" | "rich")`."""
    if style not in STYLES:
        raise ValueError(f"Invalid style '{style}'. Must be one of: basic, enhanced, rich")
    _show(clusters, style, console if style == "rich" else None)


__all__ = [
    "visualise_clusters",
    "visualise_clusters_enhanced",
    "visualise_clusters_rich",
    "visualise_from_checkpoint_manager",
    "visualise_pipeline_results",
]
