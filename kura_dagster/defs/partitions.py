"""Every asset is partitioned by dataset (registered at run time) × day."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition, DynamicPartitionsDefinition, MultiPartitionsDefinition

from kura_dagster.core.settings import Settings

DATASET_PARTITIONS = DynamicPartitionsDefinition(name="dataset")
# The first day partitions can address; KURA_START_DATE moves it for older histories.
DATE_PARTITIONS = DailyPartitionsDefinition(start_date=Settings.from_env().start_date)
KURA_PARTITIONS = MultiPartitionsDefinition({"dataset": DATASET_PARTITIONS, "date": DATE_PARTITIONS})


def partition_key(dataset: str, date: str) -> str:
    """The multi-partition key Dagster uses for (dataset, date): dimensions in name order, joined by '|'."""
    return f"{dataset}|{date}"
