"""The codec: records round-trip, and index_key's byte order is the total order
of engine.semantics.sort_key (which itself agrees with the fuzzers'
independently written fuzz/semantics_ref.okey)."""
from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine._native import codec
from engine.errors import CorruptRecordError
from engine.semantics import sort_key
from engine.types import MISSING
from tests.property.reference import okey
from tests.property.strategies import (EDGE_FLOATS, EDGE_INTS, EDGE_RECORD, QUERY_SCALARS, examples, loose_input,
                                       records, same, stored_form, to_model, values)

pytestmark = pytest.mark.property


def cmp(a, b) -> int:
    return (a > b) - (a < b)


# Numbers around the places where int and double disagree (2**53, 2**63).
NEAR_BOUNDS = st.one_of(
    st.integers(2**53 - 3, 2**53 + 3), st.integers(2**63 - 1025, 2**63 - 1),
    st.integers(-2**63, -2**63 + 1025),
    st.sampled_from([9007199254740992.0, 9007199254740994.0, 9.223372036854776e18, -9.223372036854776e18,
                     9.223372036854775e18]))
ORDERED = st.one_of(values(6), QUERY_SCALARS, EDGE_INTS, EDGE_FLOATS, NEAR_BOUNDS, st.just(MISSING))


@settings(max_examples=examples(2.0, ci=300))
@given(record=records())
@example(record=EDGE_RECORD)
def test_encode_decode_round_trips(record):
    data = codec.encode(record)
    assert isinstance(data, bytes)
    assert same(codec.decode(data), stored_form(record))
    assert codec.encode(loose_input(record)) == data  # one encoding per value
    assert codec.encode(codec.decode(data)) == data


@settings(max_examples=examples(2.0, ci=400))
@given(a=ORDERED, b=ORDERED)
@example(a=2**63 - 1, b=9.223372036854776e18)
@example(a=2**53 + 1, b=9007199254740992.0)
@example(a=math.nan, b=-math.inf)
@example(a=False, b=0)
def test_index_key_order_agrees_with_sort_key(a, b):
    ka, kb = codec.index_key((a,)), codec.index_key((b,))
    expected = cmp(sort_key(a), sort_key(b))
    assert cmp(ka, kb) == expected, (a, b, ka, kb)
    if expected == 0:
        assert ka == kb  # canonical: equal values, identical bytes
    else:
        assert not ka.startswith(kb) and not kb.startswith(ka)  # prefix-free
    if a is not MISSING and b is not MISSING:
        # Two implementations of semantics.md, written apart, agree.
        assert cmp(okey(to_model(a)), okey(to_model(b))) == expected, (a, b)


@settings(max_examples=examples(1.0, ci=160))
@given(xs=st.lists(ORDERED, min_size=1, max_size=3), ys=st.lists(ORDERED, min_size=1, max_size=3))
def test_composite_index_keys_concatenate_and_order_by_tuple(xs, ys):
    kx = codec.index_key(tuple(xs))
    assert kx == b"".join(codec.index_key((x,)) for x in xs)
    ky = codec.index_key(tuple(ys))
    assert cmp(kx, ky) == cmp(tuple(map(sort_key, xs)), tuple(map(sort_key, ys)))


@settings(max_examples=examples(2.0, ci=300))
@given(data=st.one_of(st.binary(max_size=64), records(3).map(codec.encode).flatmap(
    lambda enc: st.tuples(st.integers(0, max(0, len(enc) - 1)), st.integers(0, 255)).map(
        lambda pos_byte: enc[:pos_byte[0]] + bytes([pos_byte[1]]) + enc[pos_byte[0] + 1:]))))
def test_decode_takes_any_bytes(data):
    """Malformed input: CorruptRecordError, never another exception or a crash."""
    try:
        rec = codec.decode(data)
    except CorruptRecordError:
        return
    assert isinstance(rec, dict)
    assert same(codec.decode(codec.encode(rec)), rec)
