"""A deterministic transactional workload and the state it must leave behind.

Every chaos scenario runs the same kind of workload: a list of transactions,
each a list of inserts, updates and deletes of records with known ids. The
state after the first k transactions is computed in pure Python, so after any
failure the database can be compared with the exact state it must hold:
committed transactions complete, uncommitted ones without a trace.
"""
from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass

from engine import BlazeDB
from engine._native import store as _store


@dataclass(frozen=True)
class Op:
    kind: str                 # "insert" | "update" | "delete"
    id: uuid.UUID
    fields: dict | None = None


def _record(rng: random.Random, txn: int, seq: int) -> dict:
    record = {
        "txn": txn,
        "seq": seq,
        "name": f"r{txn}-{seq}-" + "x" * rng.randrange(0, 40),
        "score": rng.uniform(-1e6, 1e6),
        "when": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=rng.randrange(10**8)),
        "tags": [rng.randrange(100) for _ in range(rng.randrange(4))],
    }
    if rng.random() < 0.1:      # now and then a value that needs overflow pages
        record["blob"] = rng.randbytes(rng.randrange(5000, 20000))
    return record


def make_workload(seed: int, transactions: int = 12, ops_per_txn: int = 6) -> list[list[Op]]:
    rng = random.Random(seed)
    live: list[uuid.UUID] = []
    workload = []
    for t in range(transactions):
        txn = []
        for s in range(ops_per_txn):
            roll = rng.random()
            if live and roll < 0.2:
                txn.append(Op("update", rng.choice(live), {"seq": -s, "touched": t}))
            elif live and roll < 0.3:
                victim = live.pop(rng.randrange(len(live)))
                txn.append(Op("delete", victim))
            else:
                rid = uuid.UUID(int=rng.getrandbits(128), version=4)
                live.append(rid)
                txn.append(Op("insert", rid, _record(rng, t, s)))
        workload.append(txn)
    return workload


def apply_txn(db: BlazeDB, txn: list[Op]) -> None:
    with db.transaction():
        for op in txn:
            if op.kind == "insert":
                db.insert({"id": op.id, **op.fields})
            elif op.kind == "update":
                db.update(op.id, op.fields)
            else:
                db.delete(op.id)


def expected_state(workload: list[list[Op]], committed: int) -> dict[uuid.UUID, dict]:
    state: dict[uuid.UUID, dict] = {}
    for txn in workload[:committed]:
        for op in txn:
            if op.kind == "insert":
                state[op.id] = {"id": op.id, **op.fields}
            elif op.kind == "update":
                state[op.id] = {**state[op.id], **op.fields}
            else:
                state.pop(op.id, None)
    return state


def actual_state(db: BlazeDB) -> dict[uuid.UUID, dict]:
    return {record["id"]: record for record in db.fetch_all()}


def assert_state(db: BlazeDB, expected: dict) -> None:
    """The database holds exactly `expected` and passes its full integrity check."""
    actual = actual_state(db)
    missing = expected.keys() - actual.keys()
    extra = actual.keys() - expected.keys()
    assert not missing, f"{len(missing)} committed records lost, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{len(extra)} uncommitted/deleted records visible, e.g. {sorted(extra)[:3]}"
    for rid, record in expected.items():
        assert actual[rid] == record, f"record {rid} differs: {actual[rid]!r} != {record!r}"
    assert db.count() == len(expected)
    db.check()


def committed_prefix(db: BlazeDB, workload: list[list[Op]], candidates) -> int:
    """Which of the `candidates` prefix lengths the database holds; fails if none."""
    actual = actual_state(db)
    for k in candidates:
        if actual == expected_state(workload, k):
            db.check()
            return k
    raise AssertionError(
        f"state matches no committed prefix among {list(candidates)}: "
        f"{len(actual)} records, e.g. {sorted(actual)[:3]}")


MemFS = _store.MemFS
FaultVFS = _store.FaultVFS
