"""Every asset is partitioned by dataset (registered at run time) × day."""

from __future__ import annotations

import os

from dagster import DailyPartitionsDefinition, DynamicPartitionsDefinition, MultiPartitionsDefinition

from kura_dagster.core.settings import load_dotenv_once

load_dotenv_once()

DATASET_PARTITIONS = DynamicPartitionsDefinition(name="dataset")
# The first day partitions can address; KURA_START_DATE moves it for older histories.
DATE_PARTITIONS = DailyPartitionsDefinition(start_date=os.environ.get("KURA_START_DATE") or "2024-01-01")
KURA_PARTITIONS = MultiPartitionsDefinition({"dataset": DATASET_PARTITIONS, "date": DATE_PARTITIONS})


def partition_key(dataset: str, date: str) -> str:
    """The multi-partition key Dagster uses for (dataset, date): dimensions in name order, joined by '|'."""
    return f"{dataset}|{date}"
