"""Several ingesters on one store, and ingesters killed with SIGKILL: exactly once, nothing lost."""
from __future__ import annotations

import hashlib
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.triage import reports, support
from tests.triage.support import HERE
from tests.triage.test_store import postgres_schema
from triage.models import Bucket, Testcase
from triage.store import open_store

WORKER = HERE / "ingest_worker.py"
ARTIFACTS = 200
WORKERS = 4

store_url = support.store_url  # shared fixture


def make_batch(directory: Path, count: int) -> dict[str, int]:
    """`count` artifacts over every fixture bug; returns sha256 -> bug."""
    expected = {}
    for i in range(count):
        bug = i % reports.BUG_COUNT
        path = reports.write_artifact(directory, bug, i)
        expected[hashlib.sha256(path.read_bytes()).hexdigest()] = bug
    return expected


def run_workers(url: str, directories: list[Path], home: Path) -> list[dict]:
    start = time.time() + 1.5  # every worker imported and waiting: a real race
    procs = [subprocess.Popen([sys.executable, str(WORKER), url, str(d), "--start-at", str(start),
                               "--home", str(home)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for d in directories]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def assert_exactly_once(url: str, expected: dict[str, int], home: Path) -> None:
    with open_store(url, home=home) as store:
        rows = store.read(lambda s: s.execute(select(Testcase.sha256, Testcase.bucket_id)).all())
        buckets = store.read(lambda s: s.scalar(select(func.count()).select_from(Bucket)))
    assert sorted(sha for sha, _ in rows) == sorted(expected), "every content exactly once"
    assert buckets == reports.BUG_COUNT
    bucket_of_bug: dict[int, int] = {}
    for sha, bucket_id in rows:
        assert bucket_of_bug.setdefault(expected[sha], bucket_id) == bucket_id, "one bucket per bug"
    assert len(set(bucket_of_bug.values())) == reports.BUG_COUNT


def four_ingesters_on_one_store(url: str, tmp_path: Path) -> None:
    expected = make_batch(tmp_path / "batch" / "ops", ARTIFACTS)
    copies = []
    for n in range(WORKERS):  # each worker ingests every one of the same 200 artifacts
        shutil.copytree(tmp_path / "batch", tmp_path / f"w{n}")
        copies.append(tmp_path / f"w{n}")
    results = run_workers(url, copies, tmp_path / "home")
    assert sum(r.get("new-bucket", 0) for r in results) == reports.BUG_COUNT
    assert sum(r.get("new-bucket", 0) + r.get("new-testcase", 0) for r in results) == ARTIFACTS
    assert sum(sum(r.values()) for r in results) == WORKERS * ARTIFACTS
    assert_exactly_once(url, expected, tmp_path / "home")
    for copy in copies:  # every artifact left its crash directory
        assert not list(copy.rglob("crash-*"))


@pytest.mark.slow
def test_four_processes_ingesting_the_same_200_artifacts_into_sqlite(store_url, tmp_path):
    four_ingesters_on_one_store(store_url, tmp_path)


@pytest.mark.slow
@pytest.mark.postgres
def test_four_processes_ingesting_the_same_200_artifacts_into_postgres(tmp_path):
    for url in postgres_schema():
        four_ingesters_on_one_store(url, tmp_path)


@pytest.mark.slow
@pytest.mark.chaos
def test_kill_9_in_the_middle_of_ingest_loses_nothing(store_url, tmp_path):
    crash_dir = tmp_path / "crashes"
    expected = make_batch(crash_dir / "ops", 60)
    open_store(store_url).close()  # schema first: kills then land in ingest, not in migration
    rng = random.Random(20261125)
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, str(WORKER), store_url, str(crash_dir)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.4, 1.2))  # start-up is ~0.4 s; then anywhere in the batch
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with open_store(store_url) as store:  # invariant after every kill: nothing lost
            stored = set(store.read(lambda s: s.scalars(select(Testcase.sha256)).all()))
        remaining = {hashlib.sha256(p.read_bytes()).hexdigest()
                     for p in (crash_dir / "ops").glob("crash-*") if p.suffix != ".json"}
        assert stored | remaining == set(expected), "every artifact is in the store or in crashes/"
    result = subprocess.run([sys.executable, str(WORKER), store_url, str(crash_dir)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert_exactly_once(store_url, expected, tmp_path / "home")
    assert not list((crash_dir / "ops").iterdir()), "no artifact or sidecar left behind"
    with open_store(store_url) as store:
        for sha in expected:
            data = store.testcase_path(sha).read_bytes()
            assert hashlib.sha256(data).hexdigest() == sha
        temps = list(store.testcases_dir.rglob("*.tmp"))
    # a kill during the atomic copy can leave a temp file, never a wrong final file
    assert all(t.name.startswith(".") for t in temps)
