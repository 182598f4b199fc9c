"""The scripts behind the Docker image and the OSS-Fuzz style build, run for
real (no Docker engine needed): the image is a thin wrapper around them."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fuzz import build as fbuild

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.fuzzbuild, pytest.mark.slow,
    pytest.mark.skipif(fbuild.toolchain_missing() is not None,
                       reason=f"no instrumented build possible: {fbuild.toolchain_missing()}"),
]


def _run(cmd, env_extra, timeout=600):
    env = {**os.environ, **env_extra}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_oss_fuzz_build_makes_a_runnable_harness_per_target(tmp_path):
    out = tmp_path / "out"
    proc = _run(["bash", "docker/oss-fuzz/build.sh"], {"OUT": str(out)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    from fuzz import targets
    for name in targets.names():
        assert os.access(out / name, os.X_OK), f"no executable harness for {name}"
        assert (out / f"{name}_seed_corpus.zip").stat().st_size > 0
    run = subprocess.run([str(out / "codec"), "-runs=50"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "BLAZEFUZZ_ROOT": str(tmp_path / "state")})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "no finding" in run.stdout + run.stderr


def test_container_roles_fuzz_and_triage_on_the_data_volume(tmp_path):
    data = {"DATA_DIR": str(tmp_path), "BLAZEFUZZ_HOME": str(tmp_path / "home")}
    worker = _run(["bash", "docker/entrypoint.sh", "worker"], {**data, "TARGET": "codec", "MAX_TIME": "3"})
    assert worker.returncode == 0, worker.stdout[-2000:] + worker.stderr[-2000:]
    assert any((tmp_path / "corpus" / "codec").iterdir()), "the worker's corpus is on the data volume"
    triage = _run(["bash", "docker/entrypoint.sh", "triage", "--once"], data)
    assert triage.returncode == 0, triage.stdout[-2000:] + triage.stderr[-2000:]
    assert (tmp_path / "home" / "triage.sqlite").exists(), "the triage store lives under BLAZEFUZZ_HOME"
