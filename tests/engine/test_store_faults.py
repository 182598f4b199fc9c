"""engine._store under injected faults: every FaultVFS fault kind maps to its
error class, a failed transaction rolls back in memory and the store stays
usable, and a power loss or torn write at any point loses nothing committed
(SQLite-style: count the calls a workload makes, then fail each one)."""
from __future__ import annotations

import random

import pytest

from engine.errors import (
    DiskFullError, ReadOnlyError, StorageError, TooManyOpenFilesError,
)
from tests.engine.store_support import (
    DB, FaultVFS, MemFS, Store, apply_txn, crash, make_workload, model, run_until_error,
    setup_trees, state_of,
)

pytestmark = pytest.mark.chaos

WORKLOAD = make_workload(seed=11, transactions=14)
SMALL_WAL = dict(checkpoint_pages=24)     # checkpoints happen inside the workload too
ERRORS = {"EIO": StorageError, "ENOSPC": DiskFullError, "EROFS": ReadOnlyError,
          "EMFILE": TooManyOpenFilesError}


def calls_made(op: str) -> int:
    vfs = FaultVFS(MemFS())
    s = Store(DB, vfs=vfs, **SMALL_WAL)
    setup_trees(s)
    assert run_until_error(s, WORKLOAD) == (len(WORKLOAD), None)
    s.close()
    return vfs.counts[op]


def spread(total: int, wanted: int = 40) -> list[int]:
    if total <= wanted:
        return list(range(1, total + 1))
    return sorted({1 + int(i * total / wanted) for i in range(wanted)} | {total})


def fresh_store(vfs):
    s = Store(DB, vfs=vfs, **SMALL_WAL)
    try:
        setup_trees(s)
    except BaseException:
        s.close()
        raise
    return s


@pytest.mark.parametrize("errno", sorted(ERRORS))
@pytest.mark.parametrize("op", ["write", "sync", "truncate", "any"])
def test_each_fault_raises_its_class_rolls_back_and_the_store_carries_on(op, errno):
    fs = MemFS()
    vfs = FaultVFS(fs)
    s = fresh_store(vfs)
    apply_txn(s, WORKLOAD[0])
    apply_txn(s, WORKLOAD[1])
    vfs.fail(op, nth=1, errno=errno, persistent=True)
    if op == "truncate":                           # the log is truncated by checkpoints
        with pytest.raises(ERRORS[errno]):
            s.checkpoint()
    else:
        with pytest.raises(ERRORS[errno]):
            apply_txn(s, WORKLOAD[2])
        assert not s.in_transaction
    assert state_of(s) == model(WORKLOAD, 2)       # nothing half-written is visible
    vfs.reset()                                    # the fault goes away
    for txn in WORKLOAD[2:]:
        apply_txn(s, txn)
    assert state_of(s) == model(WORKLOAD, len(WORKLOAD))
    s.check()
    s.close()
    with Store(DB, vfs=fs) as again:
        assert state_of(again) == model(WORKLOAD, len(WORKLOAD))


@pytest.mark.parametrize("errno", sorted(ERRORS))
def test_a_failing_open_raises_its_class_and_holds_no_lock(errno):
    fs = MemFS()
    with Store(DB, vfs=fs) as s:
        setup_trees(s)
    vfs = FaultVFS(fs)
    vfs.fail("open", nth=2, errno=errno)           # the WAL's open (the file's is #1)
    with pytest.raises(ERRORS[errno]):
        Store(DB, vfs=vfs)
    with Store(DB, vfs=vfs) as s:                  # nothing is left locked
        assert s.trees() == ["a", "b"]


def test_a_read_error_is_a_storage_error_and_later_reads_work():
    fs = MemFS()
    with Store(DB, vfs=fs) as s:
        setup_trees(s)
        for txn in WORKLOAD:
            apply_txn(s, txn)
    probe = FaultVFS(fs)
    with Store(DB, vfs=probe, cache_pages=16) as s:
        assert state_of(s) == model(WORKLOAD, len(WORKLOAD))
    total = probe.counts["read"]
    for n in spread(total, 25):
        vfs = FaultVFS(fs)
        vfs.fail("read", nth=n, errno="EIO")
        try:
            s = Store(DB, vfs=vfs, cache_pages=16)
        except StorageError:
            s = Store(DB, vfs=vfs, cache_pages=16)
        try:
            state = state_of(s)
        except StorageError:
            state = state_of(s)
        assert state == model(WORKLOAD, len(WORKLOAD))
        s.close()


@pytest.mark.parametrize("errno", ["ENOSPC", "EIO"])
def test_write_error_at_every_write_point(errno):
    total = calls_made("write")
    hits = 0
    for n in spread(total):
        fs = MemFS()
        vfs = FaultVFS(fs)
        vfs.fail("write", nth=n, errno=errno, persistent=True)
        try:
            s = fresh_store(vfs)
        except ERRORS[errno]:
            vfs.reset()
            s = fresh_store(vfs)
        committed, error = run_until_error(s, WORKLOAD)
        if error is not None:
            hits += 1
            assert type(error) is ERRORS[errno], f"write #{n}: {error!r}"
        vfs.reset()
        assert state_of(s) == model(WORKLOAD, committed)
        for txn in WORKLOAD[committed:]:
            apply_txn(s, txn)
        s.close()
        with Store(DB, vfs=fs) as again:
            assert state_of(again) == model(WORKLOAD, len(WORKLOAD))
            again.check()
    assert hits > 0


def test_power_loss_at_every_sync_point():
    total = calls_made("sync")
    assert total >= len(WORKLOAD) + 1            # one log sync per commit at least
    for n in range(1, total + 2):
        fs = MemFS()
        vfs = FaultVFS(fs)
        vfs.fail("sync", nth=n, errno="EIO", persistent=True)   # the power fails in sync #n
        committed = -1                                           # not even the trees
        try:
            s = Store(DB, vfs=vfs, **SMALL_WAL)
            try:
                setup_trees(s)
                committed, _ = run_until_error(s, WORKLOAD)
            except StorageError:
                pass
            crash(s, vfs)
        except StorageError:
            pass
        vfs.power_loss()                                         # unsynced bytes are gone
        with Store(DB, vfs=fs) as recovered:
            if committed < 0:
                assert recovered.trees() == []
            else:
                assert state_of(recovered) == model(WORKLOAD, committed), f"sync #{n}"
            recovered.check()


@pytest.mark.parametrize("power_loss", [False, True])
def test_torn_write_at_every_write_point(power_loss):
    rng = random.Random(5)
    total = calls_made("write")
    for n in spread(total, 30):
        fs = MemFS()
        vfs = FaultVFS(fs)
        vfs.tear(nth=n, keep=rng.randrange(0, 4200))
        committed = -1
        try:
            s = Store(DB, vfs=vfs, **SMALL_WAL)
            try:
                setup_trees(s)
                committed, _ = run_until_error(s, WORKLOAD)
            except StorageError:
                pass
            assert vfs.dead or committed == len(WORKLOAD)
            crash(s, vfs)
        except StorageError:
            pass
        if power_loss:
            vfs.power_loss()
        else:
            vfs.reset()             # the process died; what it wrote stays, torn tail included
        with Store(DB, vfs=fs) as recovered:
            state = state_of(recovered)
            if committed < 0:
                assert state in ({}, model(WORKLOAD, 0))
            elif power_loss:
                assert state == model(WORKLOAD, committed), f"write #{n}"
            else:
                # the transaction in flight may have reached the log whole
                assert state in (model(WORKLOAD, committed), model(WORKLOAD, committed + 1))
            recovered.check()


def test_dead_vfs_fails_everything_until_reset():
    fs = MemFS()
    vfs = FaultVFS(fs)
    s = fresh_store(vfs)
    vfs.tear(nth=1, keep=10)
    with pytest.raises(StorageError):
        apply_txn(s, WORKLOAD[0])
    assert vfs.dead
    with pytest.raises(StorageError):
        Store("other.db", vfs=vfs)
    vfs.reset()
    assert not vfs.dead
    apply_txn(s, WORKLOAD[0])
    s.close()


def test_fault_arguments_are_checked():
    vfs = FaultVFS(MemFS())
    with pytest.raises(ValueError):
        vfs.fail("chmod")
    with pytest.raises(ValueError):
        vfs.fail("write", errno="EPERM")
    with pytest.raises(ValueError):
        vfs.fail("write", nth=0)
    with pytest.raises(ValueError):
        FaultVFS().power_loss()                  # the OS cannot lose power on demand
    assert set(vfs.counts) == {"open", "read", "write", "sync", "truncate"}


def test_fault_vfs_over_the_os(tmp_path):
    vfs = FaultVFS()
    path = str(tmp_path / "f.db")
    with Store(path, vfs=vfs) as s:
        s.create_tree("t")
        vfs.fail("sync", errno="ENOSPC")
        with pytest.raises(DiskFullError):
            s.put("t", b"k", b"v")
        s.put("t", b"k", b"w")
    with Store(path) as s:
        assert s.get("t", b"k") == b"w"
