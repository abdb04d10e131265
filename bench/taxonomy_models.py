"""A taxonomy version built with the local models the pipeline makes from the settings (KURA_TARGET_CLUSTER_SIZE,
KURA_MIN_CLUSTER_SIZE, ...), for the taxonomy benchmarks (taxonomy_stability.py, taxonomy_scale.py)."""

from __future__ import annotations

from datetime import date

import numpy as np

from kura_dagster.core.privacy.thresholds import PrivacyGuard, Thresholds
from kura_dagster.core.settings import Settings
from kura_dagster.core.stages.base_clusters import KMeansClusteringMethod
from kura_dagster.core.stages.meta_clusters import AgglomerativeMetaClusterModel
from kura_dagster.core.stages.naming import KeywordClusterNamer
from kura_dagster.core.stages.taxonomy import Taxonomy, TaxonomyOptions, build_taxonomy
from kura_dagster.core.types import ConversationSummary


def build_local_taxonomy(
    settings: Settings,
    summaries: list[ConversationSummary],
    vectors: np.ndarray,
    *,
    version: date,
    window_start: date,
    previous: Taxonomy | None,
    seed: int,
    window_days: int,
    **options,
) -> Taxonomy:
    """`build_taxonomy` with the settings' local models; `options`: further TaxonomyOptions fields."""
    return build_taxonomy(
        summaries,
        vectors,
        version=version,
        window_start=window_start,
        previous=previous,
        clustering_method=KMeansClusteringMethod(
            target_cluster_size=settings.target_cluster_size,
            random_state=seed,
            max_clusters=settings.max_base_clusters,
        ),
        namer=KeywordClusterNamer(),
        meta_model=AgglomerativeMetaClusterModel(
            max_roots=settings.max_roots, branching=settings.meta_branching
        ),
        privacy=PrivacyGuard(Thresholds(settings.min_cluster_size, settings.min_cluster_users)),
        options=TaxonomyOptions(
            window_days=window_days,
            sample_size=settings.taxonomy_sample_size,
            random_state=seed,
            lexical_weight=settings.lexical_weight,
            manifold=settings.manifold == "umap",
            **options,
        ),
    )
