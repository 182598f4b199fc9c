"""Chaos: a fault planted at every write, sync and read point of a workload.

After each fault the database must hold exactly the transactions whose commit
returned (all of every one, nothing of the others), pass check(), raise the
documented error class, and stay usable once the fault is gone.
"""
from __future__ import annotations

import random

import pytest

from engine import BlazeDB, DiskFullError, ReadOnlyError, StorageError

from ..scale import scaled
from .faults import DB, abandon, calls_made, fault_points, run_until_error
from .workload import (FaultVFS, MemFS, actual_state, apply_txn, assert_state,
                       committed_prefix, expected_state, make_workload)

pytestmark = pytest.mark.chaos

WORKLOAD = make_workload(seed=20261125, transactions=10, ops_per_txn=5)
FULL = expected_state(WORKLOAD, len(WORKLOAD))
SMALL_WAL = {"checkpoint_pages": 16}   # checkpoints happen inside the workload too


def _open_despite(vfs, error_class):
    """Opens the database; if the planted fault hits the open itself, the
    error must be `error_class`, and after the fault clears the open works."""
    try:
        return BlazeDB(DB, vfs=vfs, **SMALL_WAL), 0
    except error_class:
        vfs.reset()
        return BlazeDB(DB, vfs=vfs, **SMALL_WAL), 0


@pytest.mark.parametrize("errno,error_class", [("ENOSPC", DiskFullError), ("EROFS", ReadOnlyError),
                                               ("EIO", StorageError)])
def test_write_error_at_every_write_point(errno, error_class):
    total = calls_made(WORKLOAD, "write", **SMALL_WAL)
    hit = 0
    for n in fault_points(total, scaled(60)):
        vfs = FaultVFS(MemFS())
        vfs.fail("write", nth=n, errno=errno, persistent=True)
        db, _ = _open_despite(vfs, error_class)
        committed, error = run_until_error(db, WORKLOAD)
        if error is not None:
            hit += 1
            assert type(error) is error_class, f"write #{n}: {type(error).__name__}: {error}"
        vfs.reset()                                     # the space / the disk comes back
        assert_state(db, expected_state(WORKLOAD, committed))
        for txn in WORKLOAD[committed:]:                # and the same handle carries on
            apply_txn(db, txn)
        assert_state(db, FULL)
        db.close()
        with BlazeDB(DB, vfs=vfs) as reopened:
            assert_state(reopened, FULL)
    assert hit > 0, "no planted fault was ever reached: the workload does not write?"


def _crash_with(plant) -> tuple[MemFS, FaultVFS, int]:
    """Runs the workload on a fresh MemFS with a fault planted by `plant(vfs)`,
    until the fault stops it; then the process "dies" (abandon). Returns the
    file system, the fault VFS and how many commits returned."""
    fs = MemFS()
    vfs = FaultVFS(fs)
    plant(vfs)
    try:
        db = BlazeDB(DB, vfs=vfs, **SMALL_WAL)
    except StorageError:
        return fs, vfs, 0
    committed, _ = run_until_error(db, WORKLOAD)
    abandon(db, vfs)
    return fs, vfs, committed


def test_power_loss_at_every_sync_point():
    total = calls_made(WORKLOAD, "sync", **SMALL_WAL)
    assert total >= len(WORKLOAD), "every commit must sync the log at least once"
    for n in fault_points(total + 1, scaled(60)):
        # power fails during sync #n
        fs, vfs, committed = _crash_with(lambda vfs: vfs.fail("sync", nth=n, errno="EIO", persistent=True))
        vfs.power_loss()                                 # all that was not synced is gone
        with BlazeDB(DB, vfs=fs) as recovered:
            assert_state(recovered, expected_state(WORKLOAD, committed))


def test_torn_write_at_every_write_point():
    """A write cut after a random number of bytes, then the process dies; what
    was written stays on disk (no power loss), torn tail included."""
    rng = random.Random(7)
    total = calls_made(WORKLOAD, "write", **SMALL_WAL)
    for n in fault_points(total, scaled(60)):
        fs, vfs, committed = _crash_with(lambda vfs: vfs.tear(nth=n, keep=rng.randrange(0, 4096)))
        vfs.reset()
        with BlazeDB(DB, vfs=fs) as recovered:
            # The transaction in flight may have reached the log whole before
            # the process died inside its commit: then it is there, entirely.
            committed_prefix(recovered, WORKLOAD, [committed, committed + 1])


def test_torn_write_then_power_loss():
    rng = random.Random(8)
    total = calls_made(WORKLOAD, "write", **SMALL_WAL)
    for n in fault_points(total, scaled(30)):
        fs, vfs, committed = _crash_with(lambda vfs: vfs.tear(nth=n, keep=rng.randrange(0, 4096)))
        vfs.power_loss()
        with BlazeDB(DB, vfs=fs) as recovered:
            assert_state(recovered, expected_state(WORKLOAD, committed))


def test_read_error_at_every_read_point():
    fs = MemFS()
    with BlazeDB(DB, vfs=fs) as db:
        for txn in WORKLOAD:
            apply_txn(db, txn)
    probe = FaultVFS(fs)
    with BlazeDB(DB, vfs=probe) as db:
        assert actual_state(db) == FULL
    total = probe.counts["read"]
    assert total > 0
    failures = 0
    for n in fault_points(total, scaled(60)):
        vfs = FaultVFS(fs)
        vfs.fail("read", nth=n, errno="EIO")             # one read fails, later ones work
        try:
            db = BlazeDB(DB, vfs=vfs)
        except StorageError as error:
            assert "EIO" in str(error) or "I/O" in str(error) or "error" in str(error).lower()
            failures += 1
            db = BlazeDB(DB, vfs=vfs)
        try:
            state = actual_state(db)
        except StorageError:
            failures += 1
            state = actual_state(db)                     # the next read succeeds
        assert state == FULL
        assert_state(db, FULL)
        db.close()
    assert failures > 0, "no planted read error was ever reported"
