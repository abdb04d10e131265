"""Kura's `JSONLCheckpointManager`: one `<name>.jsonl` file per stage, one Kura record per line.

Lines are written in Kura 0.5.4's shapes (`core.storage.kura_format`), so Kura's own checkpoint managers
and web UI load the folder; reading maps them back to the pipeline's types. A file is written whole and
then moved into place, so an interrupted run never leaves a half checkpoint that the next run would take
for a finished stage.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, TypeVar

from kura_dagster.core.storage import kura_format

T = TypeVar("T")
logger = logging.getLogger(__name__)


class BaseCheckpointManager:
    """Kura's checkpoint interface: `load_checkpoint(name, model_class)`, `save_checkpoint(name, items)`."""

    def __init__(self, checkpoint_dir: str | os.PathLike, *, enabled: bool = True) -> None:
        self.checkpoint_dir = Path(checkpoint_dir)
        self.enabled = enabled
        if self.enabled:
            self.setup_checkpoint_dir()

    def setup_checkpoint_dir(self) -> None:
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)

    def get_checkpoint_path(self, filename: str) -> Path:
        return self.checkpoint_dir / filename

    def is_enabled(self) -> bool:
        return self.enabled

    def __repr__(self) -> str:
        return f"{type(self).__name__}(checkpoint_dir='{self.checkpoint_dir}', enabled={self.enabled})"


class JSONLCheckpointManager(BaseCheckpointManager):
    def _path(self, filename: str) -> Path:
        name = filename if filename.endswith(".jsonl") else f"{filename}.jsonl"
        return self.get_checkpoint_path(name)

    def load_checkpoint(self, filename: str, model_class: type[T], **kwargs: Any) -> list[T] | None:
        """The items of `<filename>.jsonl`, or None when checkpointing is off or the file is missing or empty."""
        if not self.enabled:
            return None
        path = self._path(filename)
        if not path.exists():
            return None
        with path.open(encoding="utf-8") as lines:
            items = [kura_format.from_record(json.loads(line), model_class) for line in lines if line.strip()]
        logger.debug("Loaded %d items from checkpoint %s", len(items), path)
        return items or None

    def save_checkpoint(self, filename: str, data: list[Any], **kwargs: Any) -> None:
        if not self.enabled:
            return
        path = self._path(filename)
        scratch = path.with_name(f".{path.name}.partial")
        with scratch.open("w", encoding="utf-8") as out:
            for item in data:
                out.write(json.dumps(kura_format.record_of(item), ensure_ascii=False, default=str) + "\n")
        os.replace(scratch, path)
        logger.debug("Saved checkpoint %s with %d items", path, len(data))

    def list_checkpoints(self) -> list[str]:
        if not self.enabled or not self.checkpoint_dir.exists():
            return []
        return sorted(p.name for p in self.checkpoint_dir.iterdir() if p.is_file() and p.suffix == ".jsonl")

    def delete_checkpoint(self, filename: str) -> bool:
        if not self.enabled:
            return False
        path = self._path(filename)
        if path.exists():
            path.unlink()
            return True
        return False
