"""Every predicate operator on every pair of value classes, against an
independent oracle of engine/doc/semantics.md (Fractions for numbers, an
explicit class table), plus the named edge cases of issue 3."""
from __future__ import annotations

import datetime as dt
import itertools
import math
import uuid
from fractions import Fraction

import pytest

from engine.errors import QueryError
from engine.query import F, Query, compile_pred, pred_from_spec
from engine.semantics import sort_key, type_class
from engine.types import MISSING, Vector
from tests.engine.api_support import memory_db  # noqa: F401  (selects the native modules)

UTC = dt.UTC

# --------------------------------------------------------------- the oracle


def _cls(v) -> int:
    if v is MISSING:
        return 0
    if v is None:
        return 1
    if isinstance(v, bool):
        return 2
    if isinstance(v, (int, float)):
        return 3
    for i, t in enumerate((str, bytes, dt.datetime, uuid.UUID, Vector, list, dict), start=4):
        if isinstance(v, t):
            return i
    raise TypeError(v)


def _sign(x) -> int:
    return (x > 0) - (x < 0)


def _cmp_num(a, b) -> int:
    an, bn = isinstance(a, float) and math.isnan(a), isinstance(b, float) and math.isnan(b)
    if an or bn:
        return 0 if an and bn else (-1 if an else 1)
    if math.isinf(a) or math.isinf(b):
        fa = a if math.isinf(a) else 0.0
        fb = b if math.isinf(b) else 0.0
        return _sign(fa - fb) if fa != fb else 0
    return _sign(Fraction(a) - Fraction(b))


def _cmp_seq(xs, ys, cmp) -> int:
    for x, y in zip(xs, ys):
        c = cmp(x, y)
        if c:
            return c
    return _sign(len(xs) - len(ys))


def oracle_cmp(a, b) -> int:
    ca, cb = _cls(a), _cls(b)
    if ca != cb:
        return _sign(ca - cb)
    if ca in (0, 1):
        return 0
    if ca == 2:
        return _sign(int(a) - int(b))
    if ca == 3:
        return _cmp_num(a, b)
    if ca == 4:
        return _cmp_seq([ord(c) for c in a], [ord(c) for c in b], lambda x, y: _sign(x - y))
    if ca == 5:
        return _cmp_seq(list(a), list(b), lambda x, y: _sign(x - y))
    if ca == 6:
        return _sign((a - b) / dt.timedelta(microseconds=1))
    if ca == 7:
        return _cmp_seq(list(a.bytes), list(b.bytes), lambda x, y: _sign(x - y))
    if ca == 8:
        return _cmp_seq(list(a), list(b), _cmp_num)
    if ca == 9:
        return _cmp_seq(a, b, oracle_cmp)
    ka, kb = sorted(a), sorted(b)

    def pair_cmp(p, q):
        return oracle_cmp(p[0], q[0]) or oracle_cmp(p[1], q[1])
    return _cmp_seq([(k, a[k]) for k in ka], [(k, b[k]) for k in kb], pair_cmp)


# --------------------------------------------------------------- sample values

NAN = math.nan
SAMPLES = [
    MISSING, None, False, True,
    NAN, -math.inf, -(2**63), -1.5, -1, -0.0, 0, 0.0, 1, 1.0, 2**53, 2**53 + 1,
    9007199254740992.0, 2**63 - 1, 9.223372036854776e18, math.inf,
    "", "A", "a", "ab", "é", "\U0001F600", "\uffff",
    b"", b"\x00", b"\x00\x01", b"\xff",
    dt.datetime(1, 1, 1, tzinfo=UTC), dt.datetime(1970, 1, 1, tzinfo=UTC),
    dt.datetime(1970, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),  # == epoch
    dt.datetime(2024, 5, 1, 12, 0, 0, 1, tzinfo=UTC),
    uuid.UUID(int=0), uuid.UUID(int=1), uuid.UUID(int=2**128 - 1),
    Vector([]), Vector([NAN]), Vector([-0.0]), Vector([0.0, 1.0]), Vector([1.0]),
    [], [None], [1], [1.0, "a"], [1, "b"], [[]], [2],
    {}, {"a": 1}, {"a": 1.0, "b": None}, {"a": 2}, {"b": 0},
]
OPERANDS = [v for v in SAMPLES if v is not MISSING]


def _rec(v):
    return {} if v is MISSING else {"x": v}


def test_oracle_is_a_total_order_on_the_samples():
    for a, b in itertools.product(SAMPLES, repeat=2):
        assert oracle_cmp(a, b) == -oracle_cmp(b, a)


def test_sort_key_matches_the_oracle_on_every_pair():
    for a, b in itertools.product(SAMPLES, repeat=2):
        ka, kb = sort_key(a), sort_key(b)
        expected = oracle_cmp(a, b)
        got = (ka > kb) - (ka < kb)
        assert got == expected, (a, b)
        if expected == 0:
            assert hash(ka) == hash(kb), (a, b)


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparison_operators_on_every_type_pair(op):
    for x, v in itertools.product(SAMPLES, OPERANDS):
        c = oracle_cmp(x, v)
        same = _cls(x) == _cls(v)
        expected = {"eq": same and c == 0, "ne": not (same and c == 0),
                    "lt": same and c < 0, "le": same and c <= 0,
                    "gt": same and c > 0, "ge": same and c >= 0}[op]
        assert compile_pred(pred_from_spec([op, "x", v]))(_rec(x)) is expected, (op, x, v)


def test_in_not_in_between_contains_exists_missing_on_every_type():
    for x in SAMPLES:
        r = _rec(x)
        members = [1, "a", None]
        in_expected = any(_cls(x) == _cls(m) and oracle_cmp(x, m) == 0 for m in members)
        assert (F("x").in_(members).matches(r)) is in_expected, x
        assert (F("x").not_in(members).matches(r)) is (not in_expected), x
        assert F("x").in_([]).matches(r) is False
        assert F("x").exists().matches(r) is (x is not MISSING)
        assert F("x").missing().matches(r) is (x is MISSING)
        for lo, hi in [(0, 1), (-math.inf, math.inf), ("a", "b"), (b"", b"\x00"), (None, None)]:
            expected = (_cls(x) == _cls(lo) and oracle_cmp(lo, x) <= 0
                        and oracle_cmp(x, hi) <= 0)
            assert F("x").between(lo, hi).matches(r) is expected, (x, lo, hi)
        for v in OPERANDS:
            if isinstance(x, str) and not isinstance(x, bool):
                expected = isinstance(v, str) and v in x
            elif isinstance(x, list):
                expected = any(_cls(e) == _cls(v) and oracle_cmp(e, v) == 0 for e in x)
            else:
                expected = False
            assert F("x").contains(v).matches(r) is expected, (x, v)


# --------------------------------------------------------------- named cases

def m(pred, record):
    return pred.matches(record)


def test_int_double_compare_exactly_beyond_2_53():
    big = 2**63 - 1
    assert m(F("x") < 9.223372036854776e18, {"x": big})
    assert not m(F("x") == 9.223372036854776e18, {"x": big})
    assert m(F("x") > 9007199254740992.0, {"x": 2**53 + 1})
    assert not m(F("x") == float(2**53 + 1), {"x": 2**53 + 1})
    assert m(F("x") == 1.0, {"x": 1}) and m(F("x") == 1, {"x": 1.0})


def test_nan_is_one_value_below_every_number():
    assert m(F("x") == math.nan, {"x": math.nan})
    assert m(F("x") < -math.inf, {"x": math.nan})
    assert m(F("x") > math.nan, {"x": -math.inf})
    assert not m(F("x") == 0, {"x": math.nan})
    assert m(F("x") == -math.nan, {"x": math.nan})   # any sign/payload: one NaN


def test_negative_zero_equals_zero():
    assert m(F("x") == 0, {"x": -0.0}) and m(F("x") == -0.0, {"x": 0})
    assert not m(F("x") < 0.0, {"x": -0.0})


def test_bool_is_not_a_number():
    assert not m(F("x") == 1, {"x": True})
    assert not m(F("x") == False, {"x": 0})
    assert not m(F("x") > 0, {"x": True})


def test_missing_and_null_differ():
    assert m(F("x") == None, {"x": None})
    assert not m(F("x") == None, {})
    assert m(F("x") != None, {})
    assert m(F("x").exists(), {"x": None}) and m(F("x").missing(), {})


def test_comparisons_never_cross_classes():
    assert not m(F("x") < 5, {"x": "a"})
    assert not m(F("x") > "a", {"x": 5})
    assert not m(F("x") < 5, {})


def test_strings_order_by_code_point_not_utf16():
    # U+FFFF < U+1F600 by code point; UTF-16 would put the surrogate pair first
    assert m(F("x") < "\U0001F600", {"x": "\uffff"})
    assert m(F("x") < "a", {"x": "Z"})


def test_dates_compare_by_instant_across_time_zones():
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    same = dt.datetime(1970, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert m(F("x") == same, {"x": epoch})


def test_nested_paths_and_positions():
    r = {"address": {"city": "Oslo"}, "tags": ["a", "b"], "m": [[1, 2], [3]], "d": {"0": "zero"}}
    assert m(F("address.city") == "Oslo", r)
    assert m(F("tags.1") == "b", r)
    assert m(F("m.1.0") == 3, r)
    assert m(F("d.0") == "zero", r)
    assert m(F("tags.2").missing(), r)
    assert m(F("tags.01").missing(), r)
    assert m(F("address.city.x").missing(), r)
    assert m(F("v.1") == 2.0, {"v": Vector([1.0, 2.0])})


def test_arrays_compare_as_whole_values():
    assert not m(F("tags") == "a", {"tags": ["a"]})
    assert m(F("tags") == ["a"], {"tags": ["a"]})
    assert m(F("tags").contains("a"), {"tags": ["a"]})
    assert m(F("tags").contains(1.0), {"tags": [1]})


def test_boolean_composition():
    r = {"a": 1, "b": 2}
    assert m((F("a") == 1) & (F("b") == 2), r)
    assert m((F("a") == 0) | (F("b") == 2), r)
    assert m(~(F("a") == 0), r)
    assert m(pred_from_spec(["and"]), r) and not m(pred_from_spec(["or"]), r)


# --------------------------------------------------------------- bad queries

@pytest.mark.parametrize("spec, fragment", [
    (["like", "a", "x"], "unknown operator 'like'"),
    (["eq", "", 1], "empty field path"),
    (["eq", "a..b", 1], "malformed field path 'a..b'"),
    (["eq", ".a", 1], "malformed field path"),
    (["eq", 3, 1], "must be a string"),
    (["eq", "a", {1, 2}], "set is not a BlazeDB value type"),
    (["eq", "a", 2**64], "outside signed 64 bits"),
    (["eq", "a", dt.datetime(2020, 1, 1)], "naive datetime"),
    (["in", "a", 5], "expects a list of values"),
    (["in", "a", "abc"], "expects a list of values"),
    (["between", "a", 1, "z"], "must be of one type class"),
    (["eq", "a"], "takes 2 argument"),
    (["not", ["exists", "a"], ["exists", "b"]], "takes one predicate"),
    ("eq", "a predicate spec is a list"),
    (["eq", "a", MISSING], "MISSING is not a value"),
])
def test_bad_predicates_raise_query_error_naming_the_problem(spec, fragment):
    with pytest.raises(QueryError, match=None) as info:
        pred_from_spec(spec)
    assert fragment in str(info.value)


def test_bad_builder_calls_raise_query_error():
    with pytest.raises(QueryError, match="direction"):
        Query().order_by(("a", "up"))
    with pytest.raises(QueryError, match="non-negative"):
        Query().limit(-1)
    with pytest.raises(QueryError, match="truth value"):
        bool(F("a") == 1)
    with pytest.raises(QueryError, match="not bound"):
        Query().all()
    with pytest.raises(QueryError, match="unknown query spec keys"):
        Query.from_spec({"wher": ["exists", "a"]})
    with pytest.raises(QueryError, match="unknown aggregate"):
        Query.from_spec({"aggregate": {"n": ["median", "a"]}})


def test_type_class_names_every_class():
    assert [type_class(v) for v in (MISSING, None, True, 1.5, "s", b"b",
                                    dt.datetime(2000, 1, 1, tzinfo=UTC), uuid.UUID(int=3),
                                    Vector([1.0]), [1], {"a": 1})] == list(range(11))


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_order_by_sorts_every_type_by_the_oracle_with_ties_by_id(direction):
    import functools

    with memory_db() as db:
        rows = []
        for i, v in enumerate(SAMPLES + SAMPLES[::3]):      # duplicates make ties
            rid = uuid.UUID(int=(i * 7919) % 4093 + 1)
            db.insert({"id": rid} if v is MISSING else {"id": rid, "x": v})
            rows.append((v, rid))

        def cmp(a, b):
            c = oracle_cmp(a[0], b[0])
            if direction == "desc":
                c = -c
            return c or _sign(a[1].int - b[1].int)
        expected = [rid for _, rid in sorted(rows, key=functools.cmp_to_key(cmp))]
        got = [r["id"] for r in db.query().order_by(("x", direction)).all()]
        assert got == expected
        db.create_index("x")
        assert [r["id"] for r in db.query().order_by(("x", direction)).limit(1000).all()] == expected
