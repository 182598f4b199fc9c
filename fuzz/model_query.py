"""The reference model's query evaluation: brute force over a dict of records.

Implements engine/doc/semantics.md §3-§6 directly from the page, on top of
fuzz/semantics_ref.py (not the engine's code), so that the engine's planner,
indexes and compiled predicates are checked against something independent.
Every function here either returns the documented result or raises the
documented error class (QueryError for a malformed query).
"""
from __future__ import annotations

import functools
import math
from fractions import Fraction
from operator import attrgetter

from engine.errors import QueryError
from fuzz import opstream as O
from fuzz.semantics_ref import MISSING, lookup, okey, split_path

INT64_MIN, INT64_MAX = -2**63, 2**63 - 1


# ---------------------------------------------------------------- validation

def _segs(path: tuple) -> tuple:
    segs = _split(path)
    if segs is None:
        raise QueryError(f"malformed path {O.dotted(path)!r}")
    return segs


@functools.lru_cache(maxsize=4096)
def _split(path: tuple):
    """Memoized: the same few paths are split for every record of every query."""
    segs = split_path(O.dotted(path))
    return None if segs is None else tuple(segs)


# Records sort by id bytes; a UUID's .bytes is .int big-endian, so .int
# gives the same order without building a bytes object per comparison key.
ID_ORDER = attrgetter("int")


def _by_id(item) -> int:
    """Sort key of a records.items() pair: its id."""
    return item[0].int


def _check_operand(v) -> None:
    if type(v) is int and not INT64_MIN <= v <= INT64_MAX:
        raise QueryError(f"int {v} is outside signed 64 bits")
    if type(v) is list:
        for x in v:
            _check_operand(x)
    elif type(v) is dict:
        for x in v.values():
            _check_operand(x)


def validate_pred(p) -> None:
    """Raise QueryError exactly where the engine's builder must (semantics.md §3-4)."""
    kind = type(p)
    if kind is O.And or kind is O.Or:
        validate_pred(p.left)
        validate_pred(p.right)
        return
    if kind is O.Not:
        validate_pred(p.inner)
        return
    _segs(p.path)
    if kind is O.Cmp or kind is O.Contains:
        _check_operand(p.value)
    elif kind is O.In or kind is O.NotIn:
        for v in p.values:
            _check_operand(v)
    elif kind is O.Between:
        _check_operand(p.lo)
        _check_operand(p.hi)
        if okey(p.lo)[0] != okey(p.hi)[0]:
            raise QueryError("between: lo and hi of different type classes")


# ---------------------------------------------------------------- predicates (§3)

def _nested(record: dict, path: tuple):
    return lookup(record, _segs(path))


def _column(row: dict, path: tuple):
    """An aggregation row's column: a group path is one column named by the
    whole dotted path (semantics.md §6), never a walk into nested values."""
    return row.get(O.dotted(path), MISSING)


def matches(p, record: dict, value_of=_nested) -> bool:
    """Whether `record` satisfies p; `value_of(record, path)` reads a path
    (_column for the rows `having` filters)."""
    kind = type(p)
    if kind is O.And:
        return matches(p.left, record, value_of) and matches(p.right, record, value_of)
    if kind is O.Or:
        return matches(p.left, record, value_of) or matches(p.right, record, value_of)
    if kind is O.Not:
        return not matches(p.inner, record, value_of)
    x = value_of(record, p.path)
    if kind is O.Exists:
        return x is not MISSING
    if kind is O.Missing:
        return x is MISSING
    if kind is O.Cmp:
        if x is MISSING:
            return p.op == "!="
        kx, kv = okey(x), okey(p.value)
        if p.op == "==":
            return kx == kv
        if p.op == "!=":
            return kx != kv
        if kx[0] != kv[0]:
            return False
        return {"<": kx < kv, "<=": kx <= kv, ">": kx > kv, ">=": kx >= kv}[p.op]
    if kind is O.In or kind is O.NotIn:
        kx = okey(x)
        hit = x is not MISSING and any(kx == okey(v) for v in p.values)
        return hit if kind is O.In else not hit
    if kind is O.Between:
        kx, lo, hi = okey(x), okey(p.lo), okey(p.hi)
        return kx[0] == lo[0] and lo <= kx <= hi
    if kind is O.Contains:
        if type(x) is str:
            return type(p.value) is str and p.value in x
        if type(x) is list:
            kv = okey(p.value)
            return any(okey(e) == kv for e in x)
        return False
    raise TypeError(f"not a predicate: {p!r}")


def select(records: dict, where) -> list:
    """Records matching `where`, in id order (the order without order_by)."""
    if where is not None:
        validate_pred(where)
    rows = [r for _, r in sorted(records.items(), key=_by_id)]
    return rows if where is None else [r for r in rows if matches(where, r)]


# ---------------------------------------------------------------- sorting and paging (§5)

class _Desc:
    """Reverses the order of a key (for descending sort keys)."""
    __slots__ = ("k",)

    def __init__(self, k):
        self.k = k

    def __lt__(self, other):
        return other.k < self.k

    def __eq__(self, other):
        return self.k == other.k


def run_query(records: dict, where, order_by: tuple, limit, offset) -> list:
    rows = select(records, where)
    segs = [(_segs(path), desc) for path, desc in order_by]
    if segs:
        def key(r):
            ks = [okey(lookup(r, s)) for s, _ in segs]
            return tuple(_Desc(k) if desc else k for k, (_, desc) in zip(ks, segs)) + (r["id"].bytes,)
        rows.sort(key=key)
    start = offset or 0
    rows = rows[start:]
    return rows if limit is None else rows[:limit]


# ---------------------------------------------------------------- aggregation (§6)

def _numbers(values):
    return [v for v in values if type(v) is int or type(v) is float]


def agg_sum(values):
    nums = _numbers(values)
    ints = [v for v in nums if type(v) is int]
    floats = [v for v in nums if type(v) is float]
    total = sum(ints)
    if not floats:
        return total
    if any(f != f for f in floats) or (math.inf in floats and -math.inf in floats):
        return math.nan
    if math.inf in floats:
        return math.inf
    if -math.inf in floats:
        return -math.inf
    # One correctly rounded result of the exact sum (Fraction -> float rounds
    # correctly); a finite sum beyond the double range rounds to an infinity.
    exact = sum(map(Fraction, floats), Fraction(total))
    try:
        return float(exact)
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


def agg_avg(values):
    nums = _numbers(values)
    if not nums:
        return None
    return agg_sum(values) / len(nums)


def _extreme(pairs, largest: bool):
    """pairs: (id, value) of present non-null values; ties -> smallest id."""
    best = None
    for rid, v in sorted(pairs, key=lambda p: p[0].bytes):
        if best is None:
            best = v
            continue
        kb, kv = okey(best), okey(v)
        if (kv > kb) if largest else (kv < kb):
            best = v
    return best


def aggregate_value(func: str, rows: list, segs) -> object:
    if func == "count_all":
        return len(rows)
    present = [(r["id"], lookup(r, segs)) for r in rows]
    present = [(i, v) for i, v in present if v is not MISSING and v is not None]
    if func == "count":
        return len(present)
    vals = [v for _, v in present]
    if func == "sum":
        return agg_sum(vals)
    if func == "avg":
        return agg_avg(vals)
    if func == "min":
        return _extreme(present, largest=False)
    if func == "max":
        return _extreme(present, largest=True)
    raise QueryError(f"unknown aggregate {func!r}")


AGG_NAME = "_agg"  # the output column the ops target names its aggregate


def projection(select: tuple):
    """record -> {"id", "<dotted path>": value for each present path} (select())."""
    paths = [(O.dotted(p), _segs(p)) for p in select]

    def project(record):
        out = {"id": record["id"]}
        for name, segs in paths:
            v = lookup(record, segs)
            if v is not MISSING:
                out[name] = v
        return out
    return project


def run_aggregate(records: dict, func: str, path: tuple, where, group_by: tuple, having=None) -> list:
    segs = None if func == "count_all" else _segs(path)  # count() takes no path
    if having is not None:
        validate_pred(having)
    group_segs = [(O.dotted(g), _segs(g)) for g in group_by]
    if any(name == AGG_NAME for name, _ in group_segs):
        raise QueryError(f"aggregate name {AGG_NAME!r} clashes with a group_by path")
    rows = select(records, where)
    if not group_segs:
        out = [{AGG_NAME: aggregate_value(func, rows, segs)}]
        return out if having is None else [r for r in out if matches(having, r, _column)]
    groups: dict = {}
    for r in rows:  # rows come in id order: the first of a group has the smallest id
        vals = tuple(lookup(r, s) for _, s in group_segs)
        k = tuple(okey(v) for v in vals)
        if k not in groups:
            groups[k] = (vals, [])
        groups[k][1].append(r)
    out = []
    for k in sorted(groups):
        vals, members = groups[k]
        row = {name: v for (name, _), v in zip(group_segs, vals) if v is not MISSING}
        row[AGG_NAME] = aggregate_value(func, members, segs)
        out.append(row)
    return out if having is None else [r for r in out if matches(having, r, _column)]


def index_values(record: dict, paths: tuple) -> tuple:
    return tuple(lookup(record, _segs(p)) for p in paths)


def unique_key(record: dict, paths: tuple):
    """The key a unique index compares, or None when a field is MISSING (exempt)."""
    vals = index_values(record, paths)
    for v in vals:          # a loop, not any(...): a generator stopped early raises GeneratorExit
        if v is MISSING:
            return None
    return tuple(okey(v) for v in vals)


__all__ = ["AGG_NAME", "aggregate_value", "matches", "projection", "run_aggregate", "run_query", "select",
           "unique_key", "validate_pred"]
