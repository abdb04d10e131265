"""Settings from the environment (and a `.env` file, loaded automatically). Names are a contract."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

DATASET_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")


class SettingsError(ValueError):
    """A setting has a value the pipeline cannot use."""


def load_dotenv_once(path: str | os.PathLike | None = None) -> None:
    """Load `.env` from the working directory without overriding variables already set."""
    from dotenv import load_dotenv

    load_dotenv(path or Path.cwd() / ".env", override=False)


def validate_dataset_name(name: str) -> str:
    """Dataset names reach SQL and file paths: only lower-case slugs are accepted."""
    if not isinstance(name, str) or not DATASET_NAME.match(name):
        raise SettingsError(
            f"invalid dataset name {name!r}: use 1-64 characters from a-z, 0-9, '_' and '-'"
        )
    return name


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower() or default
    if value not in allowed:
        raise SettingsError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
    return value


def _number(name: str, default: float, kind: type = int, minimum: float | None = None):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return kind(default)
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a {kind.__name__}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def _flag(name: str) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name}={raw!r}: expected true or false")


def _privacy_audit(llm: str) -> bool:
    """KURA_PRIVACY_AUDIT: the auditor is an LLM, so asking for it on the local path is an error, not a no-op."""
    wanted = _flag("KURA_PRIVACY_AUDIT")
    if wanted and llm == "local":
        raise SettingsError("KURA_PRIVACY_AUDIT=true needs a hosted chat model: set KURA_LLM=openai or azure")
    return wanted


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with local defaults that need no network and no key."""

    home: Path = field(default_factory=lambda: Path(".kura").resolve())
    data_dir: Path = field(default_factory=lambda: Path("data").resolve())
    llm: str = "local"
    embeddings: str = "local"
    summary_model: str | None = None
    embedding_model: str | None = None
    clustering: str = "kmeans"
    # Measured defaults (bench/quality.py): base clusters of about 30 conversations cluster intents as well as
    # finer ones did and stay above the privacy threshold of 10; see README "Quality".
    target_cluster_size: int = 30
    max_base_clusters: int = 5000
    hdbscan_min_cluster_size: int = 5
    lexical_weight: float = 0.5
    manifold: str = "umap"
    max_roots: int = 10
    meta_branching: float = 4.0
    min_cluster_size: int = 10
    min_cluster_users: int = 5
    privacy_audit: bool = False
    privacy_min_score: int = 3
    seed: int = 42
    start_date: str | None = None  # None: the date partitions start at the landing zone's earliest day
    executor: str = "in_process"
    max_concurrent: int = 2
    partitions_per_run: int = 10
    # Processes for CPU-bound local work (the extractive summariser); 0 = one per core this process may use.
    workers: int = 0
    # Explorer and topics over time. Messages are raw conversation text: off unless asked for.
    report_include_messages: bool = False
    trends_window_days: int = 7
    # Hosted path (OpenAI-compatible endpoints). Keys stay in the environment: Dagster reads them by name.
    llm_concurrency: int = 20
    llm_timeout_s: float = 60.0
    llm_backoff_s: float = 0.5
    max_usd: float | None = None
    embedding_dimensions: int | None = None
    custom_facets: str = ""
    openai_base_url: str | None = None
    azure_endpoint: str | None = None
    azure_api_version: str = "2024-10-21"
    azure_deployment: str | None = None
    azure_embedding_deployment: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.privacy_min_score <= 5:
            raise SettingsError(f"KURA_PRIVACY_MIN_SCORE={self.privacy_min_score}: the privacy scale runs from 1 to 5")

    @property
    def hosted_provider(self) -> str:
        """`local`, `openai` or `azure`: the endpoint behind hosted summaries, names and embeddings."""
        hosted = {self.llm, self.embeddings} - {"local"}
        if len(hosted) > 1:
            raise SettingsError("KURA_LLM and KURA_EMBEDDINGS must use the same provider (openai or azure)")
        return hosted.pop() if hosted else "local"

    @property
    def chat_model(self) -> str:
        if self.llm == "azure":
            return self.azure_deployment or self.summary_model or "gpt-4o-mini"
        return self.summary_model or "gpt-4o-mini"

    @property
    def hosted_embedding_model(self) -> str:
        if self.embeddings == "azure":
            return self.azure_embedding_deployment or self.embedding_model or "text-embedding-3-small"
        return self.embedding_model or "text-embedding-3-small"

    @property
    def worker_count(self) -> int:
        """KURA_WORKERS, or the cores this process may run on (a container's CPU set, not the host's)."""
        if self.workers:
            return self.workers
        if hasattr(os, "sched_getaffinity"):
            return len(os.sched_getaffinity(0))
        return os.cpu_count() or 1

    @property
    def duckdb_path(self) -> Path:
        return self.home / "kura.duckdb"

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster")

    @classmethod
    def from_env(cls) -> "Settings":
        load_dotenv_once()
        env = os.environ
        # The seed's switch: USE_AZURE_OPENAI=true sends the hosted stages to Azure OpenAI.
        azure = env.get("USE_AZURE_OPENAI", "").strip().lower() in ("1", "true", "yes")
        llm = _choice("KURA_LLM", "local", ("local", "openai", "azure"))
        embeddings = _choice("KURA_EMBEDDINGS", "local", ("local", "openai", "azure"))
        if azure:
            llm, embeddings = ("azure" if llm == "openai" else llm), ("azure" if embeddings == "openai" else embeddings)
        return cls(
            home=Path(env.get("KURA_HOME") or ".kura").expanduser().resolve(),
            data_dir=Path(env.get("KURA_DATA_DIR") or "data").expanduser().resolve(),
            llm=llm,
            embeddings=embeddings,
            summary_model=env.get("KURA_SUMMARY_MODEL") or None,
            embedding_model=env.get("KURA_EMBEDDING_MODEL") or None,
            clustering=_choice("KURA_CLUSTERING", "kmeans", ("kmeans", "hdbscan")),
            target_cluster_size=_number("KURA_TARGET_CLUSTER_SIZE", 30, int, 1),
            max_base_clusters=_number("KURA_MAX_BASE_CLUSTERS", 5000, int, 1),
            hdbscan_min_cluster_size=_number("KURA_HDBSCAN_MIN_CLUSTER_SIZE", 5, int, 2),
            lexical_weight=_number("KURA_LEXICAL_WEIGHT", 0.5, float, 0),
            manifold=_choice("KURA_MANIFOLD", "umap", ("umap", "none")),
            max_roots=_number("KURA_MAX_ROOTS", 10, int, 1),
            meta_branching=_number("KURA_META_BRANCHING", 4.0, float, 1.5),
            min_cluster_size=_number("KURA_MIN_CLUSTER_SIZE", 10, int, 1),
            min_cluster_users=_number("KURA_MIN_CLUSTER_USERS", 5, int, 1),
            privacy_audit=_privacy_audit(llm),
            privacy_min_score=_number("KURA_PRIVACY_MIN_SCORE", 3, int, 1),
            seed=_number("KURA_SEED", 42, int),
            start_date=env.get("KURA_START_DATE") or None,
            executor=_choice("KURA_EXECUTOR", "in_process", ("in_process", "multiprocess", "k8s", "celery")),
            max_concurrent=_number("KURA_MAX_CONCURRENT", 2, int, 1),
            partitions_per_run=_number("KURA_PARTITIONS_PER_RUN", 10, int, 1),
            workers=_number("KURA_WORKERS", 0, int, 0),
            report_include_messages=_flag("KURA_REPORT_INCLUDE_MESSAGES"),
            trends_window_days=_number("KURA_TRENDS_WINDOW_DAYS", 7, int, 1),
            llm_concurrency=_number("KURA_LLM_CONCURRENCY", 20, int, 1),
            llm_timeout_s=_number("KURA_LLM_TIMEOUT", 60.0, float, 0.1),
            llm_backoff_s=_number("KURA_LLM_BACKOFF", 0.5, float, 0),
            max_usd=_number("KURA_MAX_USD", 0, float, 0) or None,
            embedding_dimensions=_number("KURA_EMBEDDING_DIMENSIONS", 0, int, 0) or None,
            custom_facets=env.get("KURA_CUSTOM_FACETS", ""),
            openai_base_url=env.get("OPENAI_BASE_URL") or None,
            azure_endpoint=env.get("AZURE_OPENAI_ENDPOINT") or None,
            azure_api_version=env.get("AZURE_OPENAI_API_VERSION") or "2024-10-21",
            azure_deployment=env.get("AZURE_OPENAI_DEPLOYMENT_NAME") or None,
            azure_embedding_deployment=env.get("AZURE_EMBEDDING_DEPLOYMENT_NAME") or None,
        )

    def prepare_home(self) -> None:
        """Create KURA_HOME and point numba's cache there, so UMAP compiles once per machine, not per run."""
        self.home.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("NUMBA_CACHE_DIR", str(self.home / "numba_cache"))
