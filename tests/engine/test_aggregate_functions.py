"""Aggregations: count, sum, avg, min, max, group_by, having (semantics.md §6)."""
from __future__ import annotations

import math
import random
import uuid
from fractions import Fraction

import pytest

from engine.aggregate import exact_sum
from engine.errors import QueryError
from engine.query import F, avg, count, max_, min_, sum_
from tests.engine.api_support import memory_db


@pytest.fixture
def db():
    with memory_db() as d:
        yield d


def agg(db, **aggs):
    return db.query().aggregate(**aggs).all()[0]


def test_integer_sums_are_exact_beyond_64_bits(db):
    db.insert_many([{"x": 2**63 - 1} for _ in range(4)] + [{"x": -3}])
    row = agg(db, s=sum_("x"), a=avg("x"), n=count("x"))
    assert row["s"] == 4 * (2**63 - 1) - 3 and type(row["s"]) is int
    assert row["a"] == (4 * (2**63 - 1) - 3) / 5
    assert row["n"] == 5


def test_float_sums_are_correctly_rounded(db):
    xs = [0.1] * 10 + [1e100, 1.0, -1e100]
    db.insert_many([{"x": x} for x in xs])
    assert agg(db, s=sum_("x"))["s"] == math.fsum(xs) == 2.0


def test_mixed_int_and_float_sum_is_the_exact_sum_rounded_once():
    rnd = random.Random(7)
    for _ in range(200):
        ints = [rnd.randint(-(2**63), 2**63 - 1) for _ in range(rnd.randint(0, 5))]
        floats = [rnd.uniform(-1e20, 1e20) * 10 ** rnd.randint(-5, 5) for _ in range(rnd.randint(1, 5))]
        exact = sum(map(Fraction, floats)) + sum(ints)
        assert exact_sum(sum(ints), floats) == float(exact)


def test_nan_and_infinities_in_sums():
    assert math.isnan(exact_sum(0, [1.0, math.nan]))
    assert math.isnan(exact_sum(0, [math.inf, -math.inf]))
    assert exact_sum(5, [math.inf, 1.0]) == math.inf
    assert exact_sum(5, [-math.inf]) == -math.inf
    assert exact_sum(0, []) == 0


def test_non_numbers_are_ignored_by_sum_and_avg(db):
    db.insert_many([{"x": 1}, {"x": True}, {"x": "7"}, {"x": None}, {}, {"x": [2]}, {"x": 2.5}])
    row = agg(db, s=sum_("x"), a=avg("x"), n=count(), present=count("x"))
    assert row == {"s": 3.5, "a": 1.75, "n": 7, "present": 5}


def test_empty_aggregation_gives_one_row(db):
    assert agg(db, n=count(), s=sum_("x"), a=avg("x"), lo=min_("x"), hi=max_("x")) == \
        {"n": 0, "s": 0, "a": None, "lo": None, "hi": None}


def test_min_max_use_the_total_order_across_types(db):
    db.insert_many([{"x": "b"}, {"x": 3}, {"x": None}, {}, {"x": False}, {"x": [1]}])
    assert agg(db, lo=min_("x"), hi=max_("x")) == {"lo": False, "hi": [1]}


def test_min_of_equal_values_is_the_smallest_ids(db):
    db.insert({"id": uuid.UUID(int=2), "x": 1})
    db.insert({"id": uuid.UUID(int=1), "x": 1.0})
    row = agg(db, lo=min_("x"), hi=max_("x"))
    assert type(row["lo"]) is float and type(row["hi"]) is float


def test_group_by_merges_equal_numbers_and_keeps_missing_apart(db):
    db.insert({"id": uuid.UUID(int=1), "k": 1.0, "v": 10})
    db.insert({"id": uuid.UUID(int=2), "k": 1, "v": 5})
    db.insert({"id": uuid.UUID(int=3), "k": None, "v": 1})
    db.insert({"id": uuid.UUID(int=4), "v": 2})
    db.insert({"id": uuid.UUID(int=5), "k": math.nan, "v": 3})
    db.insert({"id": uuid.UUID(int=6), "k": -math.nan, "v": 4})
    rows = db.query().group_by("k").aggregate(n=count(), s=sum_("v")).all()
    assert rows[0] == {"n": 1, "s": 2}                     # MISSING group, sorts first
    assert rows[1] == {"k": None, "n": 1, "s": 1}
    assert math.isnan(rows[2]["k"]) and rows[2]["n"] == 2  # every NaN is one group
    assert rows[3] == {"k": 1.0, "n": 2, "s": 15} and type(rows[3]["k"]) is float


def test_group_by_several_fields_having_order_and_paging(db):
    data = [("Oslo", "a", 1), ("Oslo", "a", 2), ("Oslo", "b", 3), ("Rome", "a", 4),
            ("Rome", "a", 5), ("Rome", "a", 6), ("Pisa", "c", 7)]
    db.insert_many([{"city": c, "t": t, "x": x} for c, t, x in data])
    rows = (db.query().group_by("city", "t").aggregate(n=count(), total=sum_("x"))
            .having(F("n") >= 2).order_by(("total", "desc")).all())
    assert rows == [{"city": "Rome", "t": "a", "n": 3, "total": 15},
                    {"city": "Oslo", "t": "a", "n": 2, "total": 3}]
    page = db.query().group_by("city").aggregate(n=count()).offset(1).limit(1).all()
    assert page == [{"city": "Pisa", "n": 1}]
    assert db.query().group_by("city").aggregate(n=count()).count() == 3
    filtered = db.query().where(F("x") > 3).group_by("city").aggregate(hi=max_("x")).all()
    assert filtered == [{"city": "Pisa", "hi": 7}, {"city": "Rome", "hi": 6}]


def test_group_by_without_aggregates_lists_distinct_values(db):
    db.insert_many([{"c": "x"}, {"c": "y"}, {"c": "x"}])
    assert db.query().group_by("c").all() == [{"c": "x"}, {"c": "y"}]


def test_aggregate_errors(db):
    with pytest.raises(QueryError, match="needs a field path"):
        sum_(None)
    with pytest.raises(QueryError, match="clash"):
        db.query().group_by("a").aggregate(a=count()).all()
    with pytest.raises(QueryError, match="aggregation"):
        db.query().aggregate(n=count()).delete()
    with pytest.raises(QueryError, match="at least one"):
        db.query().aggregate()


def test_aggregates_on_an_index_plan_equal_the_scan(db):
    db.insert_many([{"c": i % 3, "x": i} for i in range(30)])
    q = db.query().where(F("c").in_([0, 2])).group_by("c").aggregate(s=sum_("x"), n=count())
    before = q.all()
    db.create_index("c")
    assert q.explain()["plan"] == "index_scan"
    assert q.all() == before == [{"c": 0, "s": 135, "n": 10}, {"c": 2, "s": 155, "n": 10}]


def test_having_and_order_address_nested_group_paths_by_their_full_name(db):
    db.insert_many([{"a": {"c": "x"}, "v": 1}, {"a": {"c": "x"}, "v": 2}, {"a": {"c": "y"}, "v": 5}])
    rows = (db.query().group_by("a.c").aggregate(s=sum_("v"))
            .having(F("a.c") != "zzz").order_by(("a.c", "desc")).all())
    assert rows == [{"a.c": "y", "s": 5}, {"a.c": "x", "s": 3}]
