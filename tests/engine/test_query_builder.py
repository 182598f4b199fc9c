"""The query builder end to end: order, paging, projection, terminal methods,
delete, and the plain-data spec the fuzzers use."""
from __future__ import annotations

import math
import uuid

import msgpack
import pytest

from engine.query import F, Query, and_, avg, count, not_, or_
from tests.engine.api_support import memory_db


@pytest.fixture
def db():
    with memory_db() as d:
        d.insert_many([
            {"id": uuid.UUID(int=1), "name": "ann", "age": 30, "city": "Oslo", "tags": ["x"]},
            {"id": uuid.UUID(int=2), "name": "bob", "age": 25.0, "city": "Rome",
             "address": {"city": "Rome", "zip": "001"}},
            {"id": uuid.UUID(int=3), "name": "cid", "age": 30, "city": "Oslo", "tags": ["y", "x"]},
            {"id": uuid.UUID(int=4), "name": "dan", "city": None},
            {"id": uuid.UUID(int=5), "name": "eve", "age": math.nan, "city": "Oslo"},
        ])
        yield d


def names(rows):
    return [r["name"] for r in rows]


def test_where_combines_and_defaults_to_id_order(db):
    assert names(db.query().where(F("city") == "Oslo").all()) == ["ann", "cid", "eve"]
    assert names(db.query().where(F("city") == "Oslo", F("age") >= 30).all()) == ["ann", "cid"]
    # NaN is the smallest number, so eve's NaN age is < 26 (semantics.md §2)
    assert names(db.query().where(or_(F("age") < 26, F("city") == None)).all()) == \
        ["bob", "dan", "eve"]
    assert names(db.query().where(and_(F("tags").contains("x"), not_(F("age") > 30))).all()) \
        == ["ann", "cid"]
    assert names(db.query().where(F("address.city") == "Rome").all()) == ["bob"]
    assert names(db.query().where(F("tags.0") == "y").all()) == ["cid"]


def test_order_by_is_total_with_missing_first_and_ties_by_id(db):
    assert names(db.query().order_by("age").all()) == ["dan", "eve", "bob", "ann", "cid"]
    assert names(db.query().order_by(("age", "desc")).all()) == ["ann", "cid", "bob", "eve", "dan"]
    assert names(db.query().order_by(("age", "desc"), ("name", "desc")).all()) == \
        ["cid", "ann", "bob", "eve", "dan"]
    assert names(db.query().order_by("city", "name").all()) == ["dan", "ann", "cid", "eve", "bob"]


def test_limit_offset_first_count_exists(db):
    q = db.query().order_by("name")
    assert names(q.offset(1).limit(2).all()) == ["bob", "cid"]
    assert names(q.offset(4).limit(10).all()) == ["eve"]
    assert q.offset(9).all() == [] and q.limit(0).all() == []
    assert q.first()["name"] == "ann"
    assert db.query().where(F("age") > 100).first() is None
    assert db.query().where(F("city") == "Oslo").count() == 3
    assert db.query().where(F("city") == "Oslo").limit(2).count() == 2
    assert db.query().where(F("city") == "Oslo").exists()
    assert not db.query().where(F("city") == "Pisa").exists()
    assert len(list(db.query())) == 5


def test_select_projects_paths(db):
    rows = db.query().where(F("name") == "bob").select("name", "address.zip", "nope").all()
    assert rows == [{"id": uuid.UUID(int=2), "name": "bob", "address.zip": "001"}]


def test_delete_honours_filter_order_and_limit(db):
    assert db.query().where(F("city") == "Oslo").order_by(("name", "desc")).limit(2).delete() == 2
    assert names(db.query().all()) == ["ann", "bob", "dan"]


def test_spec_round_trips_through_msgpack(db):
    q = (db.query().where((F("age") > 20) | F("tags").contains("x"), F("name").in_(["ann", "cid"]))
         .order_by(("age", "desc"), "name").offset(1).limit(3).select("name"))
    spec = q.to_spec()
    again = Query.from_spec(msgpack.unpackb(msgpack.packb(spec)), db)
    assert again == q and again.all() == q.all()
    agg = db.query().group_by("city").aggregate(n=count(), a=avg("age")).having(F("n") > 1)
    back = db.query(msgpack.unpackb(msgpack.packb(agg.to_spec())))
    assert back == agg
    rows = back.all()
    assert len(rows) == 1 and rows[0]["city"] == "Oslo" and rows[0]["n"] == 3
    assert math.isnan(rows[0]["a"])          # a NaN among the numbers makes the average NaN


def test_spec_form_is_plain_lists_and_dicts(db):
    assert (F("a") == 1).to_spec() == ["eq", "a", 1]
    assert ((F("a") > 1) & ~F("b").exists()).to_spec() == ["and", ["gt", "a", 1], ["not", ["exists", "b"]]]
    assert db.query().where(F("a").between(1, 2)).order_by("a").limit(2).to_spec() == \
        {"where": ["between", "a", 1, 2], "order_by": [["a", "asc"]], "limit": 2}


def test_queries_are_immutable_builders(db):
    base = db.query().where(F("city") == "Oslo")
    limited = base.limit(1)
    assert base.count() == 3 and limited.count() == 1
