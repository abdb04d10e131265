"""kura-dagster: Clio-style analysis of chat conversations as partitioned Dagster assets in DuckDB."""

__version__ = "0.1.0"
