"""Jobs: the whole pipeline for one (dataset, date) partition."""

from __future__ import annotations

from dagster import AssetSelection, MultiPartitionsDefinition, define_asset_job

from kura_dagster.defs.names import GROUP, PIPELINE_JOB_NAME


def build_pipeline_job(partitions_def: MultiPartitionsDefinition):
    """The job over the pipeline's asset group (Dagster resolves it against the assets of the definitions)."""
    return define_asset_job(
        PIPELINE_JOB_NAME,
        selection=AssetSelection.groups(GROUP),
        partitions_def=partitions_def,
        description="Materialise every stage, conversations through projections, for one dataset and day.",
    )
