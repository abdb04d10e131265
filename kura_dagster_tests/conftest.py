"""Shared fixtures: small themed conversations made here, temporary KURA_HOME and landing zones."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kura_dagster.core.types import Conversation, Message

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATA = REPO / "data"

# Four clearly different themes, several phrasings each, so clustering has a right answer.
THEMES: dict[str, list[str]] = {
    "pandas": [
        "My pandas merge raises a KeyError on the customer_id column, how do I fix the dataframe merge?",
        "pandas dataframe merge gives KeyError even though the column exists in both dataframes",
        "How do I merge two pandas dataframes on a column without getting a KeyError?",
        "Getting KeyError when I call df.merge in pandas, the join column looks right",
    ],
    "refund": [
        "I want a refund for my order, the blender arrived broken and I want my money back",
        "How do I get my money back? Requesting a refund for a damaged blender order",
        "Please refund order 4411, the item was broken on arrival and I want a refund",
        "Refund request: my order came damaged, how long does the refund take?",
    ],
    "password": [
        "I forgot my password and the reset email never arrives, I cannot log in",
        "Password reset link is not arriving in my inbox, locked out of my account",
        "How do I reset my password? The reset email does not come and I can't log in",
        "Can't log in, forgot password, reset email missing",
    ],
    "docker": [
        "docker build fails with no space left on device while installing packages in the image",
        "My Dockerfile build stops with an error during pip install inside the docker image",
        "Why does docker build fail at the RUN apt-get step of my Dockerfile?",
        "docker image build error: the Dockerfile RUN step exits with code 100",
    ],
}


def make_conversations(per_theme: int = 12, *, seed: int = 0, day: str = "2026-11-01") -> list[Conversation]:
    """Deterministic multi-turn conversations over THEMES; chat ids carry the theme for assertions."""
    rng = random.Random(seed)
    start = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
    conversations = []
    for theme, phrasings in THEMES.items():
        for i in range(per_theme):
            opening = phrasings[i % len(phrasings)]
            messages = [
                Message(role="user", content=opening),
                Message(role="assistant", content="Here is what usually fixes this, step by step."),
            ]
            if i % 3 == 0:
                messages += [
                    Message(role="user", content="That didn't work, I am still getting the same error!!"),
                    Message(role="assistant", content="Sorry about that, let's try another way."),
                ]
            conversations.append(
                Conversation(
                    chat_id=f"{theme}-{i:03d}",
                    created_at=start + timedelta(minutes=rng.randrange(0, 24 * 60 - 1)),
                    messages=messages,
                    metadata={"user_id": f"u{rng.randrange(40):03d}", "model": "test-model"},
                )
            )
    return conversations


def write_jsonl(path: Path, conversations: list[Conversation]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(c.model_dump(mode="json")) + "\n" for c in conversations), encoding="utf-8"
    )
    return path


def write_days(data_dir: Path, dataset: str, days: tuple[str, ...], per_theme: int = 4) -> None:
    """A landing zone of `days` for `dataset`: different conversations each day (seeded by the day's place),
    chat ids prefixed with the day so that no two days share one."""
    for seed, day in enumerate(days):
        conversations = make_conversations(per_theme=per_theme, seed=seed, day=day)
        for conversation in conversations:
            conversation.chat_id = f"{day}-{conversation.chat_id}"
        write_jsonl(data_dir / dataset / f"{day}.jsonl", conversations)


def assert_versions_continue_the_first(duckdb_path: Path, days: tuple[str, ...]) -> None:
    """The first day's taxonomy version has only births, and each later one was built from the version of the
    day before (written by an earlier run): the first day's topics continue (kept, renamed or split)."""
    from kura_dagster.core.storage.store import connect, qualified

    with connect(duckdb_path, read_only=True) as connection:
        events = connection.execute(
            f"SELECT CAST(version AS VARCHAR), event, count(*) FROM {qualified(connection, 'topic_lineage')} "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    by_day = {day: {event: n for version, event, n in events if version == day} for day in days}
    assert set(by_day[days[0]]) == {"born"}
    for day in days[1:]:
        continued = sum(n for event, n in by_day[day].items() if event in ("kept", "renamed", "split"))
        assert continued >= by_day[days[0]]["born"] - 1, (day, by_day)


@contextmanager
def kura_home_at(root: Path) -> Iterator:
    """Settings of a private KURA_HOME, landing zone and Dagster instance under `root`, with the environment and
    working directory set as a person's shell would have them (for module-scoped pipeline fixtures)."""
    from kura_dagster.core.settings import Settings

    with pytest.MonkeyPatch.context() as env:
        for name, value in (
            ("KURA_HOME", root / "home"),
            ("KURA_DATA_DIR", root / "data"),
            ("DAGSTER_HOME", root / "home" / "dagster"),
        ):
            env.setenv(name, str(value))
        env.chdir(root)
        settings = Settings.from_env()
        settings.prepare_home()
        yield settings


@pytest.fixture
def conversations() -> list[Conversation]:
    return make_conversations()


@pytest.fixture
def kura_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private KURA_HOME, landing zone and Dagster instance for one test."""
    monkeypatch.setenv("KURA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KURA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    monkeypatch.chdir(tmp_path)
    return tmp_path
