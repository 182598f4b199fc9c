"""Random sequences of BlazeDB write operations, for the properties that only
need "any history" (rollback, check()): each op is a plain tuple, applied by
`apply`, which turns documented errors into outcomes (a failed write must
change nothing, which the properties check separately).

Record positions (`pos`) pick among the ids inserted so far, so updates and
deletes hit existing records; unique indexes over the small query domains
make constraint violations common.
"""
from __future__ import annotations

from hypothesis import strategies as st

from engine.errors import BlazeError
from tests.property.reference import engine_pred
from tests.property.strategies import predicates, query_records

INDEX_CHOICES = (("a",), ("b",), ("a", "b"), ("c",), ("a.0",))
POS = st.integers(0, 30)

WRITE_OPS = st.one_of(
    st.tuples(st.just("insert"), query_records()),
    st.tuples(st.just("insert_many"), st.lists(query_records(), max_size=3)),
    st.tuples(st.just("update"), POS, query_records()),
    st.tuples(st.just("replace"), POS, query_records()),
    st.tuples(st.just("upsert"), st.one_of(POS, st.uuids()), query_records()),
    st.tuples(st.just("delete"), POS),
    st.tuples(st.just("delete_all"), st.one_of(st.none(), predicates(2))),
    st.tuples(st.just("create_index"), st.sampled_from(INDEX_CHOICES), st.booleans()),
    st.tuples(st.just("drop_index"), st.sampled_from(INDEX_CHOICES)),
)
OPS = st.one_of(WRITE_OPS, WRITE_OPS, WRITE_OPS, st.sampled_from([("checkpoint",), ("count",)]))


def _ref(ids, pos):
    return pos if not isinstance(pos, int) else (ids[pos % len(ids)] if ids else None)


def apply(db, op, ids: list):
    """Run one op; returns its result or the BlazeError class. Appends new ids to `ids`."""
    kind, *args = op
    try:
        if kind == "insert":
            rid = db.insert(args[0])
            ids.append(rid)
            return rid
        if kind == "insert_many":
            new = db.insert_many(args[0])
            ids.extend(new)
            return new
        if kind in ("update", "replace", "upsert", "delete"):
            rid = _ref(ids, args[0])
            if rid is None:
                return None
            if kind == "delete":
                return db.delete(rid)
            result = getattr(db, kind)(rid, args[1])
            if kind == "upsert" and result:
                ids.append(rid)
            return result
        if kind == "delete_all":
            return db.delete_all(engine_pred(args[0]))
        if kind == "create_index":
            return db.create_index(list(args[0]), unique=args[1])
        if kind == "drop_index":
            return db.drop_index("+".join(args[0]))
        if kind == "checkpoint":
            return db.checkpoint()
        if kind == "count":
            return db.count()
    except BlazeError as exc:
        return type(exc)
    raise ValueError(f"unknown op {op!r}")
