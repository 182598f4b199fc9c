"""Fuzz target `crash`: an op stream with one injected crash on FaultVFS over MemFS.

Input: 3 header bytes `kind n keep`, then an op stream (fuzz/opstream.py).

  kind % 4 = 0  power loss at a sync: the (n % 24 + 1)-th sync fails with EIO,
                then the machine loses power (unsynced data is gone)
            1  torn write: the (n % 48 + 1)-th write keeps only keep * 16 bytes,
                the machine dies, then power loss
            2  clean power loss after op n % (ops + 1), no fault at all
            3  transient fault: the (n % 32 + 1)-th call of one file operation
                (keep % 5: write, sync, read, truncate, any) fails with one
                errno ((keep // 5) % 4: EIO, ENOSPC, EROFS, EMFILE); no power loss

Ops run through the ops target's Session (model + oracles) until the fault
surfaces as a StorageError (or the stream ends: then power loss, or for kind
3 a plain reopen). Recovery oracle, after reopening on the same files:
opening works, the records and indexes equal the last committed state or, if
the failing op was a commit (or an autocommitted write) in flight, the state
it would have committed; nothing of an open transaction survives; check()
passes. For kind 3 the surviving handle must be usable and show the same.
With power loss the old handle is closed while every file operation fails,
so it cannot write after the "crash".

For the minimizer, decode_input(data) is [CrashPoint(kind, n, keep), *ops]
and encode_input(items) its inverse (DEFAULT_CRASH if the point was dropped).
"""
from __future__ import annotations

from dataclasses import dataclass

from engine._native import store as _store_mod
from engine.db import BlazeDB
from engine.errors import BlazeError, StorageError
from fuzz import driver
from fuzz import opstream as O
from fuzz.oracles import OracleMismatch
from fuzz.targets import memfs
from fuzz.semantics_ref import strict_equal_list
from fuzz.targets.ops import Session

DB_FILE = "crash.blazedb"
DB_OPTIONS = {"cache_pages": 32, "checkpoint_pages": 32}
FAULT_OPS = ("write", "sync", "read", "truncate", "any")
ERRNOS = ("EIO", "ENOSPC", "EROFS", "EMFILE")
HEADER = 3
_WRITES = (O.Insert, O.InsertMany, O.Update, O.Upsert, O.Replace, O.Delete, O.DeleteAll,
           O.CreateIndex, O.DropIndex)


@dataclass(frozen=True)
class CrashPoint:
    """The input's header as the first item of decode_input's list (kind % 4, n, keep)."""
    kind: int
    n: int
    keep: int


O.register_node(CrashPoint)
DEFAULT_CRASH = CrashPoint(2, 255, 0)   # power loss after the last op


def split_input(data: bytes):
    head = data[:HEADER].ljust(HEADER, b"\0")
    return (head[0] % 4, head[1], head[2]), O.decode(data[HEADER:])


def encode_input(crash, ops=None) -> bytes:
    """encode_input((kind, n, keep), ops), or encode_input(items) with items as
    decode_input gives them: a CrashPoint (DEFAULT_CRASH when the minimizer
    dropped it) and ops."""
    if ops is None:
        items = list(crash)
        points = [x for x in items if type(x) is CrashPoint]
        point = points[0] if points else DEFAULT_CRASH
        crash, ops = (point.kind, point.n, point.keep), [x for x in items if type(x) is not CrashPoint]
    kind, n, keep = crash
    return bytes((kind % 4, n, keep)) + O.encode(ops)


def decode_input(data: bytes) -> list:
    """[CrashPoint, *ops]: encode_input(decode_input(d)) decodes to the same list."""
    (kind, n, keep), ops = split_input(data)
    return [CrashPoint(kind, n, keep), *ops]


def _arm(vfs, kind: int, n: int, keep: int) -> None:
    if kind == 0:
        vfs.fail("sync", nth=n % 24 + 1, errno="EIO")
    elif kind == 1:
        vfs.tear(nth=n % 48 + 1, keep=keep * 16)
    elif kind == 3:
        vfs.fail(FAULT_OPS[keep % 5], nth=n % 32 + 1, errno=ERRNOS[(keep // 5) % 4])


def _state_of(model):
    return (model.state(), {n: (tuple(O.dotted(p) for p in s.paths), s.unique)
                            for n, s in model.indexes.items()})


def _records_of(records: dict):
    return [records[k] for k in sorted(records, key=lambda u: u.bytes)]


def _db_state(db):
    records = [driver.from_engine(r) for r in db.fetch_all()]
    indexes = {d["name"]: (tuple(d["fields"]), d["unique"]) for d in db.indexes()}
    return records, indexes


def _same(a, b) -> bool:
    return strict_equal_list(a[0], b[0]) and a[1] == b[1]


def _verify(db, i, op, allowed: list, stage: str) -> None:
    try:
        got = _db_state(db)
    except BlazeError as exc:
        raise OracleMismatch("recovery", i, op, "readable records",
                             f"{type(exc).__name__}: {exc}", stage)
    if not any(_same(got, want) for want in allowed):
        raise OracleMismatch("recovery", i, op, allowed[0] if len(allowed) == 1 else allowed, got, stage)
    try:
        db.check()
    except BlazeError as exc:
        raise OracleMismatch("recovery", i, op, "a clean check()", f"{type(exc).__name__}: {exc}", stage)


def _abandon(vfs, db, power_loss: bool) -> None:
    """Drop the handle that lived through the crash. With power loss it must not
    write another byte (a dead machine does not close files cleanly): every
    file operation fails while it closes, then the files revert to what was synced."""
    if power_loss:
        vfs.fail("any", nth=1, errno="EIO", persistent=True)
    try:
        db.close()
    except BlazeError:
        pass
    if power_loss:
        vfs.power_loss()
    else:
        vfs.reset()


def run(crash: tuple, ops) -> None:
    kind, n, keep = crash
    fs = memfs.fresh()
    vfs = _store_mod.FaultVFS(fs)

    def open_db():
        return BlazeDB(DB_FILE, vfs=vfs, **DB_OPTIONS)

    session = Session(open_db, io_faults=(StorageError,))
    _arm(vfs, kind, n, keep)
    stop = n % (len(ops) + 1) if kind == 2 else len(ops)
    committed = _state_of(session.model)
    fault_at, fault_op, allowed = -1, None, None
    try:
        for i, op in enumerate(ops[:stop]):
            model = session.model
            before = committed if model.in_transaction else _state_of(model)
            session.model_error = None
            try:
                session.step(i, op)
            except StorageError:
                fault_at, fault_op = i, op
                now = _state_of(model)
                landed = (session.model_error is None and not model.in_transaction
                          and (type(op) is O.Commit or isinstance(op, _WRITES)))
                allowed = [before, now] if landed else [before]
                break
            if not model.in_transaction:
                committed = _state_of(model)
        else:
            allowed = [committed]
    finally:
        survivor = session.db if kind == 3 and fault_op is not None else None
        if survivor is None and session.db is not None:
            _abandon(vfs, session.db, power_loss=kind != 3)
    if kind == 3:
        vfs.reset()
        if survivor is not None and not survivor.closed:  # a failed Reopen leaves none
            _verify(survivor, fault_at, fault_op, allowed, "the handle that saw the I/O error")
            survivor.close()
    try:
        db = open_db()
    except BlazeError as exc:
        raise OracleMismatch("recovery", fault_at, fault_op, "the database reopens",
                             f"{type(exc).__name__}: {exc}", "reopen after the crash")
    try:
        _verify(db, fault_at, fault_op, allowed, "after recovery")
    finally:
        db.close()


def test_one_input(data: bytes) -> None:
    crash, ops = split_input(data)
    run(crash, ops)


def describe_input(data: bytes) -> str:
    (kind, n, keep), ops = split_input(data)
    what = {0: f"vfs.fail('sync', nth={n % 24 + 1}, errno='EIO')  # then power loss",
            1: f"vfs.tear(nth={n % 48 + 1}, keep={keep * 16})  # then power loss",
            2: f"# power loss after op {n % (len(ops) + 1)}",
            3: f"vfs.fail({FAULT_OPS[keep % 5]!r}, nth={n % 32 + 1}, errno={ERRNOS[(keep // 5) % 4]!r})"}[kind]
    body = O.to_python(ops)
    return (f"# crash target: kind {kind}\n{body}"
            "# The ops above ran on FaultVFS(MemFS()) with, armed after opening:\n"
            f"# {what}\n# then: vfs.power_loss() (kinds 0-2), reopen, compare with the model, check()\n")
