"""The one total order of BlazeDB values, and the paths that reach them.

engine/doc/semantics.md is the specification; this module is its executable
form. `sort_key(v)` maps any storable value (or MISSING) to a plain Python
tuple whose ordinary comparison and equality are exactly the total order, and
whose hash is consistent with that equality (1 and 1.0 and every NaN collapse
as the table says). Predicates, sorting, grouping, min/max and the planner's
index bounds are all built on it, so they cannot disagree with one another.
"""
from __future__ import annotations

import datetime as _dt
import math
import uuid as _uuid

from engine.errors import QueryError
from engine.types import MISSING, Vector

# Type classes, lowest first (semantics.md §1). The class is element 0 of every key.
C_MISSING, C_NULL, C_BOOL, C_NUMBER, C_STRING, C_DATA, C_DATE, C_UUID, C_VECTOR, \
    C_ARRAY, C_DICT = range(11)

CLASS_NAMES = ("missing", "null", "bool", "number", "string", "data", "date", "uuid",
               "vector", "array", "dictionary")

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

_MISSING_KEY = (C_MISSING,)
_NULL_KEY = (C_NULL,)
_NAN_KEY = (C_NUMBER, 0, 0)          # NaN: below every other number
_FALSE_KEY = (C_BOOL, 0)
_TRUE_KEY = (C_BOOL, 1)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def _number_key(v):
    # (C_NUMBER, 1, v): Python compares int and float by exact value, and
    # hash(1) == hash(1.0), hash(-0.0) == hash(0.0) — exactly the table's rules.
    if v != v:
        return _NAN_KEY
    return (C_NUMBER, 1, v)


def date_micros(d: _dt.datetime) -> int:
    """UTC microseconds since the epoch, exact (no float on the way)."""
    delta = d - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def sort_key(v):
    """The total-order key of a value (semantics.md §1)."""
    t = type(v)
    if t is str:
        return (C_STRING, v)
    if t is int:
        return (C_NUMBER, 1, v)
    if t is float:
        return _NAN_KEY if v != v else (C_NUMBER, 1, v)
    if v is None:
        return _NULL_KEY
    if t is bool:
        return _TRUE_KEY if v else _FALSE_KEY
    if v is MISSING:
        return _MISSING_KEY
    if t is bytes or t is bytearray or t is memoryview:
        return (C_DATA, bytes(v))
    if t is list or t is tuple:
        return (C_ARRAY, tuple(sort_key(x) for x in v))
    if t is dict:
        return (C_DICT, tuple((k, sort_key(v[k])) for k in sorted(v)))
    if isinstance(v, _uuid.UUID):
        return (C_UUID, v.bytes)
    if isinstance(v, _dt.datetime):
        return (C_DATE, date_micros(v))
    if isinstance(v, Vector):
        return (C_VECTOR, tuple(_number_key(x) for x in v))
    if isinstance(v, bool):
        return _TRUE_KEY if v else _FALSE_KEY
    if isinstance(v, int):
        return (C_NUMBER, 1, int(v))
    if isinstance(v, float):
        return _number_key(float(v))
    if isinstance(v, str):
        return (C_STRING, str(v))
    raise QueryError(f"{type(v).__name__} is not a BlazeDB value type")


def type_class(v) -> int:
    return sort_key(v)[0]


def values_equal(a, b) -> bool:
    return sort_key(a) == sort_key(b)


# Exact types that are storable whatever their value, and that normalize_value
# returns unchanged: both walks step over them without a call.
_PLAIN = frozenset((str, float, bool, type(None), bytes, _uuid.UUID, Vector))


def check_value(v, what: str, _depth: int = 0):
    """Raise QueryError unless `v` is a storable value (an operand of a predicate).

    Mirrors what engine._codec.encode accepts, so a query can never ask about
    a value that could not be stored."""
    t = type(v)
    if t is str or t is float or (t is int and INT64_MIN <= v <= INT64_MAX):
        return                      # the common operands, checked first
    if _depth > 64:
        raise QueryError(f"{what}: value nested deeper than 64 levels")
    if v is MISSING:
        raise QueryError(f"{what}: MISSING is not a value; use F(path).missing()")
    if v is None or t in (str, bool, float, bytes, bytearray, memoryview):
        return
    if t is int or (isinstance(v, int) and not isinstance(v, bool)):
        if not INT64_MIN <= v <= INT64_MAX:
            raise QueryError(f"{what}: int {v} is outside signed 64 bits")
        return
    if isinstance(v, (str, float)):
        return
    if isinstance(v, (_uuid.UUID, Vector)):
        return
    if isinstance(v, _dt.datetime):
        if v.tzinfo is None or v.utcoffset() is None:
            raise QueryError(f"{what}: naive datetime {v!r}; dates must be timezone-aware")
        return
    if t is list or t is tuple:
        for x in v:
            if type(x) not in _PLAIN or _depth >= 64:   # deeper: the depth check decides
                check_value(x, what, _depth + 1)
        return
    if t is dict:
        for k, x in v.items():
            if type(k) is not str:
                raise QueryError(f"{what}: dictionary key {k!r} is not a string")
            if type(x) not in _PLAIN or _depth >= 64:
                check_value(x, what, _depth + 1)
        return
    raise QueryError(f"{what}: {type(v).__name__} is not a BlazeDB value type "
                     "(str, int, float, bool, None, bytes, datetime, UUID, Vector, list, dict)")


def normalize_value(v):
    """The value as the codec would give it back (tuple -> list, bytearray -> bytes)."""
    t = type(v)
    if t is tuple or t is list:
        return [x if type(x) in _PLAIN else normalize_value(x) for x in v]
    if t is dict:
        return {k: x if type(x) in _PLAIN else normalize_value(x) for k, x in v.items()}
    if t is bytearray or t is memoryview:
        return bytes(v)
    return v


# Smallest value of each class: the planner's range bounds are index_key()s of
# these.
CLASS_FLOORS = {
    C_NULL: None, C_BOOL: False, C_NUMBER: math.nan, C_STRING: "", C_DATA: b"",
    C_DATE: _dt.datetime(1, 1, 1, tzinfo=_dt.UTC), C_UUID: _uuid.UUID(int=0),
    C_ARRAY: [], C_DICT: {},
}
CLASS_FLOORS[C_VECTOR] = Vector([])


# ---------------------------------------------------------------- paths

_PATHS: dict = {}          # path -> segments, for paths already validated
_PATHS_MAX = 4096


def parse_path(path) -> tuple:
    """Split and validate a path (semantics.md §4). Segments stay strings;
    digit segments also act as array positions at lookup time."""
    segments = _PATHS.get(path) if type(path) is str else None
    if segments is not None:
        return segments
    if type(path) is not str:
        raise QueryError(f"a field path must be a string, not {type(path).__name__} ({path!r})")
    if not path:
        raise QueryError("empty field path")
    segments = tuple(path.split("."))
    if "" in segments:
        raise QueryError(f"malformed field path {path!r}: empty segment "
                         "(leading, trailing or doubled '.')")
    if len(_PATHS) < _PATHS_MAX:
        _PATHS[path] = segments
    return segments


def _position(segment: str):
    if segment.isdigit() and segment.isascii() and (segment == "0" or segment[0] != "0"):
        return int(segment)
    return None


_GETTERS: dict = {}        # path -> getter; getters are pure functions of the path


def make_getter(path: str):
    """A fast function record -> value-at-path (MISSING when absent).
    Memoized per path (bounded like _PATHS): queries and indexes ask for the
    same few paths over and over."""
    get = _GETTERS.get(path) if type(path) is str else None
    if get is None:
        get = _build_getter(path)
        if len(_GETTERS) < _PATHS_MAX:
            _GETTERS[path] = get
    return get


def _build_getter(path: str):
    segments = parse_path(path)
    if len(segments) == 1:
        name = segments[0]
        return lambda record: record.get(name, MISSING)
    steps = tuple((s, _position(s)) for s in segments)

    # Decoded records hold exact dicts and lists (checked first, fast); records
    # on their way in may hold what the codec also accepts (dict and list
    # subclasses, tuples), so index values can be taken before encoding.
    def get(record):
        cur = record
        for seg, pos in steps:
            t = type(cur)
            if t is dict:
                cur = cur.get(seg, MISSING)
                if cur is MISSING:
                    return MISSING
            elif pos is not None and (t is list or isinstance(cur, (list, tuple, Vector))):
                if pos >= len(cur):
                    return MISSING
                cur = cur[pos]
            elif isinstance(cur, dict):
                cur = cur.get(seg, MISSING)
                if cur is MISSING:
                    return MISSING
            else:
                return MISSING
        return cur
    return get
