"""Runs fuzz/opstream.py ops against a real BlazeDB, and prints them as Python.

The one place that knows BlazeDB's public API (engine/db.py, engine/query.py)
on the fuzzing side: `execute` performs one op and returns its result in
op-grammar form (`from_engine`: Vector -> Vec, every NaN -> values.NAN), so
results compare directly with the reference model's. `to_python` prints the
same calls as a standalone script; `replay` runs a whole op list.

Reopen is the caller's business (it needs a way to open the database again):
`execute` rejects it; `replay` and the targets close and call their factory.
"""
from __future__ import annotations

import datetime as _dt
import math
import uuid

from engine.db import BlazeDB  # noqa: F401  (re-exported for targets)
from engine.errors import BlazeError
from engine.query import Agg, F, and_, not_, or_
from engine.types import Vector
from fuzz import opstream as O
from fuzz.model_query import AGG_NAME
from fuzz.values import NAN, Vec

# ---------------------------------------------------------------- value conversion

# The ops target converts every value on the way in and every result on the
# way out, so both walks step over leaves without a call: only containers
# (and, out, floats for NaN and Vectors) need work.
_NESTED_IN = frozenset((list, dict, Vec))
_PLAIN_OUT = frozenset((str, int, bool, type(None), bytes, uuid.UUID, _dt.datetime))


def to_engine(v):
    t = type(v)
    if t is dict:
        return {k: to_engine(x) if type(x) in _NESTED_IN else x for k, x in v.items()}
    if t is list:
        return [to_engine(x) if type(x) in _NESTED_IN else x for x in v]
    if t is Vec:
        return Vector(v)
    return v


def from_engine(v):
    t = type(v)
    if t is dict:
        return {k: x if type(x) in _PLAIN_OUT else from_engine(x) for k, x in v.items()}
    if t is list:
        return [x if type(x) in _PLAIN_OUT else from_engine(x) for x in v]
    if t is float:
        return NAN if v != v else v
    if t in _PLAIN_OUT:
        return v
    if isinstance(v, Vector):
        return Vec(NAN if x != x else x for x in v)
    return v


# ---------------------------------------------------------------- predicates

_CMP = {"==": F.__eq__, "!=": F.__ne__, "<": F.__lt__, "<=": F.__le__, ">": F.__gt__, ">=": F.__ge__}


def _field(p):
    return F(O.dotted(p.path))


_PRED = {
    O.And: lambda p: and_(pred(p.left), pred(p.right)),
    O.Or: lambda p: or_(pred(p.left), pred(p.right)),
    O.Not: lambda p: not_(pred(p.inner)),
    O.Cmp: lambda p: _CMP[p.op](_field(p), to_engine(p.value)),
    O.In: lambda p: _field(p).in_([to_engine(v) for v in p.values]),
    O.NotIn: lambda p: _field(p).not_in([to_engine(v) for v in p.values]),
    O.Between: lambda p: _field(p).between(to_engine(p.lo), to_engine(p.hi)),
    O.Contains: lambda p: _field(p).contains(to_engine(p.value)),
    O.Exists: lambda p: _field(p).exists(),
}


def pred(p):
    """An opstream predicate as an engine predicate (QueryError for a bad one)."""
    make = _PRED.get(type(p))
    if make is None:            # Missing
        return _field(p).missing()
    return make(p)


def unindexable(where):
    """A predicate equal to `where` that no plan can serve from an index: an OR
    at the top is never an index term, so the planner falls back to a full scan."""
    return unindexable_pred(pred(where) if where is not None else None)


def unindexable_pred(p):
    """unindexable() of an engine predicate already built by pred() (None: no filter)."""
    return or_(p, or_()) if p is not None else or_(and_())


def _order(order_by):
    return [(O.dotted(path), "desc" if desc else "asc") for path, desc in order_by]


def build_query(db, op, where=None):
    """The engine Query of a Query op (`where` overrides op.where's engine form)."""
    q = db.query()
    w = where if where is not None else (pred(op.where) if op.where is not None else None)
    if w is not None:
        q = q.where(w)
    if op.order_by:
        q = q.order_by(*_order(op.order_by))
    if op.limit is not None:
        q = q.limit(op.limit)
    if op.offset:
        q = q.offset(op.offset)
    if op.select is not None:
        q = q.select(*(O.dotted(p) for p in op.select))
    return q


def run_query(q, form: str):
    """The terminal call of a Query op: all() | first() | exists() | count()."""
    if form == "first":
        return from_engine(q.first())
    if form == "exists":
        return q.exists()
    if form == "count":
        return q.count()
    return from_engine(q.all())


def agg(func: str, path):
    return Agg("count", None) if func == "count_all" else Agg(func, O.dotted(path))


# ---------------------------------------------------------------- execution

def _aggregate(db, op, ids):
    q = db.query()
    if op.where is not None:
        q = q.where(pred(op.where))
    if op.group_by:
        q = q.group_by(*(O.dotted(g) for g in op.group_by))
    q = q.aggregate(**{AGG_NAME: agg(op.func, op.path)})
    if op.having is not None:
        q = q.having(pred(op.having))
    return from_engine(q.all())


def _check(db, op, ids):
    report = db.check()
    return {"records": report["records"], "indexes": dict(report["indexes"])}


def _where(op):
    return pred(op.where) if op.where is not None else None


# One handler per op kind, called as handler(db, op, ids): a dict lookup
# instead of a chain of type tests on the fuzzer's hot path. The ops target's
# Session calls them directly (see fuzz.model.OP_HANDLERS for why).
OP_HANDLERS = {
    O.Insert: lambda db, op, ids: db.insert({**to_engine(op.record), "id": op.id}),
    O.InsertMany: lambda db, op, ids: db.insert_many(
        [{**to_engine(rec), "id": rid} for rid, rec in op.items]),
    O.Fetch: lambda db, op, ids: from_engine(db.fetch(ids.resolve(op.ref))),
    O.Update: lambda db, op, ids: from_engine(db.update(ids.resolve(op.ref),
                                                        to_engine(op.changes))),
    O.Upsert: lambda db, op, ids: db.upsert(ids.resolve(op.ref), to_engine(op.record)),
    O.Replace: lambda db, op, ids: from_engine(db.replace(ids.resolve(op.ref),
                                                          to_engine(op.record))),
    O.Delete: lambda db, op, ids: db.delete(ids.resolve(op.ref)),
    O.DeleteAll: lambda db, op, ids: db.delete_all(_where(op)),
    O.Query: lambda db, op, ids: run_query(build_query(db, op), op.form),
    O.Count: lambda db, op, ids: db.count(_where(op)),
    O.Aggregate: _aggregate,
    O.CreateIndex: lambda db, op, ids: db.create_index(
        [O.dotted(p) for p in op.paths], unique=op.unique, name=O.index_name(op.paths)),
    O.DropIndex: lambda db, op, ids: db.drop_index(O.index_name(op.paths)),
    O.Begin: lambda db, op, ids: db.begin(),
    O.Commit: lambda db, op, ids: db.commit(),
    O.Rollback: lambda db, op, ids: db.rollback(),
    O.Checkpoint: lambda db, op, ids: db.checkpoint(),
    O.Check: _check,
}


def execute(db, op, ids: O.IdSpace):
    """Perform one op on `db`; returns its result in op-grammar form.
    Documented errors propagate as the BlazeError the engine raised."""
    handler = OP_HANDLERS.get(type(op))
    if handler is None:
        raise ValueError(f"execute() cannot run {op!r} (Reopen is the caller's)")
    return handler(db, op, ids)


def replay(ops, db_factory):
    """Run `ops` against `db_factory()` (called again for each Reopen); returns one
    outcome per op: its result, or the BlazeError it raised. The database is closed at the end."""
    ids = O.IdSpace()
    db = db_factory()
    outcomes = []
    try:
        for op in ops:
            try:
                if type(op) is O.Reopen:
                    db.close()
                    db = db_factory()
                    outcomes.append(None)
                else:
                    outcomes.append(execute(db, op, ids))
            except BlazeError as exc:
                outcomes.append(exc)
            ids.note(op)
    finally:
        db.close()
    return outcomes


# ---------------------------------------------------------------- Python source

def py_value(v) -> str:
    """Python source for an op-grammar value (valid for NaN, inf, dates, vectors)."""
    t = type(v)
    if t is float:
        if v != v:
            return "math.nan"
        if math.isinf(v):
            return "math.inf" if v > 0 else "-math.inf"
        return repr(v)
    if t is list:
        return "[" + ", ".join(py_value(x) for x in v) + "]"
    if t is dict:
        return "{" + ", ".join(f"{k!r}: {py_value(x)}" for k, x in v.items()) + "}"
    if t is Vec:
        return "Vector([" + ", ".join(py_value(float(x)) for x in v) + "])"
    if isinstance(v, uuid.UUID):
        return f"UUID({str(v)!r})"
    if isinstance(v, _dt.datetime):
        return (f"datetime.datetime({v.year}, {v.month}, {v.day}, {v.hour}, {v.minute}, "
                f"{v.second}, {v.microsecond}, tzinfo=datetime.timezone.utc)")
    return repr(v)


def py_pred(p) -> str:
    kind = type(p)
    if kind is O.And:
        return f"({py_pred(p.left)} & {py_pred(p.right)})"
    if kind is O.Or:
        return f"({py_pred(p.left)} | {py_pred(p.right)})"
    if kind is O.Not:
        return f"~{py_pred(p.inner)}"
    f = f"F({O.dotted(p.path)!r})"
    if kind is O.Cmp:
        return f"({f} {p.op} {py_value(p.value)})"
    if kind is O.In:
        return f"{f}.in_([{', '.join(py_value(v) for v in p.values)}])"
    if kind is O.NotIn:
        return f"{f}.not_in([{', '.join(py_value(v) for v in p.values)}])"
    if kind is O.Between:
        return f"{f}.between({py_value(p.lo)}, {py_value(p.hi)})"
    if kind is O.Contains:
        return f"{f}.contains({py_value(p.value)})"
    if kind is O.Exists:
        return f"{f}.exists()"
    return f"{f}.missing()"


def py_call(op, ids: O.IdSpace) -> str:
    """One op as a Python expression on `db` (Reopen as two statements)."""
    kind = type(op)

    def rid(ref):
        return py_value(ids.resolve(ref))

    def where_arg(w):
        return py_pred(w) if w is not None else "None"

    if kind is O.Insert:
        return f"db.insert({py_value({**op.record, 'id': op.id})})"
    if kind is O.InsertMany:
        recs = ", ".join(py_value({**r, "id": u}) for u, r in op.items)
        return f"db.insert_many([{recs}])"
    if kind is O.Fetch:
        return f"db.fetch({rid(op.ref)})"
    if kind is O.Update:
        return f"db.update({rid(op.ref)}, {py_value(op.changes)})"
    if kind is O.Upsert:
        return f"db.upsert({rid(op.ref)}, {py_value(op.record)})"
    if kind is O.Replace:
        return f"db.replace({rid(op.ref)}, {py_value(op.record)})"
    if kind is O.Delete:
        return f"db.delete({rid(op.ref)})"
    if kind is O.DeleteAll:
        return f"db.delete_all({where_arg(op.where)})"
    if kind is O.Count:
        return f"db.count({where_arg(op.where)})"
    if kind is O.Query:
        q = "db.query()"
        if op.where is not None:
            q += f".where({py_pred(op.where)})"
        if op.order_by:
            q += ".order_by(" + ", ".join(repr(o) for o in _order(op.order_by)) + ")"
        if op.limit is not None:
            q += f".limit({op.limit})"
        if op.offset:
            q += f".offset({op.offset})"
        if op.select is not None:
            q += ".select(" + ", ".join(repr(O.dotted(p)) for p in op.select) + ")"
        return q + f".{op.form}()"
    if kind is O.Aggregate:
        q = "db.query()"
        if op.where is not None:
            q += f".where({py_pred(op.where)})"
        if op.group_by:
            q += ".group_by(" + ", ".join(repr(O.dotted(g)) for g in op.group_by) + ")"
        a = "Agg('count', None)" if op.func == "count_all" else f"Agg({op.func!r}, {O.dotted(op.path)!r})"
        q += f".aggregate({AGG_NAME}={a})"
        if op.having is not None:
            q += f".having({py_pred(op.having)})"
        return q + ".all()"
    if kind is O.CreateIndex:
        return (f"db.create_index({[O.dotted(p) for p in op.paths]!r}, unique={op.unique}, "
                f"name={O.index_name(op.paths)!r})")
    if kind is O.DropIndex:
        return f"db.drop_index({O.index_name(op.paths)!r})"
    if kind is O.Reopen:
        return "db.close(); db = open_db()"
    return "db." + {O.Begin: "begin", O.Commit: "commit", O.Rollback: "rollback",
                    O.Checkpoint: "checkpoint", O.Check: "check"}[kind] + "()"


SCRIPT_HEADER = '''\
import datetime
import math
from uuid import UUID

from engine._native import store as _store
from engine.db import BlazeDB
from engine.errors import BlazeError
from engine.query import Agg, F
from engine.types import Vector

fs = _store.MemFS()


def open_db():
    return BlazeDB("fuzz.blazedb", vfs=fs)


def attempt(fn):
    """Run one op; a documented BlazeError is an outcome, not a failure."""
    try:
        return fn()
    except BlazeError as exc:
        return exc


db = open_db()
'''


def _expected(model, op, ids) -> str:
    """What the reference model says op returns: a short comment for the reader."""
    try:
        result = model.apply(op, ids)
    except BlazeError as exc:
        return f"model: raises {type(exc).__name__}"
    if result is None:
        return "model: None"
    text = repr(result)
    return "model: " + (text if len(text) <= 80 else text[:77] + "...")


def to_python(ops) -> str:
    """A runnable script replaying `ops` on a fresh in-memory BlazeDB, ending with
    check(); each line says what the reference model expects it to return."""
    from fuzz.model import Model  # here: the model is only needed for the comments

    ids = O.IdSpace()
    model = Model()
    lines = [SCRIPT_HEADER]
    for i, op in enumerate(ops):
        if type(op) not in O.OP_KINDS:   # a target's annotation (e.g. the crash point)
            lines.append(f"# op {i}: {op!r}")
            continue
        call = py_call(op, ids)
        note = _expected(model, op, ids)
        if type(op) is O.Reopen:
            lines.append(f"{call}  # op {i}")
        else:
            lines.append(f"attempt(lambda: {call})  # op {i}; {note}")
        ids.note(op)
    lines.append("db.check()")
    lines.append("db.close()")
    return "\n".join(lines) + "\n"
