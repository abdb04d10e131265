"""What the command line needs to drive Dagster: the instance, runs and backfills."""
