"""Kura's `kura.checkpoint.CheckpointManager`, as the Quick Start uses it: the JSONL checkpoint manager.

Kura 0.5.4's class of this name writes files without an extension, which its web UI does not look for;
this one writes `summaries.jsonl`, `clusters.jsonl`, ... like `JSONLCheckpointManager`, the files Kura's UI
and `JSONLCheckpointManager` load.
"""

from kura_dagster.kura.checkpoints.jsonl import JSONLCheckpointManager


class CheckpointManager(JSONLCheckpointManager):
    """`CheckpointManager(checkpoint_dir, enabled=True)`."""


__all__ = ["CheckpointManager"]
