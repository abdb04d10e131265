"""The `Definitions` that `dagster dev`, workspace.yaml and the `kura-dagster` command load.

`build_definitions(settings)` assembles every Dagster object from one `Settings`: the partitions, assets,
checks, job, sensor, schedule, resources and executor all take their values from it, and nothing below reads
the environment. `defs`, what Dagster loads, is the one place the definitions read it.
"""

from __future__ import annotations

from dagster import Definitions, in_process_executor, multiprocess_executor

from kura_dagster.core.settings import Settings
from kura_dagster.core.storage.store import check_database_file
from kura_dagster.defs.asset_graph import build_asset_graph
from kura_dagster.defs.automation import build_daily_schedule, build_landing_zone_sensor
from kura_dagster.defs.checks import build_pipeline_checks
from kura_dagster.defs.jobs import build_pipeline_job
from kura_dagster.defs.partitions import kura_partitions
from kura_dagster.defs.resources import resources_from_settings


def executor_for(settings: Settings):
    """The executor named by KURA_EXECUTOR; the distributed ones are imported only when chosen."""
    if settings.executor == "multiprocess":
        return multiprocess_executor.configured({"max_concurrent": settings.max_concurrent})
    if settings.executor == "k8s":
        from dagster_k8s import k8s_job_executor  # pip install dagster-k8s==0.29.27

        return k8s_job_executor.configured({"max_concurrent": settings.max_concurrent})
    if settings.executor == "celery":
        from dagster_celery import celery_executor  # pip install dagster-celery==0.29.27

        return celery_executor
    return in_process_executor


def build_definitions(settings: Settings) -> Definitions:
    # An unusable KURA_HOME or a corrupted DuckDB file stops the load with one message naming it (the UI
    # shows it on the code location), rather than failing runs one by one.
    settings.prepare_home()
    check_database_file(settings.duckdb_path)
    # One partitions definition for all: the date partitions start at the landing zone's first day, read once.
    partitions = kura_partitions(settings)
    job = build_pipeline_job(partitions)
    return Definitions(
        assets=build_asset_graph(settings, partitions),
        asset_checks=build_pipeline_checks(settings, partitions),
        jobs=[job],
        sensors=[build_landing_zone_sensor(settings, job)],
        schedules=[build_daily_schedule(settings, job)],
        resources=resources_from_settings(settings),
        executor=executor_for(settings),
    )


# A bad setting raises one SettingsError naming the variable and what it accepts.
defs = build_definitions(Settings.from_env())
