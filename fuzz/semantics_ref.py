"""An independent re-implementation of BlazeDB's value semantics, for the oracle.

engine/doc/semantics.md is the specification. The engine has its own
executable form (engine/semantics.py); this one is written separately from
the page, deliberately not importing it, so that a mistake in the engine's
comparison code shows up as a disagreement instead of being copied into the
reference model. Values here are op-grammar values (fuzz/values.py: `Vec` for
vectors) or MISSING.

`okey(v)` is a tuple whose Python ordering is the total order of §1-2:
(class, ...) with class numbers of the table. Python itself compares int and
float exactly, -0.0 == 0.0, and tuples lexicographically with shorter first,
which is what the page asks for.
"""
from __future__ import annotations

import datetime as _dt
import math
import uuid

from fuzz.values import EPOCH, Vec


class _Missing:
    __slots__ = ()

    def __repr__(self):
        return "MISSING"


MISSING = _Missing()

CL_MISSING, CL_NULL, CL_BOOL, CL_NUM, CL_STR, CL_DATA, CL_DATE, CL_UUID, CL_VEC, CL_ARR, CL_DICT = range(11)


def _num(x):
    # NaN is one value below every number: (0,) < (1, anything)
    return (0,) if x != x else (1, x)


def okey(v) -> tuple:
    if v is MISSING:
        return (CL_MISSING,)
    if v is None:
        return (CL_NULL,)
    if v is True or v is False:
        return (CL_BOOL, int(v))
    if type(v) is int or type(v) is float:
        return (CL_NUM, _num(v))
    if type(v) is str:
        return (CL_STR, v)  # Python str order is code-point order
    if type(v) is bytes:
        return (CL_DATA, v)
    if isinstance(v, _dt.datetime):
        d = v - EPOCH
        return (CL_DATE, (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds)
    if isinstance(v, uuid.UUID):
        return (CL_UUID, v.bytes)
    if isinstance(v, Vec):
        return (CL_VEC, tuple(_num(x) for x in v))
    if type(v) is list:
        return (CL_ARR, tuple(okey(x) for x in v))
    if type(v) is dict:
        return (CL_DICT, tuple((k, okey(v[k])) for k in sorted(v)))
    raise TypeError(f"not a BlazeDB value: {v!r}")


def oclass(v) -> int:
    return okey(v)[0]


# ---------------------------------------------------------------- paths (§4)

def split_path(path: str):
    """Segments of a dotted path, or None when the path is malformed (QueryError)."""
    if not path:
        return None
    segs = path.split(".")
    return None if "" in segs else segs


def lookup(record: dict, segs) -> object:
    cur = record
    for s in segs:
        if type(cur) is dict:
            if s not in cur:
                return MISSING
            cur = cur[s]
        elif type(cur) is list or isinstance(cur, Vec):
            if not (s.isascii() and s.isdigit() and (s == "0" or s[0] != "0")):
                return MISSING
            i = int(s)
            if i >= len(cur):
                return MISSING
            cur = cur[i]
        else:
            return MISSING
    return cur


# ---------------------------------------------------------------- strict equality

# Types whose strict equality is plain ==; the fast path of strict_equal
# (it runs on every value of every op result, twice for queries).
_PLAIN = frozenset({int, str, bool, type(None), bytes, uuid.UUID})


def strict_equal(a, b) -> bool:
    """Same stored value: same type, same content; floats by bits except that
    every NaN is one value. (What a fetch must give back, not query equality.)"""
    if a is b:          # any value is itself (an insert's id comes back as the same object)
        return True
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta in _PLAIN:
            return a == b
        if ta is dict:
            if a.keys() != b.keys():
                return False
            for k, x in a.items():
                y = b[k]
                # Leaves of a plain type are compared here: one call fewer per field.
                tx = type(x)
                if tx is type(y) and tx in _PLAIN:
                    if x != y:
                        return False
                elif not strict_equal(x, y):
                    return False
            return True
        if ta is list:
            return strict_equal_list(a, b)
    if ta is float and tb is float:
        if a != a or b != b:
            return a != a and b != b
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, Vec) or isinstance(b, Vec):
        return (isinstance(a, Vec) and isinstance(b, Vec) and len(a) == len(b)
                and all(strict_equal(float(x), float(y)) for x, y in zip(a, b)))
    if ta is not tb:
        return False
    if ta is _dt.datetime:
        return a == b and a.utcoffset() == b.utcoffset()
    return a == b


def strict_equal_list(xs, ys) -> bool:
    if len(xs) != len(ys):
        return False
    for x, y in zip(xs, ys):
        if not strict_equal(x, y):
            return False
    return True
