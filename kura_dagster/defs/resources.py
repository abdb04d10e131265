"""Resources: configurable wrappers that build the core models chosen by settings.

Each resource holds plain configuration (shown in the Dagster UI) and builds its model on demand, so
nothing heavy is loaded and nothing connects when the definitions are imported. Their values come from one
`Settings` (`resources_from_settings`), whose table holds every default: the fields here have none. Secrets
are given to Dagster as `EnvVar`s: the UI and run config show the variable's name, never its value.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date as Date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from dagster import ConfigurableResource, EnvVar, InitResourceContext
from dagster_openai import OpenAIResource

from kura_dagster.core.ingest.landing import file_sha256, landing_file
from kura_dagster.core.ingest.landing_reader import load_landing_table
from kura_dagster.core.ingest.records import Rejected
from kura_dagster.core.llm.cache import ResponseCache
from kura_dagster.core.llm.client import LLMClient
from kura_dagster.core.llm.usage import PriceTable
from kura_dagster.core.privacy.thresholds import PrivacyGuard, Thresholds
from kura_dagster.core.settings import Settings
from kura_dagster.core.stages.base_clusters import (
    ClusteringMethod,
    HDBSCANClusteringMethod,
    KMeansClusteringMethod,
)
from kura_dagster.core.stages.embeddings import EmbeddingModel, WordLlamaEmbeddingModel
from kura_dagster.core.stages.meta_clusters import AgglomerativeMetaClusterModel, MetaClusterModel
from kura_dagster.core.stages.naming import ClusterNamer, KeywordClusterNamer
from kura_dagster.core.stages.projections import DimensionalityReduction, UMAPProjection
from kura_dagster.core.stages.summaries import ExtractiveSummaryModel, SummaryModel
from kura_dagster.core.storage.store import partition_slice, with_partition_columns
from kura_dagster.core.storage.tables import TOPIC_ASSIGNMENTS_SCHEMA, TOPIC_LINEAGE_SCHEMA
from kura_dagster.defs.io_manager import DuckDBPartitionIOManager

NO_KEY = "not-needed"  # what the SDK gets when no key is set (self-hosted servers often need none)


class LandingZone(ConfigurableResource):
    """The folder of raw daily files: `<data_dir>/<dataset>/<YYYY-MM-DD>.jsonl`."""

    data_dir: str
    workers: int  # processes that parse a big day's file (KURA_WORKERS)

    def load_table(self, dataset: str, date: str) -> tuple[pa.Table, list[Rejected]]:
        """The day's conversations as a table, and the records that could not be read."""
        return load_landing_table(Path(self.data_dir), dataset, date, workers=self.workers)

    def fingerprint(self, dataset: str, date: str) -> str:
        """SHA-256 of the day's file ("absent" without one): the data version of `conversations`."""
        path = landing_file(Path(self.data_dir), dataset, date)
        return file_sha256(path) if path.exists() else "absent"

    @staticmethod
    def combined_fingerprint(fingerprints: list[str]) -> str:
        """One version for several days' files (a run over a date range): the hash of their hashes."""
        return hashlib.sha256("\n".join(fingerprints).encode()).hexdigest()


class KuraLLMResource(OpenAIResource):
    """dagster-openai's `OpenAIResource` settings (api_key, base_url, organization, project) plus what the
    hosted stages need: the provider, models, concurrency, timeout, spending cap and response cache.

    The stages make many calls at once, so they use an async client built from these settings rather
    than the resource's synchronous one; `provider="local"` builds nothing.
    """

    provider: str
    chat_model: str
    embedding_model: str
    embedding_dimensions: int | None  # None: the model's own
    concurrency: int
    timeout_s: float
    backoff_base_s: float
    max_usd: float | None  # None: no cap
    cache_path: str
    custom_facets: str
    prices: str  # KURA_PRICES as JSON {"model": [input, output]}: overrides of the price table
    azure_endpoint: str | None
    azure_api_version: str
    seed: int

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # Nothing connects at start-up; the async client is made when a stage first calls the endpoint.
        pass

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        pass

    @property
    def enabled(self) -> bool:
        return self.provider != "local"

    def custom_facet_schemas(self) -> dict[str, dict]:
        if not self.custom_facets.strip():
            return {}
        try:
            facets = json.loads(self.custom_facets)
        except ValueError as error:
            raise ValueError(
                f'KURA_CUSTOM_FACETS is not JSON ({{"name": {{json schema}}}}): {error}'
            ) from None
        if not isinstance(facets, dict):
            raise ValueError("KURA_CUSTOM_FACETS must be a JSON object of facet name → JSON schema")
        return facets

    def _check_configuration(self) -> None:
        """Fail the asset at once, with the setting to fix, rather than every call one by one."""
        if self.provider == "azure" and not self.azure_endpoint:
            raise ValueError("AZURE_OPENAI_ENDPOINT is not set (needed with KURA_LLM/KURA_EMBEDDINGS=azure)")
        if self.provider == "azure" and self.api_key == NO_KEY:
            raise ValueError("AZURE_OPENAI_API_KEY is not set (needed with KURA_LLM/KURA_EMBEDDINGS=azure)")
        if self.provider == "openai" and self.api_key == NO_KEY and not self.base_url:
            raise ValueError("OPENAI_API_KEY is not set: set it, or OPENAI_BASE_URL for a self-hosted server")

    def _make_sdk_client(self):
        import openai

        if self.provider == "azure":
            return openai.AsyncAzureOpenAI(
                azure_endpoint=self.azure_endpoint,
                api_key=self.api_key,
                api_version=self.azure_api_version,
                max_retries=0,
            )
        return openai.AsyncOpenAI(
            api_key=self.api_key,
            base_url=self.base_url,
            organization=self.organization,
            project=self.project,
            max_retries=0,
        )

    @contextmanager
    def open_client(self) -> Iterator[LLMClient | None]:
        """An `LLMClient` for one asset (None on the local path); its cache is flushed and closed after."""
        if not self.enabled:
            yield None
            return
        self._check_configuration()
        cache = ResponseCache(self.cache_path)
        client = LLMClient(
            self._make_sdk_client,
            chat_model=self.chat_model,
            embedding_model=self.embedding_model,
            embedding_dimensions=self.embedding_dimensions,
            concurrency=self.concurrency,
            timeout_s=self.timeout_s,
            backoff_base_s=self.backoff_base_s,
            cache=cache,
            prices=PriceTable.with_overrides(json.loads(self.prices)),
            max_usd=self.max_usd,
            seed=self.seed,
        )
        try:
            yield client
        finally:
            cache.close()


class SummaryModelResource(ConfigurableResource):
    """The summariser (KURA_LLM) and how many processes the local one may use (KURA_WORKERS)."""

    backend: str
    workers: int

    def get_model(
        self, client: LLMClient | None, custom_facets: dict[str, dict] | None = None
    ) -> SummaryModel:
        if self.backend == "local":
            return ExtractiveSummaryModel()
        from kura_dagster.core.llm.summaries import OpenAISummaryModel

        return OpenAISummaryModel(_required(client, "KURA_LLM"), custom_facets=custom_facets)


class EmbeddingModelResource(ConfigurableResource):
    backend: str

    def get_model(self, client: LLMClient | None) -> EmbeddingModel:
        if self.backend == "local":
            return WordLlamaEmbeddingModel()
        from kura_dagster.core.llm.embeddings import OpenAIEmbeddingModel

        return OpenAIEmbeddingModel(_required(client, "KURA_EMBEDDINGS"))


class ClusteringResource(ConfigurableResource):
    """Base clustering, naming, hierarchy and projection (KURA_CLUSTERING, KURA_TARGET_CLUSTER_SIZE, ...).

    `naming="llm"` (set when KURA_LLM is hosted) names clusters and builds the tree with Clio's procedures.
    The privacy settings decide which clusters may be named at all (KURA_MIN_CLUSTER_SIZE,
    KURA_MIN_CLUSTER_USERS) and whether the hosted privacy audit runs (KURA_PRIVACY_AUDIT, KURA_PRIVACY_MIN_SCORE).
    """

    method: str
    naming: str
    target_cluster_size: int
    max_base_clusters: int
    hdbscan_min_cluster_size: int
    lexical_weight: float
    manifold: str
    max_roots: int
    meta_branching: float
    seed: int
    min_cluster_size: int
    min_cluster_users: int
    privacy_audit: bool
    privacy_min_score: int

    def get_clustering_method(self) -> ClusteringMethod:
        if self.method == "hdbscan":
            return HDBSCANClusteringMethod(min_cluster_size=self.hdbscan_min_cluster_size)
        return KMeansClusteringMethod(
            target_cluster_size=self.target_cluster_size,
            random_state=self.seed,
            max_clusters=self.max_base_clusters,
        )

    def get_namer(self, client: LLMClient | None) -> ClusterNamer:
        if self.naming == "local":
            return KeywordClusterNamer()
        from kura_dagster.core.llm.naming import ContrastiveClusterNamer

        return ContrastiveClusterNamer(_required(client, "KURA_LLM"), seed=self.seed)

    def get_meta_model(self, client: LLMClient | None) -> MetaClusterModel:
        if self.naming == "local":
            return AgglomerativeMetaClusterModel(max_roots=self.max_roots, branching=self.meta_branching)
        from kura_dagster.core.llm.hierarchy import ClioMetaClusterModel

        return ClioMetaClusterModel(
            _required(client, "KURA_LLM"),
            max_roots=self.max_roots,
            branching=self.meta_branching,
            seed=self.seed,
        )

    def get_privacy_guard(self, client: LLMClient | None) -> PrivacyGuard:
        thresholds = Thresholds(min_conversations=self.min_cluster_size, min_users=self.min_cluster_users)
        # The local hierarchy names parents from conversations, Clio's from the children's names.
        structure = dict(hidden_leaves_in_structure=self.naming == "local")
        if not self.privacy_audit:
            return PrivacyGuard(thresholds, **structure)
        from kura_dagster.core.llm.auditor import PrivacyAuditor

        auditor = PrivacyAuditor(_required(client, "KURA_PRIVACY_AUDIT"), min_score=self.privacy_min_score)
        return PrivacyGuard(thresholds, auditor, **structure)

    def get_projection(self) -> DimensionalityReduction:
        return UMAPProjection(random_state=self.seed)


class ExplorerResource(ConfigurableResource):
    """Where the explorer reads the tables and writes its pages, whether pages carry raw messages, and how
    many days of topic_trends its window view shows (KURA_REPORT_INCLUDE_MESSAGES, KURA_TRENDS_WINDOW_DAYS)."""

    database: str
    home: str
    include_messages: bool
    trends_window_days: int


class TopicsResource(ConfigurableResource):
    """Where the taxonomy assets read the days of a window that are not in their run (the store), and the
    window sizes (KURA_TAXONOMY_WINDOW_DAYS, KURA_TAXONOMY_SAMPLE_SIZE, KURA_TRENDS_*)."""

    database: str
    window_days: int
    sample_size: int
    trends_window_days: int
    trends_recent_days: int
    trends_min_count: int
    trends_alpha: float

    def window_rows(
        self,
        table_name: str,
        dataset: str,
        days: list[Date],
        in_run: pa.Table,
        run_days: set[Date],
        columns: list[str] | None = None,
    ) -> pa.Table:
        """The rows of `dataset` over `days`: the run's own days from its input, the others from the store
        (as materialised when the step reads them), oldest day first."""
        from kura_dagster.core.storage.topic_store import read_days

        earlier = read_days(
            self.database, table_name, dataset, [d for d in days if d not in run_days], columns
        )
        parts = [earlier] + [
            with_partition_columns(partition_slice(in_run, dataset, d), dataset, d)
            for d in days
            if d in run_days
        ]
        parts = [part for part in parts if part.num_rows]
        if not parts:
            return pa.table({})
        table = pa.concat_tables(parts, promote_options="default")
        return table.sort_by([("date", "ascending")]) if table.num_rows else table

    def previous_taxonomy(self, dataset: str, day: Date, on_the_day: bool = False):
        """The latest stored version before `day` (or on it, with `on_the_day`), or None."""
        from kura_dagster.core.storage import tables
        from kura_dagster.core.storage.topic_store import TAXONOMY, latest_version, read_version

        version = (
            latest_version(self.database, dataset, on_or_before=day)
            if on_the_day
            else latest_version(self.database, dataset, before=day)
        )
        if version is None:
            return None
        return tables.taxonomy_from_arrow(read_version(self.database, TAXONOMY, dataset, version))

    @staticmethod
    def no_taxonomy_assignments(chat_ids: list[str]) -> pa.Table:
        """Every conversation `unassigned` when no taxonomy holds yet (none built on or before the day)."""
        from kura_dagster.core.stages.taxonomy import UNASSIGNED

        return pa.table(
            {
                "chat_id": pa.array(chat_ids, pa.string()),
                "topic_id": pa.array([UNASSIGNED] * len(chat_ids), pa.string()),
                "taxonomy_version": pa.array([None] * len(chat_ids), pa.date32()),
                "distance": pa.array([None] * len(chat_ids), pa.float64()),
            },
            schema=TOPIC_ASSIGNMENTS_SCHEMA,
        )

    def used_ids(self, dataset: str, day: Date) -> set[str]:
        """Every topic id of `dataset` in a stored lineage before `day`: never given twice, even after a death."""
        from kura_dagster.core.storage.topic_store import lineage_until

        stored = lineage_until(self.database, dataset, day)
        if not stored.num_rows:
            return set()
        return set(
            stored.filter(pc.less(stored.column("date"), pa.scalar(day, pa.date32())))
            .column("topic_id")
            .to_pylist()
        )

    def trend_history(
        self, dataset: str, day: Date, lineage: pa.Table, taxonomy: pa.Table, run_days: set[Date]
    ):
        """What the trends need of the earlier versions: every lineage event up to `day` (births, deaths) and
        the topics of the versions of the trends window (the last name of a topic that is gone)."""
        from kura_dagster.core.stages.taxonomy import window_days
        from kura_dagster.core.stages.topic_trends import history_from_arrow
        from kura_dagster.core.storage.topic_store import lineage_until

        stored = lineage_until(self.database, dataset, day)
        if stored.num_rows:
            # The run's own days come from its input: the store may hold an older write of them.
            ours = pc.is_in(stored.column("date"), pa.array(sorted(run_days), pa.date32()))
            stored = stored.filter(pc.invert(ours))
        own = [
            with_partition_columns(partition_slice(lineage, dataset, d), dataset, d)
            for d in sorted(run_days)
            if d <= day
        ]
        parts = [part for part in [stored, *own] if part.num_rows]
        events = (
            pa.concat_tables(parts, promote_options="default")
            if parts
            else TOPIC_LINEAGE_SCHEMA.empty_table()
        )
        columns = ["version", "topic_id", "parent_id", "level", "name"]
        days = window_days(day, self.trends_window_days)
        topics = self.window_rows("taxonomy", dataset, days, taxonomy, run_days, columns)
        return history_from_arrow(events, topics if topics.num_rows else None, until=day)

    def trend_options(self):
        from kura_dagster.core.stages.topic_trends import TrendOptions

        return TrendOptions(
            window_days=self.trends_window_days,
            recent_days=self.trends_recent_days,
            min_count=self.trends_min_count,
            alpha=self.trends_alpha,
            # topic_trends counts every day of the window under the judged day's version (`counts_under`):
            # its series are comparable across splits already, so none restarts at a split.
            daily_versions=False,
        )

    @staticmethod
    def empty_trends() -> pa.Table:
        from kura_dagster.core.stages.topic_trends import TRENDS_SCHEMA

        return TRENDS_SCHEMA.empty_table()


def _required(client: LLMClient | None, setting: str) -> LLMClient:
    if client is None:
        raise ValueError(f"{setting} asks for a hosted model but the llm resource is local")
    return client


def llm_resource(settings: Settings) -> KuraLLMResource:
    provider = settings.hosted_provider
    key_variable = "AZURE_OPENAI_API_KEY" if provider == "azure" else "OPENAI_API_KEY"
    # Self-hosted servers (vLLM, Ollama) often need no key; the SDK still wants a non-empty one.
    api_key = EnvVar(key_variable) if provider != "local" and os.environ.get(key_variable) else NO_KEY
    return KuraLLMResource(
        api_key=api_key,
        base_url=settings.openai_base_url if provider == "openai" else None,
        provider=provider,
        chat_model=settings.chat_model,
        embedding_model=settings.hosted_embedding_model,
        embedding_dimensions=settings.embedding_dimensions or None,
        concurrency=settings.llm_concurrency,
        timeout_s=settings.llm_timeout_s,
        backoff_base_s=settings.llm_backoff_s,
        max_usd=settings.max_usd or None,
        cache_path=str(settings.home / "llm_cache.duckdb"),
        custom_facets=settings.custom_facets,
        prices=json.dumps(settings.prices),
        azure_endpoint=settings.azure_endpoint,
        azure_api_version=settings.azure_api_version,
        seed=settings.seed,
    )


def resources_from_settings(settings: Settings) -> dict[str, object]:
    """Every resource of the definitions, configured from `settings`."""
    return {
        "io_manager": DuckDBPartitionIOManager(database=str(settings.duckdb_path)),
        "explorer": ExplorerResource(
            database=str(settings.duckdb_path),
            home=str(settings.home),
            include_messages=settings.report_include_messages,
            trends_window_days=settings.trends_window_days,
        ),
        "topics": TopicsResource(
            database=str(settings.duckdb_path),
            window_days=settings.taxonomy_window_days,
            sample_size=settings.taxonomy_sample_size,
            trends_window_days=settings.trends_window_days,
            trends_recent_days=settings.trends_recent_days,
            trends_min_count=settings.trends_min_count,
            trends_alpha=settings.trends_alpha,
        ),
        "landing_zone": LandingZone(data_dir=str(settings.data_dir), workers=settings.worker_count),
        "llm": llm_resource(settings),
        "summary_model": SummaryModelResource(backend=settings.llm, workers=settings.worker_count),
        "embedding_model": EmbeddingModelResource(backend=settings.embeddings),
        "clustering": ClusteringResource(
            method=settings.clustering,
            naming="local" if settings.llm == "local" else "llm",
            target_cluster_size=settings.target_cluster_size,
            max_base_clusters=settings.max_base_clusters,
            hdbscan_min_cluster_size=settings.hdbscan_min_cluster_size,
            lexical_weight=settings.lexical_weight,
            manifold=settings.manifold,
            max_roots=settings.max_roots,
            meta_branching=settings.meta_branching,
            seed=settings.seed,
            min_cluster_size=settings.min_cluster_size,
            min_cluster_users=settings.min_cluster_users,
            privacy_audit=settings.privacy_audit,
            privacy_min_score=settings.privacy_min_score,
        ),
    }
