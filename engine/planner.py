"""Choose how a query reads records, and run it.

Plans, best first:
  id_lookup   `F("id") == uuid` or `F("id").in_([...])` among the AND terms:
              direct gets from the records tree.
  index_scan  an index whose leading fields have `==` terms, then optionally
              one field with an `in_` or range terms (<, <=, >, >=, between):
              key ranges of that index; the highest score wins (2 per `==`
              field, 1.5 for `in_`, 1 for a range; unique indexes win ties).
  index_order no usable term but `order_by` equals an index's fields (all
              ascending or all descending) and a limit is set: walk the index
              in order and stop early.
  full_scan   every record, in id order.

Index key ranges hold exactly the entries satisfying the terms they serve
(index_key is order-preserving, canonical and prefix-free: semantics.md §7,
tested in tests/engine/test_index_keys.py). When those terms are the whole
filter the plan is `exact` and records are not re-checked; otherwise every
candidate is re-checked against the complete filter. Either way a plan
changes speed, never results (tests/engine/test_index_equivalence.py).
Results come in id order unless order_by says otherwise; a plan whose
natural order already equals the requested one skips the sort and stops as
soon as offset + limit rows matched.
"""
from __future__ import annotations

import operator
from uuid import UUID

from engine._native import codec as _codec
from engine.aggregate import aggregate
from engine.indexes import ID_LEN, successor
from engine.query import Pred, Query, conjuncts, row_projection
from engine.semantics import C_DICT, CLASS_FLOORS, make_getter, sort_key

RECORDS = "records"
_decode = _codec.decode
_index_key = _codec.index_key
_RANGE_OPS = ("lt", "le", "gt", "ge", "between")
_value = operator.itemgetter(1)
_ABOVE_IDS = b"\xff" * (ID_LEN + 1)


class Plan:
    __slots__ = ("_reason", "exact", "ids", "index", "kind", "ordered", "ranges", "reverse")

    def __init__(self, kind, *, index=None, ranges=None, ids=None, ordered=False, exact=False,
                 reverse=False, reason=""):
        self.kind = kind
        self.reverse = reverse      # ordered, descending
        self.exact = exact          # the ranges hold exactly the matches: skip the filter
        self.index = index
        self.ranges = ranges
        self.ids = ids
        self.ordered = ordered      # yields records in q.order (index order) already
        self._reason = reason       # str, or a function making it (only explain() needs it)

    @property
    def reason(self) -> str:
        if callable(self._reason):
            self._reason = self._reason()
        return self._reason

    def describe(self, q: Query) -> dict:
        if self.ordered:
            way = "descending " if self.reverse else ""
            order = f"{way}index order of {self.index.name!r}, ties by id (no sort)"
        elif q.order:
            order = "sorted by " + ", ".join(f"{p} {d}" for p, d in q.order) + ", ties by id"
        else:
            order = "id order" + ("" if self.kind in ("full_scan", "index_order") else " (sorted)")
        out = {"plan": self.kind, "index": self.index.name if self.index else None,
               "fields": list(self.index.fields) if self.index else None,
               "ranges": len(self.ranges) if self.ranges is not None else None,
               "ids": len(self.ids) if self.ids is not None else None,
               "order": order, "exact": self.exact, "reason": self.reason,
               "filter": q.where_.to_spec() if q.where_ is not None else None}
        if q.is_aggregate:
            out["aggregate"] = {"group_by": list(q.group),
                                "aggregate": {n: a.to_spec() for n, a in (q.aggs or {}).items()}}
        return out


# ---------------------------------------------------------------- choosing

def _floor_at_or_below(cls):
    while cls not in CLASS_FLOORS:
        cls -= 1
    return CLASS_FLOORS[cls]


def _floor_above(cls):
    cls += 1
    while cls <= C_DICT and cls not in CLASS_FLOORS:
        cls += 1
    return (True, CLASS_FLOORS[cls]) if cls <= C_DICT else (False, None)


def _term_range(term: Pred, eqs: tuple):
    """(start, stop) byte range of exactly the index keys whose field after the
    `eqs` prefix satisfies `term` (stop None: to the end). Exact because
    index_key is order-preserving, canonical and prefix-free (semantics.md §7):
    the keys of value v are exactly those starting with index_key(eqs + (v,))."""
    op = term.op
    if op == "between":
        lo, hi = term.args
        return _index_key(eqs + (lo,)), successor(_index_key(eqs + (hi,)))
    v = term.args[0]
    point = _index_key(eqs + (v,))
    if op == "eq":
        return point, successor(point)
    cls = sort_key(v)[0]
    if op in ("gt", "ge"):
        has_next, nxt = _floor_above(cls)
        stop = _index_key(eqs + (nxt,)) if has_next else (successor(_index_key(eqs)) if eqs else None)
        return (point if op == "ge" else successor(point)), stop
    start = _index_key(eqs + (_floor_at_or_below(cls),))
    return start, (successor(point) if op == "le" else point)


def _intersect(ranges):
    start = max(r[0] for r in ranges)
    stops = [r[1] for r in ranges if r[1] is not None]
    stop = min(stops) if stops else None
    return start, stop


def _index_candidate(idx, terms_by_path):
    """(score, ranges, description, terms used) for using `idx`, or None."""
    eqs = []
    used_terms = []
    for field in idx.fields:
        eq = next((t for t in terms_by_path.get(field, ()) if t.op == "eq"), None)
        if eq is None:
            break
        eqs.append(eq.args[0])
        used_terms.append(eq)
    eqs_t = tuple(eqs)
    used = [f"{f} ==" for f in idx.fields[:len(eqs)]]
    if len(eqs) == len(idx.fields):
        point = _index_key(eqs_t)
        return 2 * len(eqs), [(point, successor(point))], used, used_terms
    field = idx.fields[len(eqs)]
    terms = terms_by_path.get(field, ())
    in_term = next((t for t in terms if t.op == "in"), None)
    if in_term is not None:
        distinct = {sort_key(v): v for v in in_term.args[0]}
        values = [distinct[k] for k in sorted(distinct)]
        ranges = []
        for v in values:
            point = _index_key(eqs_t + (v,))
            ranges.append((point, successor(point)))
        return (2 * len(eqs) + 1.5, ranges, used + [f"{field} in ({len(values)} values)"],
                used_terms + [in_term])
    range_terms = [t for t in terms if t.op in _RANGE_OPS]
    if range_terms:
        start, stop = _intersect([_term_range(t, eqs_t) for t in range_terms])
        ranges = [] if stop is not None and start >= stop else [(start, stop)]
        return 2 * len(eqs) + 1, ranges, used + [f"{field} range"], used_terms + range_terms
    if eqs:
        point = _index_key(eqs_t)
        return 2 * len(eqs), [(point, successor(point))], used, used_terms
    return None


def choose_plan(indexes: dict, q: Query) -> Plan:
    terms = conjuncts(q.where_)
    for t in terms:
        if t.path == "id" and t.op in ("eq", "in"):
            values = [t.args[0]] if t.op == "eq" else t.args[0]
            ids = sorted({v.bytes for v in values if isinstance(v, UUID)})
            return Plan("id_lookup", ids=ids,
                        reason=f"F('id') {t.op} names {len(ids)} record id(s): direct lookups")
    if not indexes:      # the common case in short fuzz streams: nothing to choose
        return _NO_INDEX_PLAN
    terms_by_path: dict = {}
    for t in terms:
        if t.path is not None:
            terms_by_path.setdefault(t.path, []).append(t)
    order_paths = tuple(p for p, _ in q.order)
    directions = {d for _, d in q.order}
    one_direction = len(directions) == 1     # all asc or all desc: an index walk fits
    reverse = directions == {"desc"}
    best = None
    if terms_by_path:
        for idx in indexes.values():
            cand = _index_candidate(idx, terms_by_path)
            if cand is None:
                continue
            score, ranges, used, used_terms = cand
            rank = (score, idx.unique, idx.fields == order_paths, -len(idx.fields))
            if best is None or rank > best[0] or (rank == best[0] and idx.name < best[1].name):
                best = (rank, idx, ranges, used, used_terms)
    if best is not None:
        _, idx, ranges, used, used_terms = best
        used_ids = {id(t) for t in used_terms}
        exact = all(id(t) in used_ids for t in terms)
        ordered = one_direction and idx.fields == order_paths and not q.is_aggregate

        def reason():
            others = [i.name for i in indexes.values() if i is not idx]
            text = (f"index {idx.name!r} on ({', '.join(idx.fields)}) serves "
                    f"{', '.join(used)}; {len(ranges)} key range(s); "
                    + ("the ranges are exactly the filter (no re-check)" if exact else
                       "every candidate re-checked against the whole filter"))
            if others:
                text += f"; preferred over {', '.join(map(repr, sorted(others)))}"
            return text
        return Plan("index_scan", index=idx, ranges=ranges, ordered=ordered, exact=exact,
                    reverse=ordered and reverse, reason=reason)
    if one_direction and q.limit_ is not None and not q.is_aggregate:
        for idx in sorted(indexes.values(), key=lambda i: i.name):
            if idx.fields == order_paths:
                return Plan("index_order", index=idx, ranges=[(b"", None)], ordered=True,
                            reverse=reverse,
                            reason=f"no index serves the filter; index {idx.name!r} gives the "
                                   "order_by order, so the scan stops after offset+limit rows")
    def why():
        if not indexes:
            return "no secondary indexes exist"
        if not terms_by_path:
            return ("the filter has no AND-ed field term an index could serve"
                    if q.where_ is not None else "no filter")
        return ("no index has a leading field with an ==, in_ or range term among the AND-ed "
                f"terms on {sorted(terms_by_path)} (or/not terms are never index-served)")
    return Plan("full_scan", reason=why)


# Plans are read-only once made, so the one no-index full scan is shared.
_NO_INDEX_PLAN = Plan("full_scan", reason="no secondary indexes exist")


# ---------------------------------------------------------------- running

def _scan_records(store):
    return map(_decode, map(_value, store.scan(RECORDS)))     # all in C: no Python frame


def _records_by_ids(store, ids):
    get = store.get
    for rid in ids:
        value = get(RECORDS, rid)
        if value is not None:
            yield _decode(value)


def _index_ids(store, plan: Plan):
    tree = plan.index.tree
    ids = set()
    for start, stop in plan.ranges:
        for key, _ in store.scan(tree, start, stop):
            ids.add(key[-ID_LEN:])
    return sorted(ids)


def _ordered_index_keys(store, plan: Plan):
    """Index keys in order_by order. The ranges are disjoint and ascending.
    Descending: a reverse walk, where each run of equal values (equal key
    prefix, index_key being canonical) is turned back to ascending ids."""
    tree = plan.index.tree
    if not plan.reverse:
        for start, stop in plan.ranges:
            for key, _ in store.scan(tree, start or None, stop):
                yield key
        return
    for start, stop in reversed(plan.ranges):
        run: list = []
        run_values = None
        for key, _ in store.scan(tree, start or None, stop, reverse=True):
            values = key[:-ID_LEN]
            if values != run_values:
                yield from reversed(run)
                run, run_values = [], values
            run.append(key)
        yield from reversed(run)


def _ordered_index_records(store, plan: Plan):
    get = store.get
    for key in _ordered_index_keys(store, plan):
        value = get(RECORDS, key[-ID_LEN:])
        if value is not None:
            yield _decode(value)


def candidates(store, plan: Plan):
    """Records the plan reads, in id order or (plan.ordered) in index order."""
    if plan.kind == "full_scan":
        return _scan_records(store)
    if plan.kind == "id_lookup":
        return _records_by_ids(store, plan.ids)
    if plan.ordered:
        return _ordered_index_records(store, plan)
    return _records_by_ids(store, _index_ids(store, plan))


def sort_records(records: list, order: tuple) -> None:
    """Sort in place by the order_by keys, ties by id (records arrive in id order)."""
    for path, direction in reversed(order):
        # Keys computed once with map (no Python frame per record besides
        # sort_key), then a stable sort of positions: the same order as
        # records.sort(key=..., reverse=...) gives, reverse keeping ties in place.
        keys = list(map(sort_key, map(make_getter(path), records)))
        positions = sorted(range(len(records)), key=keys.__getitem__, reverse=direction == "desc")
        records[:] = list(map(records.__getitem__, positions))


def matching(store, plan: Plan, q: Query) -> list:
    """The records q selects, ordered and paged (no projection)."""
    pred = q.where_.compiled() if q.where_ is not None and not plan.exact else None
    source = candidates(store, plan)
    need = None if q.limit_ is None else q.offset_ + q.limit_
    # Early stop only when the source order is the output order.
    need_all = need is None or not (plan.ordered or not q.order)
    if need == 0:
        return []
    if need_all:
        out = list(source if pred is None else filter(pred, source))
    else:
        out = []
        for r in source:
            if pred is None or pred(r):
                out.append(r)
                if len(out) >= need:
                    break
    if q.order and not plan.ordered:
        sort_records(out, q.order)   # candidates came in id order: ties stay by id
    if q.offset_ or q.limit_ is not None:
        out = out[q.offset_:] if q.limit_ is None else out[q.offset_:q.offset_ + q.limit_]
    return out


def _single_eq_index(indexes: dict, path: str):
    """The index choose_plan would pick for one `path == v` term, if it is a
    single-field index (then its key range for v is exact and in id order)."""
    best = None
    for idx in indexes.values():
        if idx.fields[0] == path:
            rank = (idx.unique, -len(idx.fields))
            if best is None or rank > best[0] or (rank == best[0] and idx.name < best[1].name):
                best = (rank, idx)
    if best is None or len(best[1].fields) != 1:
        return None
    return best[1]


def _eq_lookup(store, idx, value) -> list:
    """Records with idx's field == value. Keys of one value are prefix + id and
    index_key is canonical and prefix-free, so the range holds exactly the
    matches, in id order: no re-check, no sort."""
    prefix = _index_key((value,))
    want = len(prefix) + ID_LEN
    get = store.get
    out = []
    # prefix + 17 x 0xff is above every prefix + id and below every other value's key
    for key, _ in store.scan(idx.tree, prefix, prefix + _ABOVE_IDS):
        if len(key) == want:
            data = get(RECORDS, key[-ID_LEN:])
            if data is not None:
                out.append(_decode(data))
    return out


def run(store, indexes: dict, q: Query, eq_cache: dict | None = None) -> list:
    """Rows of q. eq_cache (path -> index or None) memoizes _single_eq_index;
    the caller clears it whenever the index set changes."""
    w = q.where_
    if (indexes and w is not None and w.op == "eq" and not q.order and q.aggs is None
            and not q.group and w.path != "id"):
        if eq_cache is None:
            idx = _single_eq_index(indexes, w.path)
        else:
            try:
                idx = eq_cache[w.path]
            except KeyError:
                idx = eq_cache[w.path] = _single_eq_index(indexes, w.path)
        if idx is not None:                      # the hot path: indexed equality
            rows = _eq_lookup(store, idx, w.args[0])
            if q.offset_ or q.limit_ is not None:
                end = None if q.limit_ is None else q.offset_ + q.limit_
                rows = rows[q.offset_:end]
            if q.select_ is not None:
                project = row_projection(q.select_)
                rows = [project(r) for r in rows]
            return rows
    plan = choose_plan(indexes, q)
    if q.is_aggregate:
        pred = q.where_.compiled() if q.where_ is not None and not plan.exact else None
        source = candidates(store, plan)
        return aggregate(source if pred is None else filter(pred, source), q)
    rows = matching(store, plan, q)
    if q.select_ is not None:
        project = row_projection(q.select_)
        rows = [project(r) for r in rows]
    return rows


def count(store, indexes: dict, q: Query) -> int:
    if q.is_aggregate or q.order or q.offset_ or q.limit_ is not None:
        return len(run(store, indexes, q))
    if q.where_ is None:
        return store.count(RECORDS)
    w = q.where_
    if w.op == "eq" and w.path != "id":
        idx = _single_eq_index(indexes, w.path)
        if idx is not None:          # exact key range: count entries, read no record
            prefix = _index_key((w.args[0],))
            want = len(prefix) + ID_LEN
            return sum(1 for key, _ in store.scan(idx.tree, prefix, prefix + _ABOVE_IDS)
                       if len(key) == want)
    plan = choose_plan(indexes, q)
    if plan.exact:                   # the ranges are the answer: count keys, read no record
        tree = plan.index.tree
        return sum(1 for start, stop in plan.ranges for _ in store.scan(tree, start, stop))
    pred = q.where_.compiled()
    return sum(1 for r in candidates(store, plan) if pred(r))


def explain(indexes: dict, q: Query) -> dict:
    return choose_plan(indexes, q).describe(q)
