"""Settings from the environment (and a `.env` file, loaded automatically). Names are a contract."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date as Date
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
        raise SettingsError(f"invalid dataset name {name!r}: use 1-64 characters from a-z, 0-9, '_' and '-'")
    return name


def _privacy_audit(llm: str, wanted: bool) -> bool:
    """KURA_PRIVACY_AUDIT: the auditor is an LLM, so asking for it on the local path is an error, not a no-op."""
    if wanted and llm == "local":
        raise SettingsError("KURA_PRIVACY_AUDIT=true needs a hosted chat model: set KURA_LLM=openai or azure")
    return wanted


# --- The table of settings -------------------------------------------------------------------------------------
# Every environment variable the project reads, declared once: how it is parsed, its default and what it
# accepts. `read_settings` checks them all at start (the command line, and Dagster when it loads the
# definitions), so a bad value stops everything with one line naming the variable, instead of a stage
# failing mid-run with an error that names nothing (KURA_SEED=-1 used to fail at base_clusters, after three
# stages were written).

INT_LIMIT = 2**31 - 1  # numpy and scikit-learn take these as C ints: larger values overflow mid-run
SEED_LIMIT = 2**32 - 1  # numpy's RandomState (scikit-learn, UMAP) accepts seeds in [0, 2**32 - 1]


@dataclass(frozen=True)
class Setting:
    """One environment variable: its kind, default, accepted values and meaning.

    kind: "int", "float" (finite), "choice", "flag" (true/false), "date" (YYYY-MM-DD), "path", "url",
    "text", "secret" (never echoed), or "structured" (`parse` reads it: JSON, cron).
    field: the `Settings` attribute it fills, whose default is this row's; None for the variables that are not
    a setting of the pipeline (DAGSTER_HOME, read by Dagster; the keys, given to Dagster as `EnvVar`s;
    USE_AZURE_OPENAI, folded into KURA_LLM), which are still checked at start.
    """

    name: str
    kind: str
    default: object
    meaning: str
    field: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    accepts_text: str = ""  # what a structured setting accepts, in words
    parse: Callable[[str], object] | None = None

    @property
    def accepts(self) -> str:
        """What the setting accepts, as the end of "must be ..."."""
        return self.accepts_beyond(None)

    def accepts_beyond(self, value: float | None) -> str:
        """`accepts`, naming the technical limit of whole numbers only to a `value` beyond it."""
        if self.accepts_text:
            return self.accepts_text
        if self.kind in ("int", "float"):
            noun = "a whole number" if self.kind == "int" else "a number"
            quiet_limit = (
                self.kind == "int" and self.maximum == INT_LIMIT and (value is None or value <= INT_LIMIT)
            )
            if self.maximum is None or quiet_limit:
                return f"{noun} >= {_number_text(self.minimum)}" if self.minimum is not None else noun
            return f"{noun} from {_number_text(self.minimum)} to {_number_text(self.maximum)}"
        return {
            "choice": "one of " + ", ".join(self.choices),
            "flag": "true or false (or 1/0, yes/no, on/off)",
            "date": "a date YYYY-MM-DD",
            "url": "an http:// or https:// URL",
            "path": "a path",
        }.get(self.kind, "text")


def _number_text(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _shown(name: str, raw: str, kind: str) -> str:
    """The value as a message may echo it: printable, short, and never a secret or a URL's password."""
    if kind == "secret":
        return f"{name}=..."
    if kind == "url":
        raw = re.sub(r"//[^/@]*@", "//...@", raw)
    text = raw if raw.isprintable() else repr(raw)
    # Long inline values are cut; a file's path never is: the message must name the file.
    return f"{name}={text if len(text) <= 80 or _is_existing_path(raw) else text[:77] + '...'}"


def _is_existing_path(raw: str) -> bool:
    try:
        return len(raw) < 4096 and Path(raw).exists()
    except (OSError, ValueError):
        return False


def _in_range(setting: Setting, value: float) -> bool:
    return not (
        (setting.minimum is not None and value < setting.minimum)
        or (setting.maximum is not None and value > setting.maximum)
    )


FLAG_VALUES = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def parse_setting(setting: Setting, raw: str | None) -> object:
    """The typed value of `raw` (the variable's text; None or blank: the default), or a SettingsError
    naming the variable and what it accepts."""
    text = (raw or "").strip()
    if not text:
        if setting.kind == "path" and setting.default is not None:
            return Path(str(setting.default)).expanduser().resolve()
        return setting.default
    problem = f"{_shown(setting.name, text, setting.kind)}: must be {setting.accepts}"
    if setting.kind == "int":
        try:
            value = int(text)
        except ValueError:
            raise SettingsError(problem) from None
        if not _in_range(setting, value):
            raise SettingsError(
                f"{_shown(setting.name, text, setting.kind)}: must be {setting.accepts_beyond(value)}"
            )
        return value
    if setting.kind == "float":
        try:
            value = float(text)
        except ValueError:
            raise SettingsError(problem) from None
        if not math.isfinite(value) or not _in_range(setting, value):  # nan compares False with every bound
            raise SettingsError(problem)
        return value
    if setting.kind == "choice":
        if text.lower() not in setting.choices:
            raise SettingsError(problem)
        return text.lower()
    if setting.kind == "flag":
        if text.lower() not in FLAG_VALUES:
            raise SettingsError(problem)
        return FLAG_VALUES[text.lower()]
    if setting.kind == "date":
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                raise ValueError
            return Date.fromisoformat(text).isoformat()
        except ValueError:
            raise SettingsError(problem) from None
    if setting.kind == "url":
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
            raise SettingsError(problem)
        return text
    if setting.kind == "path":
        return Path(text).expanduser().resolve()
    if setting.parse is not None:
        try:
            return setting.parse(text)
        except (ValueError, TypeError, OSError) as error:
            raise SettingsError(f"{problem} ({error})") from None
    return raw  # text and secrets: taken as given


def check_setting_value(setting: Setting, value: object) -> None:
    """Check a typed value given directly (`Settings(seed=-1)` in a notebook) like the variable's text."""
    if setting.kind in ("int", "float"):
        number_types = (int,) if setting.kind == "int" else (int, float)
        if (
            isinstance(value, bool)
            or not isinstance(value, number_types)
            or not math.isfinite(value)
            or not _in_range(setting, value)
        ):
            raise SettingsError(f"{setting.name}={value}: must be {setting.accepts_beyond(value)}")
    elif setting.kind == "choice" and value not in setting.choices:
        raise SettingsError(f"{setting.name}={value}: must be {setting.accepts}")


def _json_object_of_schemas(text: str) -> str:
    """KURA_CUSTOM_FACETS: checked here, handed on as text (the llm resource shows it in the UI)."""
    facets = json.loads(text)
    if not isinstance(facets, dict) or not all(isinstance(schema, dict) for schema in facets.values()):
        raise ValueError("not an object of objects")
    return text


def parse_prices(text: str) -> dict[str, tuple[float, float]]:
    """KURA_PRICES: JSON `{"model": [input, output]}` in dollars per million tokens, or a file holding it."""
    if os.path.isfile(text):
        with open(text, encoding="utf-8") as handle:
            text = handle.read()
    overrides = json.loads(text)
    if not isinstance(overrides, dict):
        raise ValueError("not a JSON object")
    prices = {}
    for model, pair in overrides.items():
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"{model!r} is not [input, output]")
        prices[model] = (float(pair[0]), float(pair[1]))
        if not all(math.isfinite(price) and price >= 0 for price in prices[model]):
            raise ValueError(f"{model!r} has a negative or infinite price")
    return prices


CRON_FIELDS = (
    (0, 59, ()),
    (0, 23, ()),
    (1, 31, ()),
    (1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    (0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)


def parse_cron(text: str) -> str:
    """KURA_SCHEDULE_CRON: five cron fields (numbers, names, `*`, ranges, lists, steps) or @daily and the like.

    Checked here so that a mistake is named by its variable, at start; Dagster checks the expression again
    when it loads the schedule (and refuses a day that never comes, such as February 31)."""
    if text in ("@hourly", "@daily", "@weekly", "@monthly"):
        return text
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"{len(fields)} fields, not 5")
    for field_text, (low, high, names) in zip(fields, CRON_FIELDS):
        for item in field_text.split(","):
            span, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                raise ValueError(f"bad step in {item!r}")
            if span in ("*", "?") or re.fullmatch(r"\d*L|\d+W|LW|\w+#[1-5]", span, re.IGNORECASE):
                continue  # Quartz-style forms (last day, weekday, nth weekday): Dagster checks these itself
            for value in span.split("-", 1):
                number = (
                    names.index(value.lower()) + low
                    if value.lower() in names
                    else int(value)
                    if value.isdigit()
                    else None
                )
                if number is None or not low <= number <= high:
                    raise ValueError(f"{value!r} is not within {low}-{high}")
    return text


SETTINGS: tuple[Setting, ...] = (
    Setting("KURA_HOME", "path", ".kura", "DuckDB file, Dagster instance, quarantine, caches", "home"),
    Setting("KURA_DATA_DIR", "path", "data", "the landing zone", "data_dir"),
    Setting("DAGSTER_HOME", "path", None, "the Dagster instance (default $KURA_HOME/dagster)"),
    Setting(
        "KURA_LLM",
        "choice",
        "local",
        "summaries, cluster names and hierarchy",
        "llm",
        choices=("local", "openai", "azure"),
    ),
    Setting(
        "KURA_EMBEDDINGS", "choice", "local", "embeddings", "embeddings", choices=("local", "openai", "azure")
    ),
    Setting("KURA_SUMMARY_MODEL", "text", "gpt-4o-mini", "hosted chat model", "summary_model"),
    Setting(
        "KURA_EMBEDDING_MODEL", "text", "text-embedding-3-small", "hosted embedding model", "embedding_model"
    ),
    Setting(
        "KURA_CLUSTERING", "choice", "kmeans", "base clustering", "clustering", choices=("kmeans", "hdbscan")
    ),
    Setting(
        "KURA_TARGET_CLUSTER_SIZE",
        "int",
        30,
        "k-means: conversations per base cluster",
        "target_cluster_size",
        minimum=1,
        maximum=INT_LIMIT,
    ),
    Setting(
        "KURA_MAX_BASE_CLUSTERS",
        "int",
        5000,
        "k-means: most base clusters",
        "max_base_clusters",
        minimum=1,
        maximum=INT_LIMIT,
    ),
    Setting(
        "KURA_HDBSCAN_MIN_CLUSTER_SIZE",
        "int",
        5,
        "HDBSCAN's smallest cluster",
        "hdbscan_min_cluster_size",
        minimum=2,
        maximum=INT_LIMIT,
    ),
    Setting("KURA_LEXICAL_WEIGHT", "float", 0.5, "weight of each lexical view", "lexical_weight", minimum=0),
    Setting(
        "KURA_MANIFOLD",
        "choice",
        "umap",
        "space the base clusters are found in",
        "manifold",
        choices=("umap", "none"),
    ),
    Setting("KURA_MAX_ROOTS", "int", 10, "most roots of the tree", "max_roots", minimum=1, maximum=INT_LIMIT),
    # Below 1.5 the tree gets a level for every few clusters (and at 1 no level above the leaves).
    Setting(
        "KURA_META_BRANCHING",
        "float",
        4.0,
        "each tree level is this many times smaller",
        "meta_branching",
        minimum=1.5,
    ),
    Setting(
        "KURA_MIN_CLUSTER_SIZE",
        "int",
        10,
        "fewest conversations of a named cluster",
        "min_cluster_size",
        minimum=1,
        maximum=INT_LIMIT,
    ),
    Setting(
        "KURA_MIN_CLUSTER_USERS",
        "int",
        5,
        "fewest users of a named cluster",
        "min_cluster_users",
        minimum=1,
        maximum=INT_LIMIT,
    ),
    Setting("KURA_PRIVACY_AUDIT", "flag", False, "hosted privacy audit of cluster names", "privacy_audit"),
    Setting(
        "KURA_PRIVACY_MIN_SCORE",
        "int",
        3,
        "lowest accepted privacy score",
        "privacy_min_score",
        minimum=1,
        maximum=5,
    ),
    Setting("KURA_SEED", "int", 42, "seed of every model", "seed", minimum=0, maximum=SEED_LIMIT),
    Setting(
        "KURA_START_DATE",
        "date",
        None,
        "first day of the date partitions (unset: the landing zone's first day)",
        "start_date",
    ),
    Setting(
        "KURA_EXECUTOR",
        "choice",
        "in_process",
        "Dagster executor",
        "executor",
        choices=("in_process", "multiprocess", "k8s", "celery"),
    ),
    Setting(
        "KURA_MAX_CONCURRENT",
        "int",
        2,
        "runs (and multiprocess steps) at once",
        "max_concurrent",
        minimum=1,
        maximum=INT_LIMIT,
    ),
    Setting(
        "KURA_PARTITIONS_PER_RUN",
        "int",
        10,
        "most days of a dataset in one run",
        "partitions_per_run",
        minimum=1,
        maximum=INT_LIMIT,
    ),
    Setting(
        "KURA_WORKERS",
        "int",
        0,
        "processes for CPU-bound local work (0: one per core)",
        "workers",
        minimum=0,
        maximum=INT_LIMIT,
    ),
    Setting(
        "KURA_REPORT_INCLUDE_MESSAGES",
        "flag",
        False,
        "raw messages in the explorer pages",
        "report_include_messages",
    ),
    Setting(
        "KURA_TRENDS_WINDOW_DAYS",
        "int",
        28,
        "days a topic's status is judged from: the recent days and the baseline before them",
        "trends_window_days",
        minimum=2,
        maximum=INT_LIMIT,
    ),
    Setting(
        "KURA_TRENDS_RECENT_DAYS",
        "int",
        3,
        "last days of the trends window compared with the days before them",
        "trends_recent_days",
        minimum=1,
        maximum=INT_LIMIT,
    ),
    Setting(
        "KURA_TRENDS_MIN_COUNT",
        "int",
        5,
        "conversations a change needs on its larger side before a topic is judged",
        "trends_min_count",
        minimum=1,
        maximum=INT_LIMIT,
    ),
    Setting(
        "KURA_TRENDS_ALPHA",
        "float",
        0.001,
        "one-sided level of the trends test",
        "trends_alpha",
        minimum=1e-9,
        maximum=0.5,
    ),
    Setting(
        "KURA_TAXONOMY_WINDOW_DAYS",
        "int",
        28,
        "days of conversations each taxonomy version is clustered from",
        "taxonomy_window_days",
        minimum=1,
        maximum=INT_LIMIT,
    ),
    Setting(
        "KURA_TAXONOMY_SAMPLE_SIZE",
        "int",
        50_000,
        "most conversations a taxonomy clusters; the rest go to their nearest topic",
        "taxonomy_sample_size",
        minimum=100,
        maximum=INT_LIMIT,
    ),
    Setting(
        "KURA_LLM_CONCURRENCY",
        "int",
        20,
        "hosted calls in flight",
        "llm_concurrency",
        minimum=1,
        maximum=INT_LIMIT,
    ),
    Setting("KURA_LLM_TIMEOUT", "float", 60.0, "seconds per hosted call", "llm_timeout_s", minimum=0.1),
    Setting("KURA_LLM_BACKOFF", "float", 0.5, "first retry delay in seconds", "llm_backoff_s", minimum=0),
    Setting("KURA_MAX_USD", "float", 0.0, "spending cap per asset run (0: none)", "max_usd", minimum=0),
    Setting(
        "KURA_EMBEDDING_DIMENSIONS",
        "int",
        0,
        "shorter hosted vectors (0: the model's)",
        "embedding_dimensions",
        minimum=0,
        maximum=INT_LIMIT,
    ),
    Setting(
        "KURA_CUSTOM_FACETS",
        "structured",
        "",
        "extra summary facets",
        "custom_facets",
        accepts_text="a JSON object of facet name -> JSON schema",
        parse=_json_object_of_schemas,
    ),
    Setting(
        "KURA_PRICES",
        "structured",
        {},
        "price overrides in dollars per million tokens",
        "prices",
        accepts_text='JSON {"model": [input, output]} in dollars per million tokens, or a file holding it',
        parse=parse_prices,
    ),
    Setting(
        "KURA_SCHEDULE_CRON",
        "structured",
        "0 2 * * *",
        "the daily recluster's cron (UTC)",
        "schedule_cron",
        accepts_text='a cron expression of 5 fields such as "0 2 * * *"',
        parse=parse_cron,
    ),
    Setting(
        "KURA_MAX_SUMMARY_ERROR_RATE",
        "float",
        0.05,
        "largest share of failed summaries the check accepts",
        "max_summary_error_rate",
        minimum=0,
        maximum=1,
    ),
    Setting("OPENAI_API_KEY", "secret", None, "OpenAI key (read by Dagster as an EnvVar)"),
    Setting("OPENAI_BASE_URL", "url", None, "OpenAI-compatible endpoint (vLLM, Ollama)", "openai_base_url"),
    Setting("USE_AZURE_OPENAI", "flag", False, "send the hosted stages to Azure OpenAI"),
    Setting("AZURE_OPENAI_ENDPOINT", "url", None, "Azure OpenAI endpoint", "azure_endpoint"),
    Setting("AZURE_OPENAI_API_KEY", "secret", None, "Azure OpenAI key (read by Dagster as an EnvVar)"),
    Setting(
        "AZURE_OPENAI_API_VERSION", "text", "2024-10-21", "Azure OpenAI API version", "azure_api_version"
    ),
    Setting("AZURE_OPENAI_DEPLOYMENT_NAME", "text", None, "Azure chat deployment", "azure_deployment"),
    Setting(
        "AZURE_EMBEDDING_DEPLOYMENT_NAME",
        "text",
        None,
        "Azure embedding deployment",
        "azure_embedding_deployment",
    ),
)
SETTING_BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}


def read_setting(name: str, environ: Mapping[str, str] | None = None) -> object:
    """One setting's checked value from `environ` (default: the process's environment)."""
    return parse_setting(SETTING_BY_NAME[name], (os.environ if environ is None else environ).get(name))


def read_settings(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Every setting of the table, checked; the first bad one raises a SettingsError naming it."""
    environ = os.environ if environ is None else environ
    return {setting.name: read_setting(setting.name, environ) for setting in SETTINGS}


def _default(name: str):
    """A `Settings` field whose default is the one its row of SETTINGS declares (defaults are written there
    only): paths resolved when the settings are made, as the variable's text would be."""
    setting = SETTING_BY_NAME[name]
    if setting.kind == "path":
        return field(default_factory=lambda: parse_setting(setting, None))
    if isinstance(setting.default, dict):
        return field(default_factory=lambda: dict(setting.default), hash=False)
    return field(default=setting.default)


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with local defaults that need no network and no key (see SETTINGS)."""

    home: Path = _default("KURA_HOME")
    data_dir: Path = _default("KURA_DATA_DIR")
    llm: str = _default("KURA_LLM")
    embeddings: str = _default("KURA_EMBEDDINGS")
    summary_model: str = _default("KURA_SUMMARY_MODEL")
    embedding_model: str = _default("KURA_EMBEDDING_MODEL")
    clustering: str = _default("KURA_CLUSTERING")
    # Measured defaults (bench/quality.py): base clusters of about 30 conversations cluster intents as well as
    # finer ones did and stay above the privacy threshold of 10; see README "Quality".
    target_cluster_size: int = _default("KURA_TARGET_CLUSTER_SIZE")
    max_base_clusters: int = _default("KURA_MAX_BASE_CLUSTERS")
    hdbscan_min_cluster_size: int = _default("KURA_HDBSCAN_MIN_CLUSTER_SIZE")
    lexical_weight: float = _default("KURA_LEXICAL_WEIGHT")
    manifold: str = _default("KURA_MANIFOLD")
    max_roots: int = _default("KURA_MAX_ROOTS")
    meta_branching: float = _default("KURA_META_BRANCHING")
    min_cluster_size: int = _default("KURA_MIN_CLUSTER_SIZE")
    min_cluster_users: int = _default("KURA_MIN_CLUSTER_USERS")
    privacy_audit: bool = _default("KURA_PRIVACY_AUDIT")
    privacy_min_score: int = _default("KURA_PRIVACY_MIN_SCORE")
    seed: int = _default("KURA_SEED")
    start_date: str | None = _default("KURA_START_DATE")  # None: the landing zone's earliest day
    executor: str = _default("KURA_EXECUTOR")
    max_concurrent: int = _default("KURA_MAX_CONCURRENT")
    partitions_per_run: int = _default("KURA_PARTITIONS_PER_RUN")
    # Processes for CPU-bound local work (the extractive summariser); 0 = one per core this process may use.
    workers: int = _default("KURA_WORKERS")
    # Explorer and topics over time. Messages are raw conversation text: off unless asked for.
    report_include_messages: bool = _default("KURA_REPORT_INCLUDE_MESSAGES")
    trends_window_days: int = _default("KURA_TRENDS_WINDOW_DAYS")
    trends_recent_days: int = _default("KURA_TRENDS_RECENT_DAYS")
    trends_min_count: int = _default("KURA_TRENDS_MIN_COUNT")
    trends_alpha: float = _default("KURA_TRENDS_ALPHA")
    taxonomy_window_days: int = _default("KURA_TAXONOMY_WINDOW_DAYS")
    taxonomy_sample_size: int = _default("KURA_TAXONOMY_SAMPLE_SIZE")
    schedule_cron: str = _default("KURA_SCHEDULE_CRON")
    max_summary_error_rate: float = _default("KURA_MAX_SUMMARY_ERROR_RATE")
    # Hosted path (OpenAI-compatible endpoints). Keys stay in the environment: Dagster reads them by name.
    llm_concurrency: int = _default("KURA_LLM_CONCURRENCY")
    llm_timeout_s: float = _default("KURA_LLM_TIMEOUT")
    llm_backoff_s: float = _default("KURA_LLM_BACKOFF")
    max_usd: float = _default("KURA_MAX_USD")  # 0: no cap
    embedding_dimensions: int = _default("KURA_EMBEDDING_DIMENSIONS")  # 0: the model's own
    custom_facets: str = _default("KURA_CUSTOM_FACETS")
    prices: dict[str, tuple[float, float]] = _default("KURA_PRICES")
    openai_base_url: str | None = _default("OPENAI_BASE_URL")
    azure_endpoint: str | None = _default("AZURE_OPENAI_ENDPOINT")
    azure_api_version: str = _default("AZURE_OPENAI_API_VERSION")
    azure_deployment: str | None = _default("AZURE_OPENAI_DEPLOYMENT_NAME")
    azure_embedding_deployment: str | None = _default("AZURE_EMBEDDING_DEPLOYMENT_NAME")

    def __post_init__(self) -> None:
        # Values given directly (a notebook, a test) meet the same table as the environment's.
        for setting in SETTINGS:
            value = getattr(self, setting.field) if setting.field else None
            if value is not None:
                check_setting_value(setting, value)
        _ = (
            self.hosted_provider
        )  # KURA_LLM and KURA_EMBEDDINGS name one provider: say so now, not at the first call

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
            return self.azure_deployment or self.summary_model
        return self.summary_model

    @property
    def hosted_embedding_model(self) -> str:
        if self.embeddings == "azure":
            return self.azure_embedding_deployment or self.embedding_model
        return self.embedding_model

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
        """Settings from the environment and `.env`, every variable of the table checked: a bad value raises one
        SettingsError naming it. The one place the pipeline reads its settings from the environment: the command
        line calls it once, `kura_dagster.definitions` once when Dagster loads the code."""
        load_dotenv_once()
        values = read_settings()
        fields = {setting.field: values[setting.name] for setting in SETTINGS if setting.field}
        # The seed's switch: USE_AZURE_OPENAI=true sends the hosted stages to Azure OpenAI.
        if values["USE_AZURE_OPENAI"]:
            fields["llm"] = "azure" if fields["llm"] == "openai" else fields["llm"]
            fields["embeddings"] = "azure" if fields["embeddings"] == "openai" else fields["embeddings"]
        fields["privacy_audit"] = _privacy_audit(fields["llm"], fields["privacy_audit"])
        return cls(**fields)

    def prepare_home(self) -> None:
        """Create KURA_HOME and point numba's cache there, so UMAP compiles once per machine, not per run.

        A KURA_HOME that is a file, read-only or cannot be created raises a PathError naming it, here at
        start rather than as a traceback from whichever write comes first."""
        from kura_dagster.core.paths import PathError, ensure_writable_folder

        ensure_writable_folder(
            self.home,
            f"KURA_HOME={self.home}",
            "point KURA_HOME at a folder you can write (it holds kura.duckdb and the Dagster instance)",
        )
        dagster_home = self.dagster_home
        if dagster_home.exists() and not dagster_home.is_dir():
            raise PathError(
                f"DAGSTER_HOME={dagster_home}: is a file, not a folder; point DAGSTER_HOME at a folder "
                "(or unset it to use $KURA_HOME/dagster)"
            )
        os.environ.setdefault("NUMBA_CACHE_DIR", str(self.home / "numba_cache"))
