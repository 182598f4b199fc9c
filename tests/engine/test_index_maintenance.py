"""Secondary indexes: creation and backfill, maintenance through every write,
rollback, unique constraints, persistence, and check() against the records."""
from __future__ import annotations

import uuid

import pytest

from engine._native import codec
from engine.errors import (
    BlazeIndexError,
    CorruptDatabaseError,
    RecordTooLargeError,
    UniqueConstraintError,
)
from engine.query import F
from engine.types import MISSING
from tests.engine.api_support import memory_db


@pytest.fixture
def db():
    with memory_db() as d:
        yield d


def entries(db, name):
    """The index's entries as (values-prefix, id) pairs, in key order."""
    tree = "idx:" + name
    return [(k[:-16], uuid.UUID(bytes=k[-16:])) for k, _ in db._store.scan(tree)]


def expect(db, name, pairs):
    want = sorted((codec.index_key(vals) + rid.bytes) for vals, rid in pairs)
    assert [p + r.bytes for p, r in entries(db, name)] == want


def test_create_index_backfills_every_record_including_missing_fields(db):
    a = db.insert({"x": 2})
    b = db.insert({"y": 1})
    assert db.create_index("x") == "x"
    expect(db, "x", [((2,), a), ((MISSING,), b)])
    assert db.indexes() == [{"name": "x", "fields": ["x"], "unique": False}]


def test_indexes_follow_insert_update_replace_upsert_delete(db):
    db.create_index(["city", "age"], name="ca")
    a = db.insert({"city": "Oslo", "age": 3})
    expect(db, "ca", [(("Oslo", 3), a)])
    db.update(a, {"age": 4})
    expect(db, "ca", [(("Oslo", 4), a)])
    db.replace(a, {"city": "Rome"})
    expect(db, "ca", [(("Rome", MISSING), a)])
    b = uuid.UUID(int=9)
    db.upsert(b, {"city": "Oslo", "age": 1})
    db.upsert(b, {"age": 2})
    expect(db, "ca", [(("Rome", MISSING), a), (("Oslo", 2), b)])
    db.delete(a)
    expect(db, "ca", [(("Oslo", 2), b)])
    db.delete_all(F("age") == 2)
    expect(db, "ca", [])
    db.insert({"city": "x"})
    db.delete_all()
    expect(db, "ca", [])
    db.check()


def test_rollback_undoes_index_entries_and_index_definitions(db):
    db.create_index("k")
    a = db.insert({"k": 1})
    with pytest.raises(RuntimeError), db.transaction():
        db.update(a, {"k": 2})
        db.insert({"k": 3})
        db.create_index("j")
        raise RuntimeError
    expect(db, "k", [((1,), a)])
    assert [i["name"] for i in db.indexes()] == ["k"]
    assert "idx:j" not in db._store.trees()
    db.begin()
    db.drop_index("k")
    db.rollback()
    assert db.query().where(F("k") == 1).explain()["index"] == "k"
    db.check()


def test_unique_violations_change_nothing(db):
    db.create_index("email", unique=True)
    a = db.insert({"email": "a@x", "n": 1})
    b = db.insert({"email": "b@x", "n": 2})
    with pytest.raises(UniqueConstraintError, match="email='a@x'"):
        db.insert({"email": "a@x"})
    with pytest.raises(UniqueConstraintError):
        db.update(b, {"email": "a@x", "n": 99})
    with pytest.raises(UniqueConstraintError):
        db.upsert(uuid.UUID(int=1), {"email": "b@x"})
    with pytest.raises(UniqueConstraintError):
        db.insert_many([{"email": "c@x"}, {"email": "c@x"}])
    with pytest.raises(UniqueConstraintError):
        db.replace(a, {"email": "b@x"})
    with db.transaction():
        db.insert({"email": "d@x"})
        with pytest.raises(UniqueConstraintError):
            db.insert({"email": "d@x"})
    assert db.fetch(a) == {"id": a, "email": "a@x", "n": 1}
    assert db.fetch(b) == {"id": b, "email": "b@x", "n": 2}
    assert db.count() == 3
    db.update(a, {"email": "a@x", "n": 5})       # same value for itself: allowed
    db.check()


def test_an_index_entry_too_long_for_a_store_key_fails_the_write_and_changes_nothing(db):
    """API.md: an indexed value tuple must fit in a store key (1024 bytes with
    the id). Every write that would make a longer entry raises
    RecordTooLargeError before it changes anything, also inside a transaction
    (an insert used to leave its record there without its index entry)."""
    long = "x" * 1100
    fits = "y" * (1024 - 16 - len(codec.index_key(("",))))   # exactly at the limit
    db.create_index("a")
    a = db.insert({"a": "short", "n": 1})
    with db.transaction():
        for write in (lambda: db.insert({"a": long}),
                      lambda: db.insert_many([{"a": 1}, {"a": long}]),
                      lambda: db.update(a, {"a": long, "n": 2}),
                      lambda: db.replace(a, {"a": [long]}),
                      lambda: db.upsert(a, {"a": {"k": long}}),
                      lambda: db.upsert(uuid.UUID(int=7), {"a": long})):
            with pytest.raises(RecordTooLargeError, match="index 'a'.*key limit of 1024 bytes"):
                write()
        b = db.insert({"a": fits})
    assert db.fetch(a) == {"id": a, "a": "short", "n": 1}
    assert db.count() == 2 and db.fetch(b)["a"] == fits
    db.insert({"b": long})
    with db.transaction(), pytest.raises(RecordTooLargeError, match="index 'b'.*nothing was created"):
        db.create_index("b")
    assert [i["name"] for i in db.indexes()] == ["a"]
    report = db.check()
    assert report["indexes"] == {"a": 3} and "stray_trees" not in report


def test_a_unique_violation_is_reported_before_an_entry_too_long(db):
    db.create_index("u", unique=True)
    db.create_index("v")
    db.insert({"u": 1})
    with pytest.raises(UniqueConstraintError):
        db.insert({"u": 1, "v": "x" * 1100})       # both: the unique index speaks first


def test_unique_treats_equal_numbers_as_equal_and_exempts_missing(db):
    db.create_index("n", unique=True)
    db.insert({"n": 1})
    with pytest.raises(UniqueConstraintError):
        db.insert({"n": 1.0})
    db.insert({"n": -0.0})
    with pytest.raises(UniqueConstraintError):
        db.insert({"n": 0})
    db.insert({})
    db.insert({})                                 # MISSING is exempt
    db.insert({"n": None})
    with pytest.raises(UniqueConstraintError):
        db.insert({"n": None})                    # null is a value


def test_creating_a_unique_index_over_duplicates_fails_cleanly(db):
    db.insert_many([{"k": 1}, {"k": 1}])
    with pytest.raises(UniqueConstraintError):
        db.create_index("k", unique=True)
    assert db.indexes() == [] and "idx:k" not in db._store.trees()


def test_index_name_errors(db):
    db.create_index("a")
    with pytest.raises(BlazeIndexError, match="already exists"):
        db.create_index("a")
    with pytest.raises(BlazeIndexError, match="no index named 'zz'"):
        db.drop_index("zz")
    with pytest.raises(BlazeIndexError, match="listed twice"):
        db.create_index(["b", "b"])
    with pytest.raises(BlazeIndexError, match="bad index field"):
        db.create_index("a..b")
    with pytest.raises(BlazeIndexError):
        db.create_index([])
    with pytest.raises(BlazeIndexError, match="printable"):
        db.create_index("b", name="")
    db.drop_index("a")
    assert db.indexes() == [] and "idx:a" not in db._store.trees()


def test_check_finds_a_missing_a_stray_and_a_wrong_index_entry(db):
    db.create_index("k")
    a = db.insert({"k": 1})
    db.insert({"k": 2})
    key = codec.index_key((1,)) + a.bytes
    db._store.delete("idx:k", key)
    with pytest.raises(CorruptDatabaseError, match="index 'k'.*missing"):
        db.check()
    db._store.put("idx:k", key, b"")
    db._store.put("idx:k", codec.index_key((7,)) + a.bytes, b"")
    with pytest.raises(CorruptDatabaseError, match="stray entry"):
        db.check()
    db._store.delete("idx:k", codec.index_key((7,)) + a.bytes)
    report = db.check()
    assert report["records"] == 2 and report["indexes"] == {"k": 2}


def test_check_finds_a_record_under_the_wrong_key(db):
    a = db.insert({"k": 1})
    db._store.put("records", uuid.UUID(int=5).bytes, db._store.get("records", a.bytes))
    with pytest.raises(CorruptDatabaseError, match="holds a record whose id"):
        db.check()


def test_index_entries_of_records_given_as_tuples_subclasses_and_bytearrays(db):
    import collections
    import datetime as dt

    class Tags(list):
        pass
    db.create_index("t.0", name="t0")
    db.create_index("o.x", name="ox")
    db.create_index("b")
    db.create_index("d")
    cet = dt.timezone(dt.timedelta(hours=1))
    a = db.insert({"t": ("p", "q"), "o": collections.OrderedDict(x=(1, 2)), "b": bytearray(b"z"),
                   "d": dt.datetime(2020, 1, 1, 1, tzinfo=cet)})
    b = db.insert({"t": Tags(["p"]), "o": {"x": [1, 2]}, "b": memoryview(b"z"),
                   "d": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)})
    db.check()
    for where in (F("t.0") == "p", F("o.x") == [1, 2], F("b") == b"z",
                  F("d") == dt.datetime(2020, 1, 1, tzinfo=dt.UTC)):
        assert db.query().where(where).explain()["plan"] == "index_scan"
        assert [r["id"] for r in db.query().where(where).all()] == sorted([a, b])
