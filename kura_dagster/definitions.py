"""The `Definitions` that `dagster dev`, workspace.yaml and the `kura-dagster` command load."""

from __future__ import annotations

from dagster import Definitions, in_process_executor, multiprocess_executor

from kura_dagster.core.settings import Settings
from kura_dagster.defs.assets import PIPELINE_ASSETS
from kura_dagster.defs.automation import build_daily_schedule, landing_zone_sensor
from kura_dagster.defs.checks import PIPELINE_CHECKS
from kura_dagster.defs.jobs import kura_pipeline
from kura_dagster.defs.resources import resources_from_settings


def build_definitions(settings: Settings | None = None) -> Definitions:
    settings = settings or Settings.from_env()
    settings.prepare_home()
    executor = (
        multiprocess_executor.configured({"max_concurrent": settings.max_concurrent})
        if settings.executor == "multiprocess"
        else in_process_executor
    )
    return Definitions(
        assets=PIPELINE_ASSETS,
        asset_checks=PIPELINE_CHECKS,
        jobs=[kura_pipeline],
        sensors=[landing_zone_sensor],
        schedules=[build_daily_schedule()],
        resources=resources_from_settings(settings),
        executor=executor,
    )


defs = build_definitions()
