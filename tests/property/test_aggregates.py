"""Aggregations: exact integer sums (beyond 2**63 too), correctly rounded float
sums, count / avg / min / max and group_by, against arithmetic done here and
against the reference model.

Tolerance for float sums (semantics.md §6): none beyond the one documented
rounding — the result must equal the exact mathematical sum of every number
(ints and floats) rounded once to a double (what math.fsum gives for floats),
with NaN / ±inf by the documented rules. Only the sign of a zero sum is left
open, so zeros compare by value.
"""
from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.query import F, avg, count, max_, min_, sum_
from engine.semantics import sort_key
from tests.property.reference import (AGG_COLUMN, engine_aggregate, expected_aggregate, from_engine, memdb,
                                      model_table, okey, strict_equal)
from tests.property.strategies import EDGE_FLOATS, EDGE_INTS, INT64, examples, same

pytestmark = pytest.mark.property

NUMBERS = st.one_of(INT64, EDGE_INTS, st.integers(-10, 10), st.floats(allow_nan=False, allow_infinity=False),
                    EDGE_FLOATS, st.floats(-1e3, 1e3))
OTHERS = st.one_of(st.none(), st.booleans(), st.sampled_from(["1", "", b"\x01"]))
GROUPS = st.sampled_from([1, 1.0, 2, math.nan, None, "g", -0.0, 0])
ROWS = st.lists(st.fixed_dictionaries({}, optional={"x": st.one_of(NUMBERS, NUMBERS, OTHERS), "g": GROUPS}),
                max_size=12)
INT_ROWS = st.lists(st.fixed_dictionaries({"x": st.one_of(INT64, EDGE_INTS)}, optional={"g": GROUPS}),
                    min_size=1, max_size=12)


def exact_sum(xs):
    """semantics.md §6 computed independently: exact int, or one rounding of the exact total."""
    nums = [x for x in xs if type(x) in (int, float)]
    floats = [x for x in nums if type(x) is float]
    if not floats:
        return sum(nums)
    if any(math.isnan(f) for f in floats) or (math.inf in floats and -math.inf in floats):
        return math.nan
    if math.inf in floats or -math.inf in floats:
        return math.inf if math.inf in floats else -math.inf
    total = sum(map(Fraction, nums), Fraction(0))
    try:
        return float(total)
    except OverflowError:
        return math.inf if total > 0 else -math.inf


def equal_number(actual, expected) -> bool:
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, float) and expected == 0:
        return actual == 0
    return same(actual, expected)


@settings(max_examples=examples(1.0, ci=160))
@given(rows=INT_ROWS)
@example(rows=[{"x": 2**63 - 1}, {"x": 2**63 - 1}, {"x": 2**63 - 1}])      # beyond int64
@example(rows=[{"x": -2**63}, {"x": -2**63}, {"x": 1}])
@example(rows=[{"x": 2**53 + 1}, {"x": 2**53 + 1}, {"x": 1}])            # beyond the double mantissa
def test_integer_sums_are_exact(rows):
    """Python int arithmetic: no overflow at 2**63, no rounding to float."""
    with memdb() as db:
        db.insert_many(rows)
        xs = [r["x"] for r in rows]
        (row,) = db.query().aggregate(s=sum_("x"), n=count("x"), a=avg("x")).all()
        assert type(row["s"]) is int and row["s"] == sum(xs)
        assert row["n"] == len(xs)
        assert row["a"] == sum(xs) / len(xs)  # correctly rounded true division of the exact total


@settings(max_examples=examples(1.5, ci=240))
@given(rows=ROWS)
@example(rows=[{"x": 0.1}] * 10)                                            # fsum, not naive addition
@example(rows=[{"x": 1e308}, {"x": 1e308}, {"x": -1e308}])                  # no intermediate overflow
@example(rows=[{"x": 2**63 - 1}, {"x": 0.5}, {"x": 2**63 - 1}])             # int part exact, one rounding
@example(rows=[{"x": 2**53}, {"x": 1}, {"x": 1.0}])
@example(rows=[{"x": math.inf}, {"x": -math.inf}, {"x": 1}])
@example(rows=[{"x": -0.0}, {"x": 0}, {"x": True}, {"x": "3"}, {"x": None}, {}])
def test_aggregates_are_correct(rows):
    with memdb() as db:
        ids = db.insert_many(rows) if rows else []
        xs = [r["x"] for r in rows if "x" in r]
        (row,) = db.query().aggregate(n=count(), c=count("x"), s=sum_("x"), a=avg("x"), lo=min_("x"),
                                      hi=max_("x")).all()
        assert row["n"] == len(rows)
        assert row["c"] == sum(1 for x in xs if x is not None)
        expected = exact_sum(xs)
        assert equal_number(row["s"], expected), (row["s"], expected)
        nums = [x for x in xs if type(x) in (int, float)]
        if nums:
            assert equal_number(row["a"], expected / len(nums)), (row["a"], expected, len(nums))
        else:
            assert row["a"] is None
        present = [(rid.bytes, r["x"]) for rid, r in zip(ids, rows) if r.get("x") is not None]
        if present:
            by_id = [x for _, x in sorted(present, key=lambda p: p[0])]
            lo = min(by_id, key=sort_key)   # min/max keep the first: the smallest id among equals
            hi = max(reversed(by_id), key=sort_key)
            hi = next(x for x in by_id if sort_key(x) == sort_key(hi))
            assert same(row["lo"], lo) and same(row["hi"], hi), (row, lo, hi)
        else:
            assert row["lo"] is None and row["hi"] is None


@settings(max_examples=examples(1.5, ci=240))
@given(rows=ROWS, func=st.sampled_from(["count_all", "count", "sum", "avg", "min", "max"]),
       group=st.booleans())
def test_grouped_aggregates_equal_the_reference_model(rows, func, group):
    """group_by groups by the total order (1 and 1.0 together, one NaN group,
    MISSING a group of its own), groups in order, group values from the smallest id."""
    with memdb() as db:
        if rows:
            db.insert_many(rows)
        table = model_table(db.fetch_all())
        group_by = (("g",),) if group else ()
        expected = expected_aggregate(table, func, ("x",), None, group_by)
        actual = engine_aggregate(db, func, ("x",), None, group_by)
        assert len(actual) == len(expected), (actual, expected)
        for a, e in zip(actual, expected):
            assert a.keys() == e.keys(), (a, e)
            for k in e:
                if func in ("sum", "avg") and k != "g":
                    assert type(a[k]) is type(e[k]) and okey(a[k]) == okey(e[k]), (a, e)
                else:
                    assert strict_equal(a[k], e[k]), (a, e)
        if group:
            counts = [r["n"] for r in db.query().group_by("g").aggregate(n=count()).all()]
            assert sum(counts) == len(rows)
            having = db.query().group_by("g").aggregate(n=count()).having(F("n") > 1).all()
            assert [r["n"] for r in having] == [n for n in counts if n > 1]


@settings(max_examples=examples(1.0, ci=160))
@given(rows=ROWS, min_n=st.integers(0, 3), offset=st.one_of(st.none(), st.integers(0, 3)),
       limit=st.one_of(st.none(), st.integers(0, 3)))
def test_having_and_paging_filter_the_grouped_rows(rows, min_n, offset, limit):
    """Several aggregates in one grouped query; having filters the rows by their
    columns, then offset/limit page them (semantics.md §6), in group order."""
    with memdb() as db:
        if rows:
            db.insert_many(rows)
        table = model_table(db.fetch_all())
        funcs = {"n": "count_all", "s": "sum", "lo": "min", "hi": "max"}
        per_func = {name: expected_aggregate(table, func, ("x",), None, (("g",),)) for name, func in funcs.items()}
        expected = []
        for i, base in enumerate(per_func["n"]):
            row = {k: v for k, v in base.items() if k == "g"}
            row.update({name: per_func[name][i][AGG_COLUMN] for name in funcs})
            if row["n"] > min_n:
                expected.append(row)
        expected = expected[offset or 0:]
        expected = expected if limit is None else expected[:limit]
        q = db.query().group_by("g").aggregate(n=count(), s=sum_("x"), lo=min_("x"), hi=max_("x")) \
            .having(F("n") > min_n)
        if offset is not None:
            q = q.offset(offset)
        if limit is not None:
            q = q.limit(limit)
        actual = [from_engine(r) for r in q.all()]
        assert len(actual) == len(expected), (actual, expected)
        for a, e in zip(actual, expected):
            assert a.keys() == e.keys(), (a, e)
            assert type(a["s"]) is type(e["s"]) and okey(a["s"]) == okey(e["s"]), (a, e)
            assert all(strict_equal(a[k], e[k]) for k in e if k != "s"), (a, e)
