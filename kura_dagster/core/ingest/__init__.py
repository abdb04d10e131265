"""Ingest: records, connectors, the landing zone and the quarantine (what `kura-dagster ingest` runs)."""
