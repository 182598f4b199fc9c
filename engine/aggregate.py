"""group_by / aggregate / having over a stream of records (semantics.md §6).

Accumulators are small classes with `add(value, id_bytes)` and `result()`.
Integer sums stay Python ints (exact); float sums are correctly rounded with
math.fsum, with the exact integer total folded in as float-exact parts so the
only rounding is fsum's final one.
"""
from __future__ import annotations

import math
from fractions import Fraction

from engine.errors import QueryError
from engine.query import Agg, Query, compile_pred, flat_getter
from engine.semantics import make_getter, sort_key
from engine.types import MISSING


class _Count:
    __slots__ = ("n",)

    def __init__(self):
        self.n = 0

    def add(self, v):
        self.n += 1

    def result(self):
        return self.n


class _CountPresent(_Count):
    __slots__ = ()

    def add(self, v):
        if v is not MISSING and v is not None:
            self.n += 1


class _Sum:
    __slots__ = ("floats", "ints", "n")

    def __init__(self):
        self.ints = 0
        self.floats = []
        self.n = 0

    def add(self, v):
        t = type(v)
        if t is int:
            self.ints += v
            self.n += 1
        elif t is float:
            self.floats.append(v)
            self.n += 1

    def result(self):
        return exact_sum(self.ints, self.floats)


class _Avg(_Sum):
    __slots__ = ()

    def result(self):
        if not self.n:
            return None
        if not self.floats:
            return self.ints / self.n      # int / int: correctly rounded true division
        return exact_sum(self.ints, self.floats) / self.n


class _Min:
    """Records arrive in id order, so keeping the first of equal values keeps
    the smallest id's (semantics.md §6)."""
    __slots__ = ("key", "value")

    def __init__(self):
        self.key = None
        self.value = None

    def add(self, v):
        if v is MISSING or v is None:
            return
        k = sort_key(v)
        if self.key is None or k < self.key:
            self.key, self.value = k, v

    def result(self):
        return self.value


class _Max(_Min):
    __slots__ = ()

    def add(self, v):
        if v is MISSING or v is None:
            return
        k = sort_key(v)
        if self.key is None or k > self.key:
            self.key, self.value = k, v


def exact_sum(ints: int, floats: list):
    if not floats:
        return ints
    if any(f != f for f in floats):
        return math.nan
    pos_inf = math.inf in floats
    neg_inf = -math.inf in floats
    if pos_inf and neg_inf:
        return math.nan
    if pos_inf or neg_inf:
        return math.inf if pos_inf else -math.inf
    parts = list(floats)
    rest = ints
    while rest:  # split the int total into floats that sum to it exactly
        f = float(rest)
        parts.append(f)
        rest -= int(f)
    try:
        return math.fsum(parts)
    except OverflowError:
        # fsum gives up when a partial sum leaves the double range, even if the
        # total is back inside it (1e308 + 1e308 - 1e308). Exact rational sum,
        # then one correct rounding; beyond the range that rounds to an infinity.
        total = sum(map(Fraction, floats), Fraction(ints))
        try:
            return float(total)
        except OverflowError:
            return math.inf if total > 0 else -math.inf


def _make_acc(a: Agg):
    if a.fn == "count":
        return _Count() if a.path is None else _CountPresent()
    return {"sum": _Sum, "avg": _Avg, "min": _Min, "max": _Max}[a.fn]()


def _none(record):
    return None


def aggregate(records, q: Query) -> list[dict]:
    """Run q's group_by/aggregate/having/order_by/offset/limit/select over `records`
    (already filtered by q's where, and in id order: the first record seen of
    a group or of equal min/max values is the one with the smallest id)."""
    aggs = q.aggs or {}
    clash = set(aggs) & set(q.group)
    if clash:
        raise QueryError(f"aggregate name(s) {sorted(clash)} clash with group_by paths")
    group_getters = tuple(make_getter(p) for p in q.group)
    names = tuple(aggs)
    getters = tuple(make_getter(a.path) if a.path else _none for a in aggs.values())

    def new_group():
        accs = [_make_acc(a) for a in aggs.values()]
        return accs, tuple(zip([acc.add for acc in accs], getters))

    groups: dict = {}          # group key -> (values, accumulators, [(add, getter)])
    if not group_getters:
        accs, adds = new_group()
        groups[()] = ((), accs, adds)
        for r in records:
            for add, get in adds:
                add(get(r))
    elif len(group_getters) == 1:
        gget = group_getters[0]
        for r in records:
            v = gget(r)
            gkey = sort_key(v)
            g = groups.get(gkey)
            if g is None:
                g = groups[gkey] = ((v,), *new_group())
            for add, get in g[2]:
                add(get(r))
    else:
        for r in records:
            values = tuple(g(r) for g in group_getters)
            gkey = tuple(sort_key(v) for v in values)
            g = groups.get(gkey)
            if g is None:
                g = groups[gkey] = (values, *new_group())
            for add, get in g[2]:
                add(get(r))

    rows = []
    for gkey in sorted(groups):
        values, accs, _ = groups[gkey]
        row = {p: v for p, v in zip(q.group, values) if v is not MISSING}
        for name, acc in zip(names, accs):
            row[name] = acc.result()
        rows.append(row)

    if q.having_ is not None:
        keep = compile_pred(q.having_, flat_getter)
        rows = [r for r in rows if keep(r)]
    if q.order:
        for path, direction in reversed(q.order):  # stable sorts, last key first
            get = flat_getter(path)
            rows.sort(key=lambda row: sort_key(get(row)), reverse=direction == "desc")
    rows = rows[q.offset_:] if q.limit_ is None else rows[q.offset_:q.offset_ + q.limit_]
    if q.select_ is not None:
        cols = q.select_
        rows = [{c: row[c] for c in cols if c in row} for row in rows]
    return rows
