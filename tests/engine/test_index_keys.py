"""engine._codec.index_key meets the properties the planner relies on
(engine/doc/semantics.md §7): byte order == the total order, equal values
give equal bytes, and composite keys are concatenations."""
from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine._native import codec
from engine.semantics import sort_key
from engine.types import Vector
from tests.engine.api_support import memory_db  # noqa: F401  (selects the native modules)
from tests.engine.test_query_semantics import SAMPLES

UTC = dt.UTC


def cmp(a, b):
    return (a > b) - (a < b)


def check_pair(a, b):
    ka, kb = codec.index_key((a,)), codec.index_key((b,))
    want = cmp(sort_key(a), sort_key(b))
    assert cmp(ka, kb) == want, (a, b, ka.hex(), kb.hex())


def test_byte_order_equals_the_total_order_on_the_edge_samples():
    for a in SAMPLES:
        for b in SAMPLES:
            check_pair(a, b)


def test_equal_values_give_identical_bytes():
    for a, b in [(1, 1.0), (0, -0.0), (math.nan, -math.nan), (2**53, 9007199254740992.0),
                 (dt.datetime(1970, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),
                  dt.datetime(1970, 1, 1, tzinfo=UTC)),
                 ([1, -0.0], [1.0, 0]), ({"a": 1}, {"a": 1.0}), (Vector([-0.0]), Vector([0.0]))]:
        assert codec.index_key((a,)) == codec.index_key((b,)), (a, b)


def test_composite_keys_are_concatenations():
    for a in SAMPLES:
        for b in (None, 1, "a", [2], {"k": "v"}):
            assert codec.index_key((a, b)) == codec.index_key((a,)) + codec.index_key((b,))


finite = st.floats(allow_nan=True, allow_infinity=True)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), finite,
    st.integers(-(2**63), 2**63 - 1).map(float), st.text(max_size=5), st.binary(max_size=5),
    st.datetimes(timezones=st.just(UTC)), st.uuids(),
    st.lists(finite, max_size=3).map(Vector))
values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=3)
                      | st.dictionaries(st.text(max_size=3), kids, max_size=3), max_leaves=6)


@pytest.mark.property
@settings(max_examples=300)
@given(values, values)
def test_byte_order_equals_the_total_order_on_random_values(a, b):
    check_pair(a, b)
    assert codec.index_key((a, b)) == codec.index_key((a,)) + codec.index_key((b,))


@pytest.mark.property
@settings(max_examples=300)
@given(st.integers(-(2**63), 2**63 - 1), finite)
def test_ints_and_doubles_order_exactly(i, f):
    check_pair(i, f)
