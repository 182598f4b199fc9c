"""WAL, recovery and checkpoints of engine._store (engine/doc/wal_format.md)."""
from __future__ import annotations

import struct

import pytest

from engine.errors import CorruptDatabaseError
from tests.engine.store_support import (
    DB, FaultVFS, MemFS, Store, apply_txn, crash, make_workload, model, setup_trees, state_of,
)

WAL = DB + "-wal"
PAGE = 4096
FRAME = 24 + PAGE
WAL_HEADER = 32
BIG = dict(checkpoint_pages=100000)       # no auto-checkpoint: the WAL keeps everything


def committed_then_crashed(workload, upto: int, **opts) -> tuple[MemFS, FaultVFS]:
    """Runs `upto` transactions and crashes without close (no checkpoint)."""
    fs = MemFS()
    vfs = FaultVFS(fs)
    s = Store(DB, vfs=vfs, **opts)
    setup_trees(s)
    for txn in workload[:upto]:
        apply_txn(s, txn)
    crash(s, vfs)
    vfs.reset()
    return fs, vfs


def frames(wal: bytes) -> list[tuple[int, int, int]]:
    """(pgno, commit, txn) of every whole frame in the log bytes."""
    out = []
    for off in range(WAL_HEADER, len(wal) - FRAME + 1, FRAME):
        pgno, commit, txn = struct.unpack_from("<IIQ", wal, off)
        out.append((pgno, commit, txn))
    return out


def test_recovery_replays_every_committed_transaction():
    work = make_workload(seed=1, transactions=25)
    fs, _ = committed_then_crashed(work, 25, **BIG)
    assert len(fs.read_file(WAL)) > WAL_HEADER            # it is all in the log
    with Store(DB, vfs=fs) as s:
        assert state_of(s) == model(work, 25)
        s.check()


def test_recovery_ignores_the_uncommitted_tail_and_is_idempotent():
    work = make_workload(seed=2, transactions=10)
    fs, _ = committed_then_crashed(work, 10, **BIG)
    wal = fs.read_file(WAL)
    fr = frames(wal)
    commits = [i for i, f in enumerate(fr) if f[1]]
    assert len(commits) == 11 and commits[-1] == len(fr) - 1   # trees + 10 txns, each ending in a commit frame
    # Drop the last commit frame: the last transaction becomes uncommitted.
    fs.write_file(WAL, wal[:WAL_HEADER + commits[-1] * FRAME])
    for _ in range(3):                                      # recovering again changes nothing
        vfs = FaultVFS(fs)
        s = Store(DB, vfs=vfs, **BIG)
        assert state_of(s) == model(work, 9)
        crash(s, vfs)
    with Store(DB, vfs=fs) as s:
        assert state_of(s) == model(work, 9)
        apply_txn(s, work[9])                               # the writer carries on after it
        assert state_of(s) == model(work, 10)
    with Store(DB, vfs=fs) as s:
        assert state_of(s) == model(work, 10)


@pytest.mark.parametrize("cut", [1, 24, 100, FRAME - 1])
def test_a_torn_last_frame_is_dropped_with_its_transaction(cut):
    work = make_workload(seed=3, transactions=6)
    fs, _ = committed_then_crashed(work, 6, **BIG)
    wal = fs.read_file(WAL)
    fs.write_file(WAL, wal[:len(wal) - FRAME + cut])        # the commit frame is torn
    with Store(DB, vfs=fs) as s:
        assert state_of(s) == model(work, 5)
        s.check()


def test_a_corrupt_frame_ends_recovery_there():
    work = make_workload(seed=4, transactions=8)
    fs, _ = committed_then_crashed(work, 8, **BIG)
    wal = bytearray(fs.read_file(WAL))
    fr = frames(bytes(wal))
    commits = [i for i, f in enumerate(fr) if f[1]]
    victim = commits[5] + 1                                  # first frame of the 6th workload txn
    wal[WAL_HEADER + victim * FRAME + 24 + 100] ^= 0x01
    fs.write_file(WAL, bytes(wal))
    with Store(DB, vfs=fs) as s:
        # trees + 5 transactions survive; everything from the damaged frame on is gone
        assert state_of(s) == model(work, 5)


def test_frames_of_an_older_log_generation_are_not_replayed():
    work = make_workload(seed=5, transactions=6)
    fs = MemFS()
    with Store(DB, vfs=fs, **BIG) as s:
        setup_trees(s)
        for txn in work[:3]:
            apply_txn(s, txn)
        old_wal = fs.read_file(WAL)
        s.checkpoint()
        apply_txn(s, work[3])
        new_wal = fs.read_file(WAL)
        assert len(new_wal) < len(old_wal)
    # Splice the old generation's frames after the new log: they carry another
    # salt and break the checksum chain, so they must be ignored.
    fs.write_file(WAL, new_wal + old_wal[len(new_wal):])
    with Store(DB, vfs=fs) as s:
        assert state_of(s) == model(work, 4)


def test_a_corrupt_log_header_means_an_empty_log():
    fs = MemFS()
    with Store(DB, vfs=fs) as s:
        s.create_tree("t")
        s.put("t", b"k", b"v")
    fs.write_file(WAL, b"garbage" * 100)
    with Store(DB, vfs=fs) as s:
        assert s.get("t", b"k") == b"v"        # checkpointed on close, so nothing was lost
        s.put("t", b"k2", b"v2")
    with Store(DB, vfs=fs) as s:
        assert s.get("t", b"k2") == b"v2"


def test_commit_writes_frames_and_syncs_the_log_once():
    fs = MemFS()
    vfs = FaultVFS(fs)
    with Store(DB, vfs=vfs) as s:
        s.create_tree("t")
        for size in (10, 5000, 100000):
            before = dict(vfs.counts)
            s.begin()
            s.put("t", b"k%d" % size, b"x" * size)
            s.commit()
            assert vfs.counts["sync"] - before["sync"] == 1
        before = dict(vfs.counts)
        s.begin()
        s.commit()                                  # an empty transaction does no I/O
        assert vfs.counts == before


def test_auto_checkpoint_beyond_checkpoint_pages_and_on_close():
    fs = MemFS()
    s = Store(DB, vfs=fs, checkpoint_pages=50)
    s.create_tree("t")
    for i in range(400):
        s.put("t", b"%05d" % i, b"v" * 300)
        assert s.stats()["wal_frames"] <= 50 + 10
    assert s.stats()["checkpoints"] >= 5
    s.close()
    assert len(fs.read_file(WAL)) == WAL_HEADER
    assert len(fs.read_file(DB)) % PAGE == 0
    with Store(DB, vfs=fs) as s:
        assert s.count("t") == 400


def test_explicit_checkpoint_empties_the_log():
    fs = MemFS()
    with Store(DB, vfs=fs, **BIG) as s:
        s.create_tree("t")
        for i in range(50):
            s.put("t", b"%03d" % i, b"v")
        assert s.stats()["wal_frames"] > 50
        s.checkpoint()
        assert s.stats()["wal_frames"] == 0
        assert len(fs.read_file(WAL)) == WAL_HEADER
        assert s.count("t") == 50


def test_freed_pages_are_reused():
    fs = MemFS()
    with Store(DB, vfs=fs) as s:
        s.create_tree("t")
        s.begin()
        for i in range(2000):
            s.put("t", b"%05d" % i, b"v" * 500)
        s.commit()
        pages = s.stats()["pages"]
        s.clear("t")
        assert s.stats()["free_pages"] > pages // 2
        s.begin()
        for i in range(2000):
            s.put("t", b"%05d" % i, b"w" * 500)
        s.commit()
        assert s.stats()["pages"] <= pages + 2        # grown by at most a page or two
        s.check()


def test_a_damaged_page_is_reported_by_number():
    fs = MemFS()
    with Store(DB, vfs=fs) as s:
        s.create_tree("t")
        s.begin()
        for i in range(500):
            s.put("t", b"%04d" % i, b"v" * 100)
        s.commit()
    data = bytearray(fs.read_file(DB))
    victim = len(data) // PAGE - 1                   # the last page: a tree page
    data[victim * PAGE + 50] ^= 0xFF
    fs.write_file(DB, bytes(data))
    with Store(DB, vfs=fs) as s:
        with pytest.raises(CorruptDatabaseError) as caught:
            s.check()
        assert caught.value.page == victim
        assert str(victim) in str(caught.value)
