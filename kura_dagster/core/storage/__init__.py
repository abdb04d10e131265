"""Storage: the table contract, the DuckDB store and the export formats."""
