"""BlazeDB's record API: insert, fetch, update, replace, upsert, delete, count,
transactions, errors and thread safety."""
from __future__ import annotations

import datetime as dt
import gc
import math
import threading
import uuid
import weakref

import pytest

from engine._native import store as native_store
from engine.db import BlazeDB
from engine.errors import (
    BlazeError,
    ClosedError,
    DuplicateRecordError,
    InvalidRecordError,
    RecordNotFound,
    TransactionError,
    UniqueConstraintError,
)
from engine.query import F
from engine.types import Vector
from tests.engine.api_support import memory_db

UTC = dt.UTC


@pytest.fixture
def db():
    with memory_db() as d:
        yield d


def every_type_record():
    return {"s": "héllo", "i": -(2**63), "d": -0.0, "nan": math.nan, "b": True,
            "date": dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
            "u": uuid.UUID(int=7), "data": b"\x00\xff", "arr": [1, "two", None],
            "dict": {"z": 1, "a": {"deep": [1.5]}}, "vec": Vector([1.0, -0.0]), "null": None}


def test_insert_assigns_an_id_and_fetch_returns_the_record(db):
    rid = db.insert(every_type_record())
    assert isinstance(rid, uuid.UUID)
    got = db.fetch(rid)
    assert got["id"] == rid
    assert got["s"] == "héllo" and got["i"] == -(2**63) and math.isnan(got["nan"])
    assert math.copysign(1, got["d"]) == -1.0
    assert got["date"] == dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)
    assert got["vec"] == Vector([1.0, 0.0]) and got["dict"]["a"]["deep"] == [1.5]


def test_insert_keeps_a_given_id_and_does_not_mutate_the_input(db):
    rid = uuid.UUID(int=42)
    rec = {"id": rid, "a": 1}
    assert db.insert(rec) == rid
    assert rec == {"id": rid, "a": 1}
    plain = {"a": 1}
    db.insert(plain)
    assert plain == {"a": 1}


def test_duplicate_id_is_rejected_and_changes_nothing(db):
    rid = db.insert({"a": 1})
    with pytest.raises(DuplicateRecordError, match=str(rid)):
        db.insert({"id": rid, "a": 2})
    assert isinstance(DuplicateRecordError("x"), UniqueConstraintError)
    assert db.fetch(rid)["a"] == 1 and db.count() == 1


@pytest.mark.parametrize("bad", [
    {"a": {1, 2}}, {"a": 2**63}, {1: "x"}, {"a": dt.datetime(2020, 1, 1)}, {"id": "nope"},
])
def test_invalid_records_raise_invalid_record_error_and_store_nothing(db, bad):
    with pytest.raises(InvalidRecordError):
        db.insert(bad)
    assert db.count() == 0


def test_non_dict_record_is_invalid(db):
    with pytest.raises(InvalidRecordError, match="a record is a dict"):
        db.insert([("a", 1)])


def test_insert_many_is_atomic(db):
    ids = db.insert_many([{"n": i} for i in range(5)])
    assert [db.fetch(i)["n"] for i in ids] == list(range(5))
    with pytest.raises(InvalidRecordError, match="record 2"):
        db.insert_many([{"n": 10}, {"n": 11}, {"n": {1}}])
    with pytest.raises(DuplicateRecordError):
        db.insert_many([{"n": 12}, {"id": ids[0]}])
    same = uuid.UUID(int=99)
    with pytest.raises(DuplicateRecordError):
        db.insert_many([{"id": same}, {"id": same}])
    assert db.count() == 5


def test_fetch_get_and_ids_as_strings(db):
    rid = db.insert({"a": 1})
    assert db.fetch(str(rid))["a"] == 1
    assert db.get(uuid.UUID(int=1)) is None
    with pytest.raises(RecordNotFound, match=str(uuid.UUID(int=1))):
        db.fetch(uuid.UUID(int=1))
    with pytest.raises(InvalidRecordError, match="uuid"):
        db.fetch(12)


def test_fetch_all_streams_every_record_in_id_order(db):
    ids = [uuid.UUID(int=n) for n in (5, 1, 900, 3)]
    for i in ids:
        db.insert({"id": i})
    got = [r["id"] for r in db.fetch_all(batch=2)]
    assert got == sorted(ids)


def test_fetch_all_survives_writes_between_batches(db):
    db.insert_many([{"id": uuid.UUID(int=n)} for n in range(1, 11)])
    seen = []
    for r in db.fetch_all(batch=3):
        seen.append(r["id"].int)
        if r["id"].int == 2:
            db.delete(uuid.UUID(int=9))
            db.insert({"id": uuid.UUID(int=20)})
    assert seen == [1, 2, 3, 4, 5, 6, 7, 8, 10, 20]


def test_update_merges_top_level_fields(db):
    rid = db.insert({"a": 1, "b": {"x": 1}})
    new = db.update(rid, {"b": {"y": 2}, "c": 3})
    assert new == {"id": rid, "a": 1, "b": {"y": 2}, "c": 3} == db.fetch(rid)
    with pytest.raises(RecordNotFound):
        db.update(uuid.UUID(int=5), {"a": 1})
    with pytest.raises(InvalidRecordError, match="'id' cannot be changed"):
        db.update(rid, {"id": uuid.UUID(int=5)})
    with pytest.raises(InvalidRecordError):
        db.update(rid, {"a": object()})
    assert db.fetch(rid)["a"] == 1


def test_replace_and_upsert(db):
    rid = db.insert({"a": 1, "b": 2})
    assert db.replace(rid, {"c": 3}) == {"id": rid, "c": 3}
    new_id = uuid.UUID(int=77)
    assert db.upsert(new_id, {"z": 1}) is True
    assert db.upsert(new_id, {"y": 2}) is False
    assert db.fetch(new_id) == {"id": new_id, "z": 1, "y": 2}
    with pytest.raises(RecordNotFound):
        db.replace(uuid.UUID(int=5), {})


def test_delete_is_idempotent_and_delete_all_counts(db):
    ids = db.insert_many([{"n": i} for i in range(10)])
    assert db.delete(ids[0]) is True and db.delete(ids[0]) is False
    assert db.delete_all(F("n") >= 7) == 3
    assert db.count() == 6 and db.count(F("n") < 3) == 2
    assert db.delete_all() == 6 and db.count() == 0


def test_transaction_context_manager_commits_or_rolls_back(db):
    with db.transaction():
        a = db.insert({"n": 1})
    with pytest.raises(RuntimeError), db.transaction():
        db.insert({"n": 2})
        db.update(a, {"n": 100})
        raise RuntimeError("boom")
    assert db.count() == 1 and db.fetch(a)["n"] == 1


def test_explicit_begin_commit_rollback(db):
    db.begin()
    assert db.in_transaction
    rid = db.insert({"n": 1})
    db.rollback()
    assert db.get(rid) is None and not db.in_transaction
    db.begin()
    rid = db.insert({"n": 1})
    db.commit()
    assert db.fetch(rid)["n"] == 1
    with pytest.raises(TransactionError, match="without begin"):
        db.commit()
    with pytest.raises(TransactionError, match="without begin"):
        db.rollback()
    db.begin()
    with pytest.raises(TransactionError, match="do not nest"):
        db.begin()
    db.rollback()


def test_failed_write_inside_a_transaction_keeps_the_earlier_writes(db):
    with db.transaction():
        a = db.insert({"n": 1})
        with pytest.raises(InvalidRecordError):
            db.insert({"n": {1}})
        b = db.insert({"n": 2})
    assert db.count() == 2 and db.fetch(a) and db.fetch(b)


def test_other_threads_wait_for_an_open_transaction(db):
    db.begin()
    db.insert({"n": 1})
    done = threading.Event()

    def writer():
        db.insert({"n": 2})
        done.set()
    t = threading.Thread(target=writer)
    t.start()
    assert not done.wait(0.2)          # blocked: it must not write into our transaction
    db.rollback()
    t.join(5)
    assert done.is_set()
    assert [r["n"] for r in db.fetch_all()] == [2]


def test_concurrent_writers_and_readers_stay_consistent(db):
    db.create_index("k")
    errors = []

    def work(base):
        try:
            for i in range(100):
                rid = db.insert({"k": base + i})
                assert db.fetch(rid)["k"] == base + i
                assert db.query().where(F("k") == base + i).count() == 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(1000 * t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert db.count() == 400
    db.check()


def test_use_after_close_raises_closed_error():
    db = memory_db()
    rid = db.insert({"a": 1})
    db.close()
    db.close()   # idempotent
    for call in (lambda: db.fetch(rid), lambda: db.insert({}), lambda: db.count(),
                 lambda: db.query().all(), lambda: db.begin()):
        with pytest.raises(ClosedError):
            call()


def test_a_dropped_handle_is_freed_at_once_not_by_the_cycle_collector():
    db = memory_db()
    db.insert({"a": 1})
    assert db.query().where(F("a") == 1).count() == 1
    db.close()
    handle = weakref.ref(db)
    gc.disable()
    try:
        del db
        assert handle() is None
    finally:
        gc.enable()


def test_data_survives_reopen_on_a_shared_memfs():
    fs = native_store.MemFS()
    with BlazeDB("x.db", vfs=fs) as db:
        rid = db.insert({"a": 1})
        db.create_index("a", unique=True)
    with BlazeDB("x.db", vfs=fs) as db:
        assert db.fetch(rid)["a"] == 1
        assert db.indexes() == [{"name": "a", "fields": ["a"], "unique": True}]
        with pytest.raises(UniqueConstraintError):
            db.insert({"a": 1.0})
        db.check()


def test_file_database_round_trip(tmp_path):
    path = str(tmp_path / "t.blazedb")
    with BlazeDB(path) as db:
        ids = db.insert_many([{"n": i} for i in range(50)])
    with BlazeDB(path) as db:
        assert [db.fetch(i)["n"] for i in ids] == list(range(50))
        assert db.check()["records"] == 50


def test_every_error_is_a_blaze_error(db):
    for exc in (RecordNotFound("x"), DuplicateRecordError("x"), TransactionError("x")):
        assert isinstance(exc, BlazeError)
