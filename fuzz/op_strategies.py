"""Hypothesis strategies for op-grammar values, predicates and ops.

They generate exactly the grammar of fuzz/values.py and fuzz/opstream.py
(so `decode(encode(ops)) == ops` holds for everything drawn), with the
grammar's small tables mixed in so that draws collide: ids the stream
inserted, the common field names, ints around zero. Used by the stateful
target (fuzz/targets/stateful.py) and the property tests.
"""
from __future__ import annotations

import datetime as _dt
import functools

from hypothesis import strategies as st

from fuzz import opstream as O
from fuzz import values as V

UTC = V.UTC


def named(strategy, name: str):
    """`strategy` behind a composite whose repr is just `name()`.

    Hypothesis reprs a deferred strategy as the whole strategy it wraps, and
    stateful testing formats rule strategies while it runs: without this, the
    recursive value and predicate strategies repr to hundreds of megabytes."""
    def draw_it(draw):
        return draw(strategy)
    draw_it.__name__ = draw_it.__qualname__ = name
    return st.composite(draw_it)()

names = st.one_of(
    st.sampled_from(V.FIELD_NAMES),
    st.sampled_from(V.FIELD_NAMES),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=4),
)
ints = st.one_of(st.integers(-0x70, 0x6F), st.sampled_from(V.INT_TABLE), st.integers(-2**63, 2**63 - 1))
floats = st.one_of(
    st.sampled_from(V.FLOAT_TABLE),
    st.integers(-0x70, 0x6F).map(lambda q: q / 4),
    st.floats(allow_nan=False),
    st.just(V.NAN),
)
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
datas = st.binary(max_size=12)
dates = st.one_of(
    st.sampled_from(V.DATE_TABLE),
    st.datetimes(min_value=_dt.datetime(1, 1, 1), max_value=_dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
                 timezones=st.just(UTC)),
)
uuids = st.one_of(st.sampled_from(V.ID_TABLE), st.uuids())
vectors = st.lists(floats, max_size=V.MAX_LEN).map(V.Vec)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts, datas, dates, uuids)


@functools.cache  # one strategy object per depth: cheap to build and to repr
def values(depth: int = 1):
    """Values at nesting `depth` (containers only while depth < MAX_NESTING)."""
    if depth >= V.MAX_NESTING:
        return named(scalars, "scalars")
    inner = st.deferred(lambda: values(depth + 1))
    return named(st.one_of(
        scalars, scalars, vectors,
        st.lists(inner, max_size=V.MAX_LEN),
        st.dictionaries(names, inner, max_size=V.MAX_LEN),
    ), f"values_at_depth_{depth}")


records = named(st.dictionaries(names, values(1), max_size=O.MAX_FIELDS), "records")
refs = st.one_of(st.integers(0, 0xEF), st.integers(0, 7), uuids)
path_segments = st.one_of(st.sampled_from(V.PATH_NAMES), names)
paths = st.lists(path_segments, min_size=1, max_size=O.MAX_PATH).map(tuple)


@functools.cache
def predicates(depth: int = 0):
    v = values(1)
    leaves = st.one_of(
        st.builds(O.Cmp, paths, st.sampled_from(O.CMP_OPS), v),
        st.builds(O.In, paths, st.lists(v, max_size=O.MAX_VALUES).map(tuple)),
        st.builds(O.NotIn, paths, st.lists(v, max_size=O.MAX_VALUES).map(tuple)),
        st.builds(O.Between, paths, v, v),
        st.builds(O.Contains, paths, v),
        st.builds(O.Exists, paths),
        st.builds(O.Missing, paths),
    )
    if depth >= O.MAX_PRED_DEPTH:
        return named(leaves, "leaf_predicates")
    inner = st.deferred(lambda: predicates(depth + 1))
    return named(st.one_of(
        leaves, leaves,
        st.builds(O.And, inner, inner),
        st.builds(O.Or, inner, inner),
        st.builds(O.Not, inner),
    ), f"predicates_at_depth_{depth}")


wheres = st.one_of(st.none(), predicates())
limits = st.one_of(st.none(), st.integers(0, 253))
order_bys = st.lists(st.tuples(paths, st.booleans()), max_size=O.MAX_SORT).map(tuple)
index_paths = st.lists(paths, min_size=1, max_size=2).map(tuple)

OP_STRATEGIES = {
    O.Insert: st.builds(O.Insert, uuids, records),
    O.InsertMany: st.builds(O.InsertMany, st.lists(st.tuples(uuids, records), min_size=1,
                                                    max_size=O.MAX_MANY).map(tuple)),
    O.Fetch: st.builds(O.Fetch, refs),
    O.Update: st.builds(O.Update, refs, records),
    O.Upsert: st.builds(O.Upsert, refs, records),
    O.Replace: st.builds(O.Replace, refs, records),
    O.Delete: st.builds(O.Delete, refs),
    O.DeleteAll: st.builds(O.DeleteAll, wheres),
    O.Query: st.builds(O.Query, wheres, order_bys, limits, limits, st.sampled_from(O.QUERY_FORMS),
                       st.one_of(st.none(), st.lists(paths, max_size=O.MAX_SELECT).map(tuple))),
    O.Count: st.builds(O.Count, wheres),
    O.Aggregate: st.builds(O.Aggregate, st.sampled_from(O.AGG_FUNCS), paths, wheres,
                           st.lists(paths, max_size=O.MAX_GROUP).map(tuple), wheres),
    O.CreateIndex: st.builds(O.CreateIndex, index_paths, st.booleans()),
    O.DropIndex: st.builds(O.DropIndex, index_paths),
    O.Begin: st.just(O.Begin()),
    O.Commit: st.just(O.Commit()),
    O.Rollback: st.just(O.Rollback()),
    O.Checkpoint: st.just(O.Checkpoint()),
    O.Reopen: st.just(O.Reopen()),
    O.Check: st.just(O.Check()),
}
OP_STRATEGIES = {kind: named(s, kind.__name__.lower() + "_ops") for kind, s in OP_STRATEGIES.items()}
ops = named(st.one_of(*OP_STRATEGIES.values()), "ops")
op_lists = st.lists(ops, max_size=24)
