"""Names the definitions, the instance config and the command line share."""

# The pipeline's asset group: the six stages, taxonomy (+ topic_lineage), topic_assignments, topic_trends and
# report (what a backfill materialises).
GROUP = "kura"
# Every asset writes the one DuckDB file: they share this pool, which the instance limits to one step at a time.
POOL = "kura_duckdb"
PIPELINE_JOB_NAME = "kura_pipeline"
