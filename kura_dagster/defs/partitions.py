"""Every asset is partitioned by dataset (registered at run time) × day.

The days start at the earliest day file of the landing zone (or KURA_START_DATE when set), read when the
definitions are built from the settings, so the UI shows the landing zone's days rather than years of empty
ones. They end with today (UTC): a day that is not over can be run on request (its file may still grow; the
sensor waits for midnight before it runs it by itself).
"""

from __future__ import annotations

from dagster import DailyPartitionsDefinition, DynamicPartitionsDefinition, MultiPartitionsDefinition

from kura_dagster.core.ingest.landing import scan_landing_zone
from kura_dagster.core.settings import Settings

# The first day when the landing zone is empty and KURA_START_DATE is unset: far enough back for most
# histories ingested later (a day before the first one needs KURA_START_DATE, or a reload of the code).
DEFAULT_START_DATE = "2024-01-01"

# The datasets are registered in the Dagster instance (by `ingest`, the sensor or a run): no setting in it.
DATASET_PARTITIONS = DynamicPartitionsDefinition(name="dataset")


def first_day(settings: Settings) -> str:
    """KURA_START_DATE, else the earliest day file in the landing zone, else DEFAULT_START_DATE."""
    if settings.start_date:
        return settings.start_date
    zone = scan_landing_zone(settings.data_dir)
    days = [day for dataset in zone.datasets for day in zone.dates(dataset)]
    return min(days, default=DEFAULT_START_DATE)


def date_partitions(settings: Settings) -> DailyPartitionsDefinition:
    return DailyPartitionsDefinition(start_date=first_day(settings), end_offset=1)


def kura_partitions(settings: Settings) -> MultiPartitionsDefinition:
    """The (dataset, date) partitions of every asset, check and job."""
    return MultiPartitionsDefinition({"dataset": DATASET_PARTITIONS, "date": date_partitions(settings)})


def date_dimension(partitions_def: MultiPartitionsDefinition) -> DailyPartitionsDefinition:
    return partitions_def.get_partitions_def_for_dimension("date")


def partition_key(dataset: str, date: str) -> str:
    """The multi-partition key Dagster uses for (dataset, date): dimensions in name order, joined by '|'."""
    return f"{dataset}|{date}"
