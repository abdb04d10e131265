"""The `Definitions` that `dagster dev`, workspace.yaml and the `kura-dagster` command load."""

from __future__ import annotations

from dagster import Definitions, in_process_executor, multiprocess_executor

from kura_dagster.core.settings import Settings
from kura_dagster.core.storage.store import check_database_file
from kura_dagster.defs.assets import PIPELINE_ASSETS
from kura_dagster.defs.automation import daily_recluster_schedule, landing_zone_sensor
from kura_dagster.defs.checks import PIPELINE_CHECKS
from kura_dagster.defs.explorer import EXPLORER_ASSETS
from kura_dagster.defs.jobs import kura_pipeline
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


def build_definitions(settings: Settings | None = None) -> Definitions:
    # A bad setting, an unusable KURA_HOME or a corrupted DuckDB file stops the load with one message
    # naming it (the UI shows it on the code location), rather than failing runs one by one.
    settings = settings or Settings.from_env()
    settings.prepare_home()
    check_database_file(settings.duckdb_path)
    executor = executor_for(settings)
    return Definitions(
        assets=[*PIPELINE_ASSETS, *EXPLORER_ASSETS],
        asset_checks=PIPELINE_CHECKS,
        jobs=[kura_pipeline],
        sensors=[landing_zone_sensor],
        schedules=[daily_recluster_schedule],
        resources=resources_from_settings(settings),
        executor=executor,
    )


defs = build_definitions()
