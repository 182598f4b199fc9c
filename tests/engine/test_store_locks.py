"""One writer per database file: LockedError between two Stores in one
process and between processes; readers in another process only ever see
committed states."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest

from engine.errors import LockedError
from tests.engine.store_support import MemFS, Store

ROOT = __file__.rsplit("/tests/", 1)[0]


def python(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.parametrize("where", ["memfs", "os"])
def test_a_second_writer_gets_locked_error_until_the_first_closes(where, tmp_path):
    fs = MemFS() if where == "memfs" else None
    path = "db" if fs else str(tmp_path / "db")
    first = Store(path, vfs=fs)
    with pytest.raises(LockedError):
        Store(path, vfs=fs)
    started = time.monotonic()
    with pytest.raises(LockedError):
        Store(path, vfs=fs, lock_timeout=0.2)
    assert time.monotonic() - started >= 0.19
    reader = Store(path, vfs=fs, readonly=True)       # readers take no writer lock
    reader.close()
    first.close()
    Store(path, vfs=fs).close()


def test_a_waiting_writer_gets_the_lock_when_it_is_released(tmp_path):
    path = str(tmp_path / "db")
    first = Store(path)
    threading.Timer(0.2, first.close).start()         # runs while the second one waits
    second = Store(path, lock_timeout=5.0)
    second.close()


def test_a_garbage_collected_store_releases_its_lock():
    fs = MemFS()
    Store("db", vfs=fs)                               # dropped at once, never closed
    Store("db", vfs=fs).close()


def test_threads_share_one_store_safely():
    fs = MemFS()
    s = Store("db", vfs=fs)
    s.create_tree("t")
    errors = []

    def work(n: int) -> None:
        try:
            for i in range(300):
                s.put("t", b"%d-%04d" % (n, i), b"v" * (i % 700))
                assert s.get("t", b"%d-%04d" % (n, i // 2)) is not None
        except Exception as error:      # reported below, with the thread's number
            errors.append((n, error))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert s.count("t") == 1200
    s.check()
    s.close()


def test_lock_between_processes(tmp_path):
    path = str(tmp_path / "db")
    holder = python(f"""
        import sys
        from engine._native import store
        s = store.Store({path!r})
        s.create_tree("t")
        print("locked", flush=True)
        sys.stdin.readline()
        s.close()
        print("closed", flush=True)
    """)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError):
            Store(path)
        with pytest.raises(LockedError):
            Store(path, lock_timeout=0.1)
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "closed"
        with Store(path, lock_timeout=2.0) as s:
            assert s.trees() == ["t"]
    finally:
        holder.kill()
        holder.wait()


def test_a_process_killed_while_writing_releases_its_lock(tmp_path):
    path = str(tmp_path / "db")
    victim = python(f"""
        from engine._native import store
        s = store.Store({path!r})
        s.create_tree("t")
        s.put("t", b"k", b"v")
        print("ready", flush=True)
        s.begin()
        while True:
            s.put("t", b"x", b"y" * 1000)
    """)
    assert victim.stdout.readline().strip() == "ready"
    victim.kill()
    victim.wait()
    with Store(path, lock_timeout=2.0) as s:
        assert s.get("t", b"k") == b"v" and s.get("t", b"x") is None


def test_a_reader_process_only_ever_sees_committed_states(tmp_path):
    """The writer keeps replacing one value that spans several pages (an
    overflow chain), with checkpoints in between; a reader in another process
    must always get a whole value of one commit, never pages of two."""
    path = str(tmp_path / "db")
    with Store(path) as s:
        s.create_tree("t")
        s.put("t", b"v", b"%08d" % 0 * 3000)
    reader = python(f"""
        from engine._native import store
        r = store.Store({path!r}, readonly=True)
        print("ready", flush=True)
        seen = set()
        for _ in range(2000):
            v = r.get("t", b"v")
            if v != v[:8] * 3000:
                print("TORN", len(v), flush=True)
                raise SystemExit(1)
            seen.add(v[:8])
        print("states", len(seen), flush=True)
    """)
    try:
        assert reader.stdout.readline().strip() == "ready"
        with Store(path, checkpoint_pages=30) as w:
            n = 0
            while reader.poll() is None and n < 20000:
                n += 1
                w.begin()
                w.put("t", b"v", b"%08d" % n * 3000)
                w.put("t", b"pad%d" % (n % 50), b"p" * 700)
                w.commit()
            stats = w.stats()
        out, err = reader.communicate(timeout=60)
        assert reader.returncode == 0, out + err
        assert int(out.split()[-1]) > 1, "the reader never saw a new commit"
        assert stats["checkpoints"] + stats["checkpoints_skipped"] > 0
    finally:
        reader.kill()
        reader.wait()
