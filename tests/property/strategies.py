"""Hypothesis strategies for BlazeDB values and records: all eleven field
types, nested, with the edge values that break engines (int64 bounds, NaN,
±inf, -0.0, empty containers, non-ASCII text, dates at the ends of the range).

`same(a, b)` compares values the way a round trip must preserve them: exact
type, exact bits for floats (NaN == NaN, -0.0 != 0.0), recursively.
"""
from __future__ import annotations

import datetime as dt
import math
import struct
import uuid

from hypothesis import strategies as st

from engine.types import Vector

INT64 = st.integers(min_value=-2**63, max_value=2**63 - 1)
EDGE_INTS = st.sampled_from([0, 1, -1, 2**53, 2**53 + 1, -2**53 - 1, 2**63 - 1, -2**63])
EDGE_FLOATS = st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1.7976931348623157e308,
                               9.223372036854776e18, -9.223372036854776e18, 0.1])
UTC = dt.timezone.utc
DATES = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
                     timezones=st.just(UTC))
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
FIELD_NAMES = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(
    lambda name: name != "id")

SCALARS = st.one_of(
    st.none(), st.booleans(), INT64, EDGE_INTS, st.floats(allow_nan=True), EDGE_FLOATS,
    TEXT, st.binary(max_size=40), DATES, st.uuids(),
    st.lists(st.floats(allow_nan=True), max_size=6).map(Vector),
)


def values(max_leaves: int = 12):
    return st.recursive(
        SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(FIELD_NAMES, children, max_size=4)),
        max_leaves=max_leaves)


def records(max_fields: int = 6):
    return st.dictionaries(FIELD_NAMES, values(), max_size=max_fields)


# Small, overlapping domains for query tests: predicates then match some records.
QUERY_FIELDS = ("a", "b", "c")
QUERY_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, -0.0, 1.5, math.nan, 2**63 - 1,
                                                                    9.223372036854776e18]),
    st.sampled_from(["", "a", "b", "ab", "é"]), st.sampled_from([b"", b"a"]),
    st.sampled_from([dt.datetime(2020, 1, 1, tzinfo=UTC), dt.datetime(2021, 6, 1, tzinfo=UTC)]),
    st.lists(st.integers(-2, 2), max_size=2))


def query_records():
    return st.dictionaries(st.sampled_from(QUERY_FIELDS), QUERY_SCALARS, max_size=3)


def _float_bits(x: float) -> bytes:
    return struct.pack("<d", x)


def same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return _float_bits(a) == _float_bits(b) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, Vector):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def stored_form(value):
    """What a value reads back as (tuples become lists; bytearray becomes bytes)."""
    if isinstance(value, tuple) and not isinstance(value, Vector):
        return [stored_form(v) for v in value]
    if isinstance(value, list):
        return [stored_form(v) for v in value]
    if isinstance(value, dict):
        return {k: stored_form(v) for k, v in value.items()}
    return value
