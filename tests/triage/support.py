"""Fixtures and helpers shared by the triage tests (imported by each test module).

Reproduction is faked by tests/triage/fake_runner.py, injected through the
Reproducer's command template exactly as `--repro-cmd` would.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parent.parent
FAKE_RUNNER = HERE / "fake_runner.py"
# The fake runner in report mode: prints the report of the bug its input names.
FAKE_REPRO_CMD = (sys.executable, str(FAKE_RUNNER), "--target", "{target}", "--repro", "{file}")


def fake_target_command(package: str = "fake_targets") -> tuple[str, ...]:
    """The fake runner in target mode: runs tests/triage/<package>/<target>.py on the input."""
    return FAKE_REPRO_CMD + ("--package", package)


def env_with_tests_on_path() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(REPO), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'triage.sqlite'}"


@pytest.fixture
def store(store_url):
    from triage.store import open_store
    opened = open_store(store_url, retry_seconds=2)
    yield opened
    opened.close()
