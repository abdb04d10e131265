"""The Dagster layer: partitions, assets, resources, the DuckDB IO manager and jobs. No algorithm lives here."""
