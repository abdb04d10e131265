"""Privacy: scrubbing, aggregation thresholds and prompt-injection guards."""
