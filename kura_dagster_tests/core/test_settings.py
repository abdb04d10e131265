"""The table of settings: every variable declared once, checked by type and range with a message naming it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from kura_dagster.core.llm.usage import PriceTable
from kura_dagster.core.settings import (
    SETTING_BY_NAME,
    SETTINGS,
    Settings,
    SettingsError,
    parse_setting,
    read_setting,
    read_settings,
)

PACKAGE = Path(__file__).resolve().parents[2] / "kura_dagster"
README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_settings_field_is_in_the_table_once_with_the_same_default():
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    declared = [s.field for s in SETTINGS if s.field]
    assert sorted(declared) == sorted(fields), "a Settings field without a row in SETTINGS (or the reverse)"
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)
    defaults = Settings()
    for setting in SETTINGS:
        if setting.field is None:
            continue
        assert getattr(defaults, setting.field) == parse_setting(setting, None), setting.name


def test_every_variable_the_package_reads_is_in_the_table_and_read_through_it():
    """No reader bypasses the table: a KURA_* variable read with os.environ or getenv elsewhere would go unchecked."""
    direct = re.compile(
        r"""(?:environ(?:\.get)?\s*[\[(]|getenv\()\s*["']((?:KURA|OPENAI|AZURE|USE_AZURE)_\w+)"""
    )
    named = re.compile(r"""["']((?:KURA|OPENAI|AZURE|USE_AZURE)_[A-Z0-9_]+)["']""")
    for source in PACKAGE.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        if source.name != "settings.py":
            assert not direct.findall(text), f"{source} reads {direct.findall(text)} around the table"
        for name in named.findall(text):
            assert name in SETTING_BY_NAME, f"{source} names {name}, which the table does not declare"


def _readme_settings_table() -> dict[str, list[str]]:
    """The README's settings table: variable → the default cells of its rows (a variable listed twice has two)."""
    readme = README.read_text(encoding="utf-8")
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 3:
            rows.setdefault(cells[0].strip("`"), []).append(cells[1])
    return rows


def _shown_default(setting) -> str:
    """A declared default as the README writes it: `value`, `true`/`false`, or none for unset, "" and {}."""
    default = setting.default
    if default is None or default == "" or default == {}:
        return "none"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, float) and default.is_integer():
        return f"`{int(default)}`"
    return f"`{default}`"


def test_the_readme_settings_table_lists_exactly_the_declared_settings_with_their_defaults():
    rows = _readme_settings_table()
    assert sorted(rows) == sorted(s.name for s in SETTINGS), (
        "a setting missing from the README's table, or extra"
    )
    for setting in SETTINGS:
        [cell] = rows[setting.name]
        shown = _shown_default(setting)
        # The declared default, optionally followed by what it means: "`0` (no cap)".
        assert cell == shown or cell.startswith(shown + " ("), (
            f"{setting.name}: README says {cell}, declared {shown}"
        )


@pytest.mark.parametrize(
    "name, raw, message",
    [
        ("KURA_SEED", "-1", "KURA_SEED=-1: must be a whole number from 0 to 4294967295"),
        ("KURA_SEED", "4294967296", "KURA_SEED=4294967296: must be a whole number from 0 to 4294967295"),
        ("KURA_SEED", "4.2", "KURA_SEED=4.2: must be a whole number from 0 to 4294967295"),
        ("KURA_META_BRANCHING", "nan", "KURA_META_BRANCHING=nan: must be a number >= 1.5"),
        ("KURA_META_BRANCHING", "1", "KURA_META_BRANCHING=1: must be a number >= 1.5"),
        ("KURA_LEXICAL_WEIGHT", "inf", "KURA_LEXICAL_WEIGHT=inf: must be a number >= 0"),
        ("KURA_LEXICAL_WEIGHT", "-inf", "KURA_LEXICAL_WEIGHT=-inf: must be a number >= 0"),
        ("KURA_LEXICAL_WEIGHT", "1e999", "KURA_LEXICAL_WEIGHT=1e999: must be a number >= 0"),
        ("KURA_LEXICAL_WEIGHT", "half", "KURA_LEXICAL_WEIGHT=half: must be a number >= 0"),
        ("KURA_MAX_ROOTS", "0", "KURA_MAX_ROOTS=0: must be a whole number >= 1"),
        (
            "KURA_MAX_ROOTS",
            "99999999999",
            "KURA_MAX_ROOTS=99999999999: must be a whole number from 1 to 2147483647",
        ),
        ("KURA_PRIVACY_MIN_SCORE", "6", "KURA_PRIVACY_MIN_SCORE=6: must be a whole number from 1 to 5"),
        (
            "KURA_MAX_SUMMARY_ERROR_RATE",
            "1.5",
            "KURA_MAX_SUMMARY_ERROR_RATE=1.5: must be a number from 0 to 1",
        ),
        ("KURA_LLM_TIMEOUT", "0", "KURA_LLM_TIMEOUT=0: must be a number >= 0.1"),
        ("KURA_LLM", "gpt4", "KURA_LLM=gpt4: must be one of local, openai, azure"),
        ("KURA_EXECUTOR", "dask", "KURA_EXECUTOR=dask: must be one of in_process, multiprocess, k8s, celery"),
        (
            "KURA_PRIVACY_AUDIT",
            "maybe",
            "KURA_PRIVACY_AUDIT=maybe: must be true or false (or 1/0, yes/no, on/off)",
        ),
        ("USE_AZURE_OPENAI", "si", "USE_AZURE_OPENAI=si: must be true or false (or 1/0, yes/no, on/off)"),
        ("KURA_START_DATE", "2024-02-30", "KURA_START_DATE=2024-02-30: must be a date YYYY-MM-DD"),
        ("KURA_START_DATE", "20240101", "KURA_START_DATE=20240101: must be a date YYYY-MM-DD"),
        (
            "OPENAI_BASE_URL",
            "localhost:11434",
            "OPENAI_BASE_URL=localhost:11434: must be an http:// or https:// URL",
        ),
        (
            "KURA_SCHEDULE_CRON",
            "0 25 * * *",
            'KURA_SCHEDULE_CRON=0 25 * * *: must be a cron expression of 5 fields such as "0 2 * * *" '
            "('25' is not within 0-23)",
        ),
        (
            "KURA_SCHEDULE_CRON",
            "daily",
            "KURA_SCHEDULE_CRON=daily: must be a cron expression of 5 fields such as "
            '"0 2 * * *" (1 fields, not 5)',
        ),
    ],
)
def test_a_bad_value_is_named_with_what_the_variable_accepts(name, raw, message):
    with pytest.raises(SettingsError) as raised:
        read_setting(name, {name: raw})
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "name, raw, expected",
    [
        ("KURA_SEED", " 7 ", 7),
        ("KURA_SEED", "", 42),  # empty means the default
        ("KURA_SEED", "4294967295", 4294967295),
        ("KURA_META_BRANCHING", "2", 2.0),
        ("KURA_LLM", "OpenAI", "openai"),
        ("KURA_PRIVACY_AUDIT", "Yes", True),
        ("KURA_REPORT_INCLUDE_MESSAGES", "0", False),
        ("KURA_START_DATE", "2023-06-01", "2023-06-01"),
        ("KURA_SCHEDULE_CRON", "*/15 0-6 1,15 jan-mar mon-fri", "*/15 0-6 1,15 jan-mar mon-fri"),
        ("KURA_SCHEDULE_CRON", "@daily", "@daily"),
        ("KURA_SCHEDULE_CRON", "0 2 L * *", "0 2 L * *"),  # Quartz forms Dagster accepts
        ("KURA_PRICES", '{"m": [0.5, 1.5]}', {"m": (0.5, 1.5)}),
        ("OPENAI_BASE_URL", "http://localhost:11434/v1", "http://localhost:11434/v1"),
    ],
)
def test_good_values_are_read_as_their_type(name, raw, expected):
    assert read_setting(name, {name: raw}) == expected


def test_json_settings_are_checked_at_start(tmp_path):
    facets = SETTING_BY_NAME["KURA_CUSTOM_FACETS"]
    assert parse_setting(facets, '{"mood": {"type": "string"}}') == '{"mood": {"type": "string"}}'
    with pytest.raises(
        SettingsError, match=r"^KURA_CUSTOM_FACETS=\{bad: must be a JSON object of facet name"
    ):
        parse_setting(facets, "{bad")
    with pytest.raises(SettingsError, match=r"^KURA_CUSTOM_FACETS=\[\]: must be a JSON object"):
        parse_setting(facets, "[]")
    prices = tmp_path / "prices.json"
    prices.write_text('{"my-model": [1, 2]}')
    assert read_setting("KURA_PRICES", {"KURA_PRICES": str(prices)}) == {"my-model": (1.0, 2.0)}
    prices.write_text('{"my-model": [1]}')
    with pytest.raises(SettingsError, match=r"^KURA_PRICES=.*prices.json: must be JSON .*'my-model' is not"):
        read_setting("KURA_PRICES", {"KURA_PRICES": str(prices)})
    # a file's path is named whole however long (an inline value over 80 characters is cut)
    deep = tmp_path / ("a-folder-with-a-long-name-" * 4) / "prices.json"
    deep.parent.mkdir()
    deep.write_text('{"my-model": [1]}')
    with pytest.raises(SettingsError) as raised:
        read_setting("KURA_PRICES", {"KURA_PRICES": str(deep)})
    assert str(raised.value).startswith(f"KURA_PRICES={deep}: must be JSON")
    with pytest.raises(SettingsError, match=r"^KURA_PRICES=\{\"m\": \[1\], .{66}\.\.\.: must be JSON"):
        read_setting(
            "KURA_PRICES",
            {"KURA_PRICES": '{"m": [1], ' + ", ".join(f'"x{i}": [1, 2]' for i in range(20)) + "}"},
        )
    with pytest.raises(SettingsError, match="negative or infinite"):
        read_setting("KURA_PRICES", {"KURA_PRICES": '{"m": [-1, 2]}'})


def test_settings_from_env_carries_what_the_schedule_the_checks_and_the_price_table_read(monkeypatch):
    """KURA_SCHEDULE_CRON, KURA_MAX_SUMMARY_ERROR_RATE and KURA_PRICES go through Settings like every other
    variable: a bad one stops Settings.from_env, which the command line and the definitions call first."""
    for name, raw in (
        ("KURA_SCHEDULE_CRON", "every day"),
        ("KURA_MAX_SUMMARY_ERROR_RATE", "-1"),
        ("KURA_PRICES", "cheap"),
    ):
        monkeypatch.setenv(name, raw)
        with pytest.raises(SettingsError, match=f"^{name}="):
            Settings.from_env()
        monkeypatch.delenv(name)
    monkeypatch.setenv("KURA_PRICES", '{"gpt-4o-mini": [1, 2]}')
    monkeypatch.setenv("KURA_SCHEDULE_CRON", "30 5 * * *")
    monkeypatch.setenv("KURA_MAX_SUMMARY_ERROR_RATE", "0.2")
    settings = Settings.from_env()
    assert PriceTable.with_overrides(settings.prices).prices["gpt-4o-mini"] == (1.0, 2.0)
    assert (settings.schedule_cron, settings.max_summary_error_rate) == ("30 5 * * *", 0.2)


def test_every_bad_setting_of_the_table_is_caught_by_read_settings():
    assert read_settings({})["KURA_SEED"] == 42
    for setting in SETTINGS:
        bad = {
            "int": "1.5x",
            "float": "nan",
            "choice": "nope",
            "flag": "nope",
            "date": "yesterday",
            "url": "nope",
            "structured": "{",
        }.get(setting.kind)
        if bad is None:  # paths, free text and secrets take any value
            continue
        with pytest.raises(SettingsError, match=f"^{setting.name}="):
            read_settings({setting.name: bad})


def test_values_given_directly_meet_the_same_table():
    with pytest.raises(SettingsError, match="^KURA_SEED=-1: must be a whole number from 0 to 4294967295$"):
        Settings(seed=-1)
    with pytest.raises(SettingsError, match="^KURA_META_BRANCHING=nan: must be a number >= 1.5$"):
        Settings(meta_branching=float("nan"))
    with pytest.raises(SettingsError, match="^KURA_CLUSTERING=dbscan: must be one of kmeans, hdbscan$"):
        Settings(clustering="dbscan")
    with pytest.raises(SettingsError, match="must use the same provider"):
        Settings(llm="openai", embeddings="azure")


def test_secrets_and_url_passwords_are_never_echoed():
    with pytest.raises(SettingsError) as raised:
        read_setting("OPENAI_BASE_URL", {"OPENAI_BASE_URL": "ftp://user:s3cret@host/v1"})
    assert "s3cret" not in str(raised.value) and str(raised.value).startswith(
        "OPENAI_BASE_URL=ftp://...@host/v1"
    )
