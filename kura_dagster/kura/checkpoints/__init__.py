"""Kura's `kura.checkpoints`: the JSONL checkpoint manager (Kura's Parquet, Hugging Face and multi-backend
managers are not provided: the pipeline's own store is DuckDB, `kura-dagster export --format parquet`)."""

from kura_dagster.kura.checkpoints.jsonl import BaseCheckpointManager, JSONLCheckpointManager

__all__ = ["BaseCheckpointManager", "JSONLCheckpointManager"]
