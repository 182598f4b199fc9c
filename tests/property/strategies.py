"""Hypothesis strategies for BlazeDB values, records and queries: all eleven
field types, nested, with the edge values that break engines (int64 bounds,
NaN, ±inf, -0.0, empty containers, non-ASCII text, dates at the ends of the
range and in other time zones).

`same(a, b)` compares values the way a round trip must preserve them: exact
type, exact bits for floats (every NaN is one value, -0.0 != 0.0), the same
instant *and* offset for dates, recursively. `stored_form(v)` is what a value
reads back as (tuple -> list, bytearray -> bytes, dates -> UTC).

`examples(fraction, ci=n)` scales a test's example count from the loaded
profile (tests/conftest.py: `ci` 40, `nightly` 2000): `n` examples in CI,
`fraction` x 2000 at night, so each property gets the count its cost allows.
"""
from __future__ import annotations

import datetime as dt
import math
import struct
import uuid

from hypothesis import settings
from hypothesis import strategies as st

from engine.types import Vector
from fuzz import opstream as O
from fuzz.values import Vec

INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
INT64 = st.integers(min_value=INT64_MIN, max_value=INT64_MAX)
EDGE_INTS = st.sampled_from([0, 1, -1, 2**53, 2**53 + 1, -2**53 - 1, INT64_MAX, INT64_MIN])
EDGE_FLOATS = st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1.7976931348623157e308,
                               9.223372036854776e18, -9.223372036854776e18, 0.1])
UTC = dt.timezone.utc
DATE_MIN = dt.datetime(1, 1, 1)
DATE_MAX = dt.datetime(9999, 12, 31, 23, 59, 59, 999999)
# Whole-minute offsets up to ±23:59 (what datetime.timezone allows).
OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
UTC_DATES = st.datetimes(min_value=DATE_MIN, max_value=DATE_MAX, timezones=st.just(UTC))
# Other offsets only a day away from the ends, so the instant stays representable.
OFFSET_DATES = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30),
                            timezones=OFFSETS)
DATES = st.one_of(UTC_DATES, OFFSET_DATES)
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


def examples(fraction: float = 1.0, ci: int = 5) -> int:
    """A test's example count: `fraction` of the loaded profile's max_examples,
    but at least `ci` (the CI count; the ci profile's 40 is the floor's scale)."""
    return max(ci, int(settings.default.max_examples * fraction))


def loose_input(value):
    """The same value in the other accepted input forms (list -> tuple,
    bytes -> bytearray, at every level): it must be stored identically."""
    if isinstance(value, Vector):
        return value
    if isinstance(value, list):
        return tuple(loose_input(v) for v in value)
    if isinstance(value, dict):
        return {k: loose_input(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return bytearray(value)
    return value


# ---------------------------------------------------------------- queries
#
# Small, overlapping domains so that predicates match some records but not
# all. Records here are engine values; predicates are fuzz/opstream.py
# predicates (the reference model's grammar: Vec for vectors), turned into
# engine predicates by fuzz.driver.pred.

QUERY_FIELDS = ("a", "b", "c")
_D2020, _D2021 = dt.datetime(2020, 1, 1, tzinfo=UTC), dt.datetime(2021, 6, 1, tzinfo=UTC)
QUERY_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, -0.0, 1.5, math.nan, 2**63 - 1,
                                                                    9.223372036854776e18, -math.inf]),
    st.sampled_from(["", "a", "b", "ab", "é"]), st.sampled_from([b"", b"a"]),
    st.sampled_from([_D2020, _D2021]),
    st.lists(st.integers(-2, 2), max_size=2),
    st.sampled_from([Vector([]), Vector([1.0]), Vector([1.0, math.nan])]),
    st.dictionaries(st.sampled_from(["x", "y"]), st.integers(-1, 1), max_size=2))


# Fewer distinct values: records collide on indexed fields and terms hit them.
DENSE_SCALARS = st.one_of(st.integers(-2, 2), st.integers(-2, 2),
                          st.sampled_from([None, 1.0, -0.0, "a", math.nan, True, [0]]))


def query_records(dense: bool = False):
    return st.dictionaries(st.sampled_from(QUERY_FIELDS), DENSE_SCALARS if dense else QUERY_SCALARS, max_size=3)


def to_model(v):
    """An engine value in the reference model's grammar (Vector -> Vec)."""
    if isinstance(v, Vector):
        return Vec(v)
    if isinstance(v, list):
        return [to_model(x) for x in v]
    if isinstance(v, dict):
        return {k: to_model(x) for k, x in v.items()}
    return v


QUERY_OPERANDS = QUERY_SCALARS.map(to_model)
QUERY_PATHS = st.one_of(st.sampled_from(QUERY_FIELDS).map(lambda f: (f,)),
                        st.sampled_from([("a", "0"), ("b", "1"), ("c", "x"), ("d",)]))
_CLASS_PAIRS = st.sampled_from([(-1, 2), (2, -1), (0, 0), (-0.0, 1.5), (math.nan, 0), ("a", "b"), ("", "ab"),
                                (b"", b"a"), (_D2020, _D2021), (False, True), (None, None), ([0], [1, 1])])


def _leaf_predicates():
    return st.one_of(
        st.builds(O.Cmp, QUERY_PATHS, st.sampled_from(O.CMP_OPS), QUERY_OPERANDS),
        st.builds(O.In, QUERY_PATHS, st.lists(QUERY_OPERANDS, max_size=3).map(tuple)),
        st.builds(O.NotIn, QUERY_PATHS, st.lists(QUERY_OPERANDS, max_size=3).map(tuple)),
        st.builds(lambda p, lh: O.Between(p, *lh), QUERY_PATHS, _CLASS_PAIRS),
        st.builds(O.Contains, QUERY_PATHS, QUERY_OPERANDS),
        st.builds(O.Exists, QUERY_PATHS),
        st.builds(O.Missing, QUERY_PATHS))


def predicates(max_leaves: int = 4):
    return st.recursive(
        _leaf_predicates(),
        lambda inner: st.one_of(st.builds(O.And, inner, inner), st.builds(O.Or, inner, inner),
                                st.builds(O.Not, inner)),
        max_leaves=max_leaves)


ORDER_BYS = st.lists(st.tuples(QUERY_PATHS, st.booleans()), max_size=2).map(tuple)
PAGES = st.one_of(st.none(), st.integers(0, 6))


# ---------------------------------------------------------------- comparison

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
    if isinstance(a, dt.datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    return a == b


def stored_form(value):
    """What a value reads back as (tuples become lists; bytearray becomes bytes;
    dates come back in UTC)."""
    if isinstance(value, Vector):
        return value
    if isinstance(value, (tuple, list)):
        return [stored_form(v) for v in value]
    if isinstance(value, dict):
        return {k: stored_form(v) for k, v in value.items()}
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC)
    return value


def _fold_and(terms):
    pred = terms[0]
    for t in terms[1:]:
        pred = O.And(pred, t)
    return pred


def _index_terms(paths):
    paths = st.sampled_from(list(paths))
    operands = st.one_of(DENSE_SCALARS, QUERY_OPERANDS)
    return st.one_of(
        st.builds(O.Cmp, paths, st.just("=="), operands),
        st.builds(O.Cmp, paths, st.sampled_from(O.CMP_OPS), operands),
        st.builds(O.In, paths, st.lists(operands, max_size=3).map(tuple)),
        st.builds(lambda p, lh: O.Between(p, *lh), paths, _CLASS_PAIRS))


def indexable_predicates(paths=tuple((f,) for f in QUERY_FIELDS)):
    """AND-ed terms an index over `paths` can serve (==, ranges, in_), sometimes
    with an arbitrary residue the plan must re-check."""
    residue = st.one_of(_index_terms(tuple((f,) for f in QUERY_FIELDS)), predicates(2))
    return st.builds(lambda terms, rest: _fold_and(terms + rest),
                     st.lists(_index_terms(paths), min_size=1, max_size=2),
                     st.lists(residue, max_size=2))


ID_PICKS = st.tuples(st.sampled_from(["in", "eq", "in_stranger", "eq_stranger"]),
                     st.lists(st.integers(0, 20), min_size=2, max_size=3, unique=True), st.uuids())


def id_predicate(ids: list, picks) -> object:
    """A predicate on the "id" field (an id_lookup plan) from ID_PICKS: an in_
    over several of `ids` (and maybe a stranger), or == one id, present or not."""
    mode, positions, stranger = picks
    chosen = list(dict.fromkeys(ids[p % len(ids)] for p in positions)) if ids else []
    if mode.endswith("stranger") or not chosen:
        chosen.append(stranger)
    if mode.startswith("in"):
        return O.In(("id",), tuple(chosen))
    return O.Cmp(("id",), "==", chosen[-1])


# One record holding every type and the classic edge values, as an explicit
# @example: CI's few derandomized examples always include it.
EDGE_RECORD = {
    "null": None, "t": True, "f": False, "i_max": INT64_MAX, "i_min": INT64_MIN, "i_53": 2**53 + 1,
    "zero": 0.0, "neg_zero": -0.0, "nan": math.nan, "inf": math.inf, "ninf": -math.inf, "tiny": 5e-324,
    "huge": 1.7976931348623157e308, "s": "", "s_wide": "é\u4e2d\U0001F600\x00", "b": b"", "b_all": bytes(range(256)),
    "d_min": dt.datetime(1, 1, 1, tzinfo=UTC), "d_max": dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    "d_offset": dt.datetime(2024, 2, 29, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))),
    "u": uuid.UUID(int=0), "u_max": uuid.UUID(int=2**128 - 1),
    "v": Vector([]), "v_edge": Vector([-0.0, math.nan, math.inf, 5e-324]),
    "arr": [], "arr_nested": [[[]], [None, [-0.0]], {"k": [math.nan]}], "dict": {},
    "dict_nested": {"a": {"b": {"c": [1, 2.5, "x"]}}, "é": {"": None}}, "x.y": "dotted name",
}
