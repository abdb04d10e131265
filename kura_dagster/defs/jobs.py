"""Jobs: the whole pipeline for one (dataset, date) partition."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from kura_dagster.defs.partitions import KURA_PARTITIONS

PIPELINE_JOB_NAME = "kura_pipeline"

kura_pipeline = define_asset_job(
    PIPELINE_JOB_NAME,
    selection=AssetSelection.groups("kura"),
    partitions_def=KURA_PARTITIONS,
    description="Materialise every stage, conversations through projections, for one dataset and day.",
)
