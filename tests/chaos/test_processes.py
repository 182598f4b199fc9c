"""Chaos with real processes and real files: kill -9, file-size and descriptor
limits, and several processes on one database.

After every kill the database must hold exactly a committed prefix of the
workload: every transaction the writer reported as committed, plus at most the
one in flight (it may have committed before the report), never part of one.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from engine import BlazeDB, LockedError, ReadOnlyError

from ..scale import scaled
from .procs import ROOT, last_committed, read_line, start_writer
from .workload import actual_state, assert_state, committed_prefix, expected_state, make_workload

pytestmark = pytest.mark.chaos

TXNS = 400


def _kill_and_collect(proc) -> list[str]:
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    return rest.splitlines()


def _verify_prefix(path, seed: int, lines: list[str], txns: int) -> int:
    workload = make_workload(seed, txns)
    k = last_committed(lines)
    with BlazeDB(path) as db:
        return committed_prefix(db, workload, [k, k + 1])


def test_kill9_of_a_writer_at_random_points(tmp_path):
    rng = random.Random(11)
    for round_ in range(scaled(6)):
        path = tmp_path / f"kill{round_}.db"
        seed = 1000 + round_
        proc = start_writer(path, seed, TXNS)
        lines = [read_line(proc)]
        assert lines[0] == "opened"
        target = rng.randrange(1, 60)
        while last_committed(lines) < target:
            lines.append(read_line(proc))
        time.sleep(rng.uniform(0, 0.02))            # land anywhere inside the next transactions
        lines += _kill_and_collect(proc)
        k = _verify_prefix(path, seed, lines, TXNS)
        assert k >= target


def test_kill9_during_checkpoints(tmp_path):
    rng = random.Random(12)
    for round_ in range(scaled(6)):
        path = tmp_path / f"ckpt{round_}.db"
        seed = 2000 + round_
        proc = start_writer(path, seed, TXNS, "--checkpoint-each")
        lines = [read_line(proc)]
        target = rng.randrange(2, 40)
        while not lines[-1] == f"checkpoint-begin {target}":
            lines.append(read_line(proc))
        time.sleep(rng.uniform(0, 0.003))           # inside the checkpoint, most of the time
        lines += _kill_and_collect(proc)
        _verify_prefix(path, seed, lines, TXNS)


def test_file_size_limit_on_a_writer(tmp_path):
    path = tmp_path / "fsize.db"
    proc = start_writer(path, 3000, TXNS, "--fsize", str(96 * 1024))
    out, err = proc.communicate(timeout=120)
    lines = out.splitlines()
    errors = [line for line in lines if line.startswith("error ")]
    assert errors and errors[0].split()[1] == "DiskFullError", f"{lines[-3:]} {err[-1000:]}"
    k = last_committed(lines)
    assert 0 < k < TXNS
    with BlazeDB(path) as db:               # no limit here: recovery and check work
        assert_state(db, expected_state(make_workload(3000, TXNS), k))


def test_second_writer_gets_locked_error_or_waits(tmp_path):
    path = tmp_path / "lock.db"
    holder = start_writer(path, 4000, 3, "--hold", "2.0")
    assert read_line(holder) == "opened"
    impatient = start_writer(path, 4001, 3)
    out, _ = impatient.communicate(timeout=60)
    assert out.splitlines()[0].startswith("error LockedError"), out
    patient = start_writer(path, 4002, 3, "--lock-timeout", "30")
    out, err = patient.communicate(timeout=90)
    assert out.splitlines()[0] == "opened" and out.splitlines()[-1] == "closed", err[-2000:]
    holder.communicate(timeout=30)
    with BlazeDB(path) as db:
        db.check()


def test_two_handles_in_one_process_conflict(tmp_path):
    path = tmp_path / "inproc.db"
    with BlazeDB(path):
        with pytest.raises(LockedError):
            BlazeDB(path)
        with pytest.raises(LockedError):
            BlazeDB(path, lock_timeout=0.2)
    with BlazeDB(path) as db:                # released on close
        db.check()


def test_readers_during_writes_see_only_committed_states(tmp_path):
    path = tmp_path / "readers.db"
    seed, txns = 5000, 150
    workload = make_workload(seed, txns)
    prefixes = {k: expected_state(workload, k) for k in range(txns + 1)}
    BlazeDB(path).close()
    writer = start_writer(path, seed, txns)
    assert read_line(writer) == "opened"
    seen = []
    with BlazeDB(path, readonly=True) as reader:
        while writer.poll() is None:
            state = actual_state(reader)
            matches = [k for k, s in prefixes.items() if len(s) == len(state) and s == state]
            assert matches, f"reader saw a state that no commit produced ({len(state)} records)"
            seen.append(max(matches))
        writer.communicate(timeout=60)
        assert actual_state(reader) == prefixes[txns]
        with pytest.raises(ReadOnlyError):
            reader.insert({"x": 1})
    assert seen == sorted(seen), "a reader must never go back in time"
    assert len(set(seen)) > 1, "the reader should have seen several commits"


FD_CHILD = textwrap.dedent("""
    import json, os, resource, sys
    from engine import BlazeDB, TooManyOpenFilesError
    base = sys.argv[1]
    BlazeDB(os.path.join(base, "probe.db")).close()
    before = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (before + 24, before + 24))
    dbs, error = [], None
    try:
        for i in range(1000):
            dbs.append(BlazeDB(os.path.join(base, f"db{i}.db")))
    except TooManyOpenFilesError as exc:
        error = [type(exc).__name__, str(exc)]
    except Exception as exc:
        error = ["UNEXPECTED " + type(exc).__name__, str(exc)]
    opened = len(dbs)
    for db in dbs:
        db.close()
    after = len(os.listdir("/proc/self/fd"))
    with BlazeDB(os.path.join(base, "db0.db")) as db:
        db.insert({"still": "works"})
    print(json.dumps({"opened": opened, "error": error, "before": before, "after": after}))
""")


def test_file_descriptor_exhaustion(tmp_path):
    result = subprocess.run([sys.executable, "-c", FD_CHILD, str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["error"] and report["error"][0] == "TooManyOpenFilesError", report
    assert report["opened"] >= 1
    assert report["after"] == report["before"], f"descriptors leaked: {report}"
