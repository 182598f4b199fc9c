"""The daemon: picks up new artifacts (inotify or polling), survives bad input, stops cleanly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tests.triage import reports, support
from tests.triage.support import FAKE_REPRO_CMD, REPO
from triage.cli import triage
from triage.daemon import TriageDaemon, find_artifacts
from triage.ingest import Ingester
from triage.models import Bucket, QuarantineEntry, Testcase
from triage.reproduce import Reproducer

store, store_url = support.store, support.store_url  # shared fixtures


def count(store, model) -> int:
    return store.read(lambda s: s.scalar(select(func.count()).select_from(model)))


def wait_for(predicate, timeout=20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_find_artifacts_knows_every_artifact_kind_and_skips_the_rest(tmp_path):
    names = ["crash-1", "timeout-2", "oom-3", "leak-4", "slow-unit-5", "hypothesis-6",
             "crash-1.json", "README", ".crash-7.tmp", "crash-"]
    (tmp_path / "ops").mkdir()
    for name in names:
        (tmp_path / "ops" / name).write_bytes(b"x")
    assert sorted(p.name for p in find_artifacts([tmp_path])) == \
        ["crash-1", "hypothesis-6", "leak-4", "oom-3", "slow-unit-5", "timeout-2"]


def test_daemon_once_reproduces_dedups_and_empties_the_crash_dir(store, tmp_path):
    crashes = tmp_path / "crashes"
    for bug in range(3):
        for variant in range(2):
            reports.write_artifact(crashes / "ops", bug, variant)
    result = CliRunner().invoke(triage, ["daemon", "--once", "--crashes", str(crashes),
                                         "--store", store.url.render_as_string(False),
                                         "--repro-count", "1", "--no-minimize",
                                         "--repro-cmd", " ".join(FAKE_REPRO_CMD)])
    assert result.exit_code == 0, result.output
    assert "3 new buckets, 3 new testcases" in result.output
    assert count(store, Bucket) == 3 and count(store, Testcase) == 6
    assert not list((crashes / "ops").iterdir())


def test_bad_input_is_quarantined_and_the_daemon_keeps_going(store, tmp_path):
    crashes = tmp_path / "crashes" / "ops"
    crashes.mkdir(parents=True)
    (crashes / "crash-empty").write_bytes(b"")
    with open(crashes / "oom-huge", "wb") as handle:
        handle.truncate(100 << 20)
    (crashes / "crash-binary").write_bytes(os.urandom(64))
    (crashes / "crash-binary.json").write_bytes(b"\xff\xfe\x00garbage")
    (crashes / "crash-new\nline").write_bytes(b"bug=2;variant=0;")
    good = reports.write_artifact(crashes, 1, 0)
    daemon = TriageDaemon(Ingester(store), [tmp_path / "crashes"])
    stats = daemon.run_once(progress=False)
    assert stats.quarantined == 2 and stats.errors == 0
    assert stats.new_buckets + stats.new_testcases == 3
    assert not good.exists() and not list(crashes.iterdir())
    assert count(store, QuarantineEntry) == 2 and count(store, Testcase) == 3


def run_daemon_in_thread(daemon):
    thread = threading.Thread(target=daemon.run_forever, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("watcher", ["inotify", "polling"])
def test_daemon_picks_up_artifacts_written_while_it_runs(store, tmp_path, monkeypatch, watcher):
    if watcher == "polling":  # inotify unavailable: the polling observer takes over
        import watchdog.observers

        class Broken:
            def __init__(self, *args, **kwargs):
                raise OSError("inotify watch limit reached")
        monkeypatch.setattr(watchdog.observers, "Observer", Broken)
    crashes = tmp_path / "crashes"
    crashes.mkdir()
    daemon = TriageDaemon(Ingester(store), [crashes], settle_seconds=0.2, rescan_seconds=3600)
    thread = run_daemon_in_thread(daemon)
    try:
        time.sleep(0.5)
        for bug in range(2):
            reports.write_artifact(crashes / "ops", bug, 0)
        assert wait_for(lambda: count(store, Testcase) == 2), daemon.stats.line()
    finally:
        daemon.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert count(store, Bucket) == 2


def test_ctrl_c_stops_the_daemon_cleanly(store, tmp_path):
    crashes = tmp_path / "crashes"
    crashes.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-c", "from fuzz.cli import main; main()", "triage", "daemon",
         "--crashes", str(crashes), "--store", store.url.render_as_string(False), "--no-repro",
         "--no-minimize", "--settle", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 20
        reports.write_artifact(crashes / "ops", 0, 0)
        while count(store, Testcase) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "triage: 1 new buckets" in err and "Traceback" not in err


def test_an_unavailable_store_leaves_the_artifact_for_the_next_pass(store, tmp_path, monkeypatch):
    from triage.errors import StoreUnavailableError
    path = reports.write_artifact(tmp_path / "crashes" / "ops", 0, 0)
    ingester = Ingester(store)
    real = ingester.ingest
    calls = []

    def flaky_store(p):
        calls.append(p)
        if len(calls) == 1:
            raise StoreUnavailableError("store stayed locked")
        return real(p)
    monkeypatch.setattr(ingester, "ingest", flaky_store)
    daemon = TriageDaemon(ingester, [tmp_path / "crashes"])
    assert daemon.run_once(progress=False).errors == 1 and path.exists()
    assert daemon.run_once(progress=False).new_buckets == 1 and not path.exists()


def test_the_daemon_refuses_a_corrupt_store_with_exit_2(tmp_path):
    bad = tmp_path / "triage.sqlite"
    bad.write_bytes(b"garbage" * 1000)
    result = CliRunner().invoke(triage, ["daemon", "--once", "--crashes", str(tmp_path),
                                         "--store", f"sqlite:///{bad}"])
    assert result.exit_code == 2 and "not a usable database" in result.output


PLANTED_CODEC_INPUT = "QloBAQFzBQ9aYXAhaGVsbG8gd29ybGQ="  # heap overflow in the planted codec


@pytest.mark.slow
@pytest.mark.fuzzbuild
def test_the_real_runner_reproduces_a_planted_overflow_on_the_build_it_was_found_with(store, tmp_path):
    import base64
    import json
    if not (REPO / "build" / "fuzz" / "planted").is_dir():
        pytest.skip("no planted instrumented build (python -m fuzz.build --flavor planted)")
    path = tmp_path / "crashes" / "codec" / "crash-planted"
    path.parent.mkdir(parents=True)
    path.write_bytes(base64.b64decode(PLANTED_CODEC_INPUT))
    (tmp_path / "crashes" / "codec" / "crash-planted.json").write_text(json.dumps(
        {"target": "codec", "build_flavor": "planted-asan"}))  # no report: only repro can tell
    result = Ingester(store, Reproducer(cwd=REPO), repro_count=2).ingest(path)
    assert result.outcome == "new-bucket" and result.reliable is True
    bucket = store.read(lambda s: s.get(Bucket, result.bucket_id))
    assert bucket.crash_type == "heap-buffer-overflow WRITE" and bucket.severity == "high"
    assert "planted_bug" in bucket.frames[0]
