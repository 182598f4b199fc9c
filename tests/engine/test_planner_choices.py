"""Planner choices and explain(): which plan runs, and why."""
from __future__ import annotations

import uuid

import pytest

from engine.query import F
from tests.engine.api_support import memory_db


@pytest.fixture
def db():
    with memory_db() as d:
        d.insert_many([{"id": uuid.UUID(int=i + 1), "a": i % 10, "b": i % 7, "s": str(i)}
                       for i in range(200)])
        yield d


def plan(q):
    return q.explain()


def test_full_scan_without_indexes_says_why(db):
    e = plan(db.query().where(F("a") == 1))
    assert e["plan"] == "full_scan" and "no secondary indexes" in e["reason"]


def test_equality_in_and_ranges_use_an_index(db):
    db.create_index("a")
    for q, ranges in [(db.query().where(F("a") == 3), 1),
                      (db.query().where(F("a").in_([1, 2, 2.0])), 2),
                      (db.query().where(F("a") > 3, F("a") <= 7), 1),
                      (db.query().where(F("a").between(2, 4)), 1)]:
        e = plan(q)
        assert (e["plan"], e["index"], e["ranges"]) == ("index_scan", "a", ranges), e
        assert "'a'" in e["reason"]


def test_or_and_not_are_never_index_served(db):
    db.create_index("a")
    for q in (db.query().where((F("a") == 1) | (F("b") == 2)), db.query().where(~(F("a") == 1)),
              db.query().where(F("a") != 1)):
        assert plan(q)["plan"] == "full_scan"


def test_composite_index_prefers_more_equality_fields(db):
    db.create_index("a")
    db.create_index(["a", "b"], name="ab")
    e = plan(db.query().where(F("a") == 1, F("b") == 1))
    assert e["index"] == "ab" and "preferred over 'a'" in e["reason"]
    assert plan(db.query().where(F("b") == 1))["plan"] == "full_scan"   # b is not leading
    assert plan(db.query().where(F("a") == 1, F("b") > 3))["index"] == "ab"
    got = db.query().where(F("a") == 1, F("b") > 3).all()
    assert [r["id"].int for r in got] == [r["id"].int for r in db.query().all()
                                          if r["a"] == 1 and r["b"] > 3]


def test_unique_index_wins_a_tie(db):
    db.create_index("s")
    db.create_index("s", unique=True, name="s_unique")
    assert plan(db.query().where(F("s") == "5"))["index"] == "s_unique"


def test_id_equality_is_a_direct_lookup(db):
    e = plan(db.query().where(F("id") == uuid.UUID(int=5)))
    assert e["plan"] == "id_lookup" and e["ids"] == 1
    assert db.query().where(F("id").in_([uuid.UUID(int=5), uuid.UUID(int=999)])).count() == 1


def test_order_by_an_indexed_field_streams_in_index_order(db):
    db.create_index("a")
    q = db.query().order_by("a").limit(3)
    e = plan(q)
    assert e["plan"] == "index_order" and "no sort" in e["order"]
    assert [r["id"].int for r in q.all()] == [1, 11, 21]       # a == 0, ties by id
    q2 = db.query().where(F("a") >= 8).order_by("a").limit(4)
    assert plan(q2)["plan"] == "index_scan" and "no sort" in plan(q2)["order"]
    assert [(r["a"], r["id"].int) for r in q2.all()] == [(8, 9), (8, 19), (8, 29), (8, 39)]
    desc = db.query().order_by(("a", "desc")).limit(3)
    assert plan(desc)["plan"] == "index_order" and "descending" in plan(desc)["order"]
    assert [(r["a"], r["id"].int) for r in desc.all()] == [(9, 10), (9, 20), (9, 30)]
    mixed = db.query().order_by(("a", "desc"), "b").limit(2)
    assert plan(mixed)["plan"] == "full_scan"                 # no index has (a, b)
    in_desc = db.query().where(F("a").in_([2, 7])).order_by(("a", "desc")).offset(19).limit(2)
    assert plan(in_desc)["ranges"] == 2 and "no sort" in plan(in_desc)["order"]
    assert [(r["a"], r["id"].int) for r in in_desc.all()] == [(7, 198), (2, 3)]


def test_impossible_range_reads_nothing(db):
    db.create_index("a")
    q = db.query().where(F("a") > 5, F("a") < 2)
    assert plan(q)["ranges"] == 0 and q.all() == []


def test_plans_whose_ranges_are_the_whole_filter_skip_the_recheck(db):
    db.create_index("a")
    db.create_index(["a", "b"], name="ab")
    assert plan(db.query().where(F("a") == 3))["exact"] is True
    assert plan(db.query().where(F("a") > 3, F("a") <= 7))["exact"] is True
    assert plan(db.query().where(F("a") == 3, F("b").between(1, 2)))["exact"] is True
    e = plan(db.query().where(F("a") == 3, F("s") == "13"))
    assert e["exact"] is False and "re-checked" in e["reason"]
    assert db.query().where(F("a") == 3, F("s") == "13").count() == 1
