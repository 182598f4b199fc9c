"""Index-vs-scan equivalence on random data of every type (issue 3, Planner):
the same random query over the same random records gives identical results
on a database without indexes, one with single/composite/nested/unique-free
indexes, and a brute-force model (filter every record, sort by the total
order, ties by id)."""
from __future__ import annotations

import datetime as dt
import math
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.query import Query
from engine.semantics import make_getter, sort_key
from engine.types import Vector
from tests.engine.api_support import memory_db

UTC = dt.UTC

POOL = [
    None, False, True, math.nan, -math.inf, math.inf, -0.0, 0, 0.0, 1, 1.0, -1, 2.5,
    2**53, 2**53 + 1, 9007199254740992.0, 2**63 - 1, 9.223372036854776e18, -(2**63),
    "", "a", "ab", "b", "é", "\U0001F600", b"", b"\x00", b"a",
    dt.datetime(1970, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 1, tzinfo=UTC),
    uuid.UUID(int=0), uuid.UUID(int=5), Vector([]), Vector([1.0]), Vector([math.nan]),
    [], [1], [1.0, "a"], ["a"], {}, {"k": 1}, {"k": "a"},
]
# Mostly a few common values, so that predicates hit equal values often.
values = st.sampled_from([0, 1, 1.0, "a", None, -0.0, math.nan]) | st.sampled_from(POOL) \
    | st.integers(-3, 3)
records = st.fixed_dictionaries({}, optional={
    "a": values, "b": values, "c": st.lists(values, max_size=2),
    "n": st.fixed_dictionaries({}, optional={"x": values}),
})
PATHS = ["a", "b", "n.x", "c.0", "c"]
paths = st.sampled_from(PATHS)
comparison = st.tuples(st.sampled_from(["eq", "lt", "le", "gt", "ge"]), paths, values).map(list)
leaf = st.one_of(
    comparison, comparison, comparison,
    st.tuples(st.sampled_from(["ne", "contains"]), paths, values).map(list),
    st.tuples(st.sampled_from(["in", "not_in"]), paths, st.lists(values, max_size=3)).map(list),
    st.tuples(st.just("exists") | st.just("missing"), paths).map(list),
    st.tuples(paths, values, values).filter(lambda t: sort_key(t[1])[0] == sort_key(t[2])[0])
    .map(lambda t: ["between", t[0], t[1], t[2]]),
)
preds = st.recursive(
    leaf, lambda kids: st.one_of(
        st.lists(kids, min_size=1, max_size=3).map(lambda k: ["and", *k]),
        st.lists(kids, min_size=1, max_size=3).map(lambda k: ["or", *k]),
        kids.map(lambda k: ["not", k])),
    max_leaves=4)
orders = st.lists(st.tuples(paths, st.sampled_from(["asc", "desc"])).map(list), max_size=2)
specs = st.fixed_dictionaries({"where": leaf | leaf | preds}, optional={
    "order_by": orders, "limit": st.integers(0, 6), "offset": st.integers(0, 3)})

INDEXES = [("a", False), ("b", False), (["a", "b"], False), ("n.x", False), (["b", "n.x"], False),
           ("c.0", False), ("c", False)]


def model(rows, spec):
    q = Query.from_spec(spec)
    pred = q.where_.compiled()
    out = sorted((r for r in rows if pred(r)), key=lambda r: r["id"].bytes)
    for path, direction in reversed(q.order):
        get = make_getter(path)
        out.sort(key=lambda r: sort_key(get(r)), reverse=direction == "desc")
    end = None if q.limit_ is None else q.offset_ + q.limit_
    return out[q.offset_:end]


def same_rows(xs, ys):
    """Row lists equal value for value, NaN included (by the total order, and by type)."""
    def canon(rows):
        return [[(k, sort_key(v), type(v).__name__) for k, v in sorted(r.items())] for r in rows]
    return canon(xs) == canon(ys)


def ids(rows):
    return [r["id"] for r in rows]


@pytest.mark.property
@settings(max_examples=80)
@given(st.lists(records, min_size=10, max_size=40), st.lists(specs, min_size=1, max_size=8))
def test_queries_give_identical_results_with_and_without_indexes(recs, query_specs):
    plain, indexed = memory_db(), memory_db()
    try:
        for i, (fields, unique) in enumerate(INDEXES):
            indexed.create_index(fields, unique=unique, name=f"i{i}")
        rows_ids = [uuid.UUID(int=(i * 7919) % 1000 + 1) for i in range(len(recs))]
        stored = []
        for rid, rec in zip(rows_ids, recs):
            plain.insert({**rec, "id": rid})
            indexed.insert({**rec, "id": rid})
            stored.append(plain.fetch(rid))
        for spec in query_specs:
            expected = ids(model(stored, spec))
            assert ids(plain.query(spec).all()) == expected, spec
            assert ids(indexed.query(spec).all()) == expected, (spec, indexed.query(spec).explain())
            assert indexed.query(spec).count() == len(expected)
            agg = {"where": spec["where"], "group_by": ["a"],
                   "aggregate": {"n": ["count", None], "s": ["sum", "b"], "lo": ["min", "b"],
                                 "hi": ["max", "n.x"], "m": ["avg", "b"]}}
            assert same_rows(indexed.query(agg).all(), plain.query(agg).all()), agg
        indexed.check()
    finally:
        plain.close()
        indexed.close()


# Every single-operator predicate on every pool value, on a fixed data set
# holding every pool value, with one index: exhaustive rather than sampled.
def test_every_indexable_operator_on_every_value_matches_the_scan():
    with memory_db() as plain, memory_db() as indexed:
        indexed.create_index("a")
        indexed.create_index(["g", "a"])
        for i, v in enumerate(POOL + [-3, 3]):
            for db in (plain, indexed):
                db.insert({"id": uuid.UUID(int=2 * i + 1), "a": v, "g": i % 2})
                db.insert({"id": uuid.UUID(int=2 * i + 2), "g": i % 2})   # a missing
        for v in POOL:
            for op in ("eq", "lt", "le", "gt", "ge"):
                for where in ([op, "a", v], ["and", ["eq", "g", 1], [op, "a", v]]):
                    spec = {"where": where, "order_by": [["a", "asc"]]}
                    assert indexed.query(spec).explain()["plan"] == "index_scan"
                    assert ids(indexed.query(spec).all()) == ids(plain.query(spec).all()), spec
            spec = {"where": ["in", "a", [v, 1, "a"]]}
            assert ids(indexed.query(spec).all()) == ids(plain.query(spec).all()), spec
            spec = {"where": ["between", "a", v, v]}
            assert ids(indexed.query(spec).all()) == ids(plain.query(spec).all()), spec


# Plans that stream in index order (ascending and descending, ties by id)
# against the model, on data with many ties.
few = st.sampled_from([None, 0, 1, 1.0, "a", math.nan, [1], -0.0])
ordered_specs = st.fixed_dictionaries({
    "where": st.one_of(
        st.tuples(st.sampled_from(["ge", "le", "eq", "lt", "gt"]), st.just("a"), few).map(list),
        st.tuples(st.just("in"), st.just("a"), st.lists(few, max_size=3)).map(list),
        st.just(["or", ["exists", "b"], ["missing", "b"]])),   # unservable: index_order
    "order_by": st.sampled_from([[["a", "asc"]], [["a", "desc"]]]),
    "limit": st.integers(0, 8)}, optional={"offset": st.integers(0, 4)})


@pytest.mark.property
@settings(max_examples=60)
@given(st.lists(st.fixed_dictionaries({"a": few}, optional={"b": few}), min_size=5, max_size=30),
       st.lists(ordered_specs, min_size=1, max_size=5))
def test_index_order_plans_equal_the_model_on_ties(recs, query_specs):
    with memory_db() as db:
        db.create_index("a")
        stored = []
        for i, rec in enumerate(recs):
            rid = uuid.UUID(int=(i * 7919) % 1000 + 1)
            db.insert({**rec, "id": rid})
            stored.append(db.fetch(rid))
        for spec in query_specs:
            assert "no sort" in db.query(spec).explain()["order"], spec
            assert ids(db.query(spec).all()) == ids(model(stored, spec)), spec
