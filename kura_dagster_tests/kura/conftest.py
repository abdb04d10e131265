"""The real kura==0.5.4, in its own environment (`make kura-venv`; `make test` makes it first): its
requirements would move openai and rich in ours (instructor pins rich<15, and the resolver downgrades openai),
so its checks run as a subprocess of that interpreter."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from kura_dagster_tests.conftest import REPO

CHECKER = Path(__file__).with_name("real_kura_check.py")


def real_kura_python() -> Path:
    return Path(os.environ.get("KURA_REAL_PYTHON") or REPO / ".venv-kura" / "bin" / "python")


@pytest.fixture(scope="session")
def real_kura():
    """`check(*folders) -> report`: every Kura checkpoint file of the folders loaded by the real Kura."""
    python = real_kura_python()
    if not python.exists():
        pytest.fail(f"{python} is missing: run `make kura-venv` (it installs kura==0.5.4 into .venv-kura)")

    def check(*folders: Path) -> dict:
        done = subprocess.run(
            [str(python), str(CHECKER), *map(str, folders)], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    return check
