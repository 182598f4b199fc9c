"""The property suite's bridge to the reference model and to the engine.

The expected side of every query property is the fuzzers' brute-force model
(fuzz/model_query.py over fuzz/semantics_ref.py, written from
engine/doc/semantics.md without importing the engine's comparison code).
Values cross over with fuzz.driver: `to_model`/`from_engine` (Vector <-> Vec,
NaN normalised), predicates with `driver.pred`. Keeping every use of those
modules here means a change of their API is fixed in one place.
"""
from __future__ import annotations

import contextlib
import uuid

from engine._native import store as _store
from engine.db import BlazeDB
from engine.errors import BlazeError
from fuzz import driver, model_query
from fuzz import opstream as O
from fuzz.semantics_ref import okey, strict_equal, strict_equal_list

__all__ = ["okey", "strict_equal", "strict_equal_list", "model_table", "expected_rows", "engine_rows",
           "expected_aggregate", "engine_aggregate", "engine_pred", "unique_key", "open_memdb", "snapshot",
           "assert_same_state", "outcome", "from_engine", "AGG_COLUMN", "MemDisk", "SeqIds", "memdb"]

# A small cache and checkpoint threshold: few records still reach eviction,
# page splits and auto-checkpoints.
DB_OPTIONS = {"cache_pages": 32, "checkpoint_pages": 8}


class SeqIds:
    """A deterministic id generator (BlazeDB's default draws random bits from
    os.urandom, which would make derandomized examples replay differently).
    Ids are UUIDv7-shaped; the counter is spread over the low 62 bits so the
    last bytes take all values, as random ids do."""

    _BASE = (0x0190_0000_0000 << 80) | (0x7 << 76) | (0x2 << 62)
    _STRIDE = 0x9E37_79B9_7F4A_7C15  # odd: a permutation of the low 62 bits

    def __init__(self):
        self.n = 0

    def __call__(self) -> uuid.UUID:
        self.n += 1
        return uuid.UUID(int=self._BASE | (self.n * self._STRIDE) & ((1 << 62) - 1))


class MemDisk:
    """A MemFS and the id generator of the database on it (kept across reopens)."""

    def __init__(self):
        self.fs = _store.MemFS()
        self.ids = SeqIds()


def open_memdb(disk: MemDisk | None = None, name: str = "prop.blazedb") -> BlazeDB:
    """A database on `disk` (a fresh MemDisk unless given)."""
    disk = disk if disk is not None else MemDisk()
    return BlazeDB(name, vfs=disk.fs, id_generator=disk.ids, **DB_OPTIONS)


AGG_COLUMN = model_query.AGG_NAME  # the one output column of expected_aggregate's rows


def from_engine(value):
    """An engine value (or row) in the model's grammar (Vector -> Vec, NaN normalised)."""
    return driver.from_engine(value)


def model_table(records) -> dict:
    """{id: record} in model grammar, from records as the engine returns them."""
    return {r["id"]: driver.from_engine(r) for r in records}


def engine_pred(where, indexable: bool = True):
    if where is None:
        return None
    return driver.pred(where) if indexable else driver.unindexable(where)


def expected_rows(table: dict, where=None, order_by=(), limit=None, offset=None) -> list:
    return model_query.run_query(table, where, tuple(order_by), limit, offset)


def engine_rows(db, where=None, order_by=(), limit=None, offset=None, indexable: bool = True) -> list:
    op = O.Query(where, tuple(order_by), limit, offset)
    return driver.from_engine(driver.build_query(db, op, where=engine_pred(where, indexable)).all())


def expected_aggregate(table: dict, func: str, path: tuple, where=None, group_by=()) -> list:
    return model_query.run_aggregate(table, func, path, where, tuple(group_by))


def engine_aggregate(db, func: str, path: tuple, where=None, group_by=()) -> list:
    return driver.execute(db, O.Aggregate(func, path, where, tuple(group_by)), O.IdSpace())


def unique_key(record: dict, paths: tuple):
    return model_query.unique_key(driver.from_engine(record), paths)


def outcome(fn, *args, **kwargs):
    """fn's result, or the class of the BlazeError it raised (to compare outcomes)."""
    try:
        return fn(*args, **kwargs)
    except BlazeError as exc:
        return type(exc)


def snapshot(db) -> dict:
    """Everything observable about a database's content: records (in id order),
    index definitions, count and check()'s per-index entry counts."""
    report = db.check()
    return {"records": list(db.fetch_all()), "indexes": sorted(db.indexes(), key=lambda i: i["name"]),
            "count": db.count(), "entries": dict(report["indexes"]), "checked_records": report["records"]}


def assert_same_state(before: dict, after: dict) -> None:
    from tests.property.strategies import same
    assert len(after["records"]) == len(before["records"])
    for b, a in zip(before["records"], after["records"]):
        assert same(b, a), (b, a)
    assert after["indexes"] == before["indexes"]
    assert after["count"] == before["count"]
    assert after["entries"] == before["entries"]
    assert after["checked_records"] == before["checked_records"]


@contextlib.contextmanager
def memdb(disk: MemDisk | None = None):
    db = open_memdb(disk)
    try:
        yield db
    finally:
        db.close()
