"""Resources: configurable wrappers that build the core models chosen by settings.

Each resource holds plain configuration (shown in the Dagster UI) and builds its model on demand, so
nothing heavy is loaded when the definitions are imported.
"""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from kura_dagster.core.cluster import ClusteringMethod, HDBSCANClusteringMethod, KMeansClusteringMethod
from kura_dagster.core.embed import EmbeddingModel, WordLlamaEmbeddingModel
from kura_dagster.core.loaders import LoadResult, load_landing_partition
from kura_dagster.core.meta_cluster import AgglomerativeMetaClusterModel, MetaClusterModel
from kura_dagster.core.project import DimensionalityReduction, UMAPProjection
from kura_dagster.core.settings import Settings
from kura_dagster.core.summarise import ExtractiveSummaryModel, SummaryModel


class LandingZone(ConfigurableResource):
    """The folder of raw daily files: `<data_dir>/<dataset>/<YYYY-MM-DD>.jsonl`."""

    data_dir: str

    def load(self, dataset: str, date: str) -> LoadResult:
        return load_landing_partition(Path(self.data_dir), dataset, date)


class SummaryModelResource(ConfigurableResource):
    backend: str = "local"

    def get_model(self) -> SummaryModel:
        if self.backend == "local":
            return ExtractiveSummaryModel()
        raise NotImplementedError(f"KURA_LLM={self.backend} is not available yet; use KURA_LLM=local")


class EmbeddingModelResource(ConfigurableResource):
    backend: str = "local"

    def get_model(self) -> EmbeddingModel:
        if self.backend == "local":
            return WordLlamaEmbeddingModel()
        raise NotImplementedError(f"KURA_EMBEDDINGS={self.backend} is not available yet; use KURA_EMBEDDINGS=local")


class ClusteringResource(ConfigurableResource):
    """Base clustering, hierarchy and projection settings (KURA_CLUSTERING, KURA_TARGET_CLUSTER_SIZE, ...)."""

    method: str = "kmeans"
    target_cluster_size: int = 10
    hdbscan_min_cluster_size: int = 5
    lsa_weight: float = 0.5
    max_roots: int = 10
    meta_branching: float = 4.0
    seed: int = 42

    def get_clustering_method(self) -> ClusteringMethod:
        if self.method == "hdbscan":
            return HDBSCANClusteringMethod(min_cluster_size=self.hdbscan_min_cluster_size)
        return KMeansClusteringMethod(target_cluster_size=self.target_cluster_size, random_state=self.seed)

    def get_meta_model(self) -> MetaClusterModel:
        return AgglomerativeMetaClusterModel(max_roots=self.max_roots, branching=self.meta_branching)

    def get_projection(self) -> DimensionalityReduction:
        return UMAPProjection(random_state=self.seed)


def resources_from_settings(settings: Settings) -> dict[str, object]:
    from kura_dagster.defs.io_manager import DuckDBPartitionIOManager

    return {
        "io_manager": DuckDBPartitionIOManager(database=str(settings.duckdb_path)),
        "landing_zone": LandingZone(data_dir=str(settings.data_dir)),
        "summary_model": SummaryModelResource(backend=settings.llm),
        "embedding_model": EmbeddingModelResource(backend=settings.embeddings),
        "clustering": ClusteringResource(
            method=settings.clustering,
            target_cluster_size=settings.target_cluster_size,
            hdbscan_min_cluster_size=settings.hdbscan_min_cluster_size,
            lsa_weight=settings.lsa_weight,
            max_roots=settings.max_roots,
            meta_branching=settings.meta_branching,
            seed=settings.seed,
        ),
    }
