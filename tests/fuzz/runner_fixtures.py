"""Shared set-up of the fuzz runner's tests (imported by the test modules).

The runner is exercised on a fixture C core (fixture_csrc/: a `_codec` with a
planted heap overflow under -DBLAZEDB_PLANT_BUGS and an empty `_store`) and
fixture targets (fixture_target.py, fixture_clean_target.py,
fixture_branchy_target.py, fixture_compare_target.py,
fixture_allocating_target.py), so these tests
depend neither on the engine's progress nor on the real targets. Builds are
cached under build/fuzz-tests/ between runs (git-ignored, like build/).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from fuzz import build as fbuild
from fuzz import run as frun

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
FIXTURE_CSRC = HERE / "fixture_csrc"
BUILD_CACHE = REPO / "build" / "fuzz-tests"
TARGET = "tests.fuzz.fixture_target"
CLEAN_TARGET = "tests.fuzz.fixture_clean_target"
BRANCHY_TARGET = "tests.fuzz.fixture_branchy_target"
COMPARE_TARGET = "tests.fuzz.fixture_compare_target"
ALLOCATING_TARGET = "tests.fuzz.fixture_allocating_target"
# The input that overflows the fixture codec's 8-byte buffer: tag 0x7F, 16 bytes.
OVERFLOW_INPUT = b"\x7f\x10" + b"A" * 16

_missing = fbuild.toolchain_missing()
needs_clang = pytest.mark.skipif(_missing is not None, reason=f"no instrumented build here: {_missing}")
fuzzbuild = [pytest.mark.fuzzbuild, needs_clang]


def fixture_modules() -> list[fbuild.NativeModule]:
    return fbuild.engine_modules(FIXTURE_CSRC)


def config(tmp_path: Path, target: str = TARGET, **kw) -> frun.RunConfig:
    """A runner configuration whose corpus/, crashes/ and .blazefuzz/ live in tmp_path."""
    kw.setdefault("live", False)
    return frun.RunConfig(target=target, root=tmp_path, build_root=BUILD_CACHE,
                          modules=fixture_modules(), **kw)


def cli_env(tmp_path: Path) -> dict[str, str]:
    """The same redirection for the CLI (click's CliRunner or a subprocess)."""
    return {frun.ROOT_ENV: str(tmp_path), frun.BUILD_ROOT_ENV: str(BUILD_CACHE),
            frun.CSRC_ENV: str(FIXTURE_CSRC), "PYTHONPATH": str(REPO)}


def subprocess_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, **cli_env(tmp_path)}
