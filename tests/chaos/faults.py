"""Running a workload on the fault-injecting VFS, SQLite style: count how many
calls of one kind (write, sync, read) a workload makes, then run it once per
call with a fault planted at exactly that call."""
from __future__ import annotations

import contextlib

from engine import BlazeDB, BlazeError

from .workload import FaultVFS, MemFS, apply_txn

DB = "chaos.db"


def run_until_error(db: BlazeDB, workload) -> tuple[int, BlazeError | None]:
    """Applies transactions until one fails; returns (committed count, the error)."""
    for done, txn in enumerate(workload):
        try:
            apply_txn(db, txn)
        except BlazeError as error:
            return done, error
    return len(workload), None


def calls_made(workload, op: str, **open_args) -> int:
    """How many `op` calls opening, running and closing the workload makes."""
    vfs = FaultVFS(MemFS())
    db = BlazeDB(DB, vfs=vfs, **open_args)
    committed, error = run_until_error(db, workload)
    assert error is None and committed == len(workload)
    db.close()
    return vfs.counts[op]


def fault_points(total: int, wanted: int) -> list[int]:
    """`wanted` call numbers spread evenly over 1..total (all of them if fewer)."""
    if total <= wanted:
        return list(range(1, total + 1))
    step = total / wanted
    return sorted({1 + int(i * step) for i in range(wanted)} | {total})


def abandon(db: BlazeDB, vfs) -> None:
    """Drops a handle as a crash would: nothing more reaches the files.

    Every further call fails, so close() can write nothing; it must still
    release its locks (the next open in this process would see LockedError)."""
    vfs.fail("any", nth=1, errno="EIO", persistent=True)
    with contextlib.suppress(BlazeError):
        db.close()
