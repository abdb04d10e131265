"""Every asset of the pipeline, in graph order: the six daily stages, the taxonomy and what follows it, the
explorer. What `Definitions` holds, and what a test materialises to get the whole of a partition."""

from __future__ import annotations

from dagster import AssetsDefinition, MultiPartitionsDefinition

from kura_dagster.core.settings import Settings
from kura_dagster.defs.assets import build_pipeline_assets
from kura_dagster.defs.explorer import build_explorer_assets
from kura_dagster.defs.topics import build_topic_assets


def build_asset_graph(
    settings: Settings, partitions_def: MultiPartitionsDefinition | None = None
) -> list[AssetsDefinition]:
    """stages → taxonomy, topic_lineage → topic_assignments → topic_trends → report, partitioned alike."""
    return [
        *build_pipeline_assets(settings, partitions_def),
        *build_topic_assets(settings, partitions_def),
        *build_explorer_assets(settings, partitions_def),
    ]
