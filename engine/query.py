"""Predicates, the query builder, and their plain-data form.

A predicate is a tree of `Pred` nodes. Each node has a plain-data spelling
(lists, strings and storable values — what msgpack carries), documented in
engine/API.md and produced by `to_spec()` / accepted by `from_spec()`:

    ["eq"|"ne"|"lt"|"le"|"gt"|"ge", path, value]
    ["in"|"not_in", path, [value, ...]]
    ["between", path, lo, hi]
    ["contains", path, value]
    ["exists"|"missing", path]
    ["and", pred, ...]   ["or", pred, ...]   ["not", pred]     (["and"] is true, ["or"] false)

`compile_pred` turns a tree into one Python closure record -> bool that
follows engine/doc/semantics.md §3 exactly; queries compile once and run the
closure per record.
"""
from __future__ import annotations

import uuid as _uuid

from engine.errors import QueryError
from engine.semantics import _PATHS as _VALID_PATHS  # validated paths (a cache)
from engine.semantics import (
    CLASS_NAMES,
    INT64_MAX,
    INT64_MIN,
    check_value,
    make_getter,
    normalize_value,
    parse_path,
    sort_key,
)
from engine.types import MISSING, Vector

COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")
FIELD_OPS = COMPARISONS + ("in", "not_in", "between", "contains", "exists", "missing")
BOOL_OPS = ("and", "or", "not")


class Pred:
    """One node of a predicate tree. Build with F(path) and & | ~, or from_spec()."""

    __slots__ = ("_fn", "args", "op", "path")

    def __init__(self, op: str, path=None, args: tuple = ()):
        self.op = op
        self.path = path
        self.args = args
        self._fn = None

    # -- composition
    def __and__(self, other):
        return and_(self, other)

    def __or__(self, other):
        return or_(self, other)

    def __invert__(self):
        return not_(self)

    def __bool__(self):
        raise QueryError("a predicate has no truth value; combine predicates with & | ~ "
                         "(not `and`/`or`/`not`), and parenthesize comparisons: "
                         "(F('a') > 1) & (F('b') == 2)")

    def __eq__(self, other):  # structural: same plain-data form
        return isinstance(other, Pred) and self.to_spec_key() == other.to_spec_key()

    def __hash__(self):
        return hash(repr(self.to_spec()))

    def to_spec_key(self):
        return repr(self.to_spec())

    def __repr__(self):
        return f"Pred({self.to_spec()!r})"

    # -- plain data
    def to_spec(self) -> list:
        if self.op in BOOL_OPS:
            return [self.op, *(c.to_spec() for c in self.args)]
        if self.op in ("exists", "missing"):
            return [self.op, self.path]
        if self.op in ("in", "not_in"):
            return [self.op, self.path, list(self.args[0])]
        return [self.op, self.path, *self.args]

    def compiled(self):
        if self._fn is None:
            self._fn = compile_pred(self)
        return self._fn

    def matches(self, record: dict) -> bool:
        return self.compiled()(record)


def _check_path(path) -> str:
    parse_path(path)
    return path


# Operand types that are storable as they are and that normalize_value leaves
# alone: no check_value walk, no error text built (the common operands).
_PLAIN_OPERANDS = frozenset((str, float, bool, type(None), bytes, _uuid.UUID, Vector))


def _operand(v, path, what: str):
    t = type(v)
    if t in _PLAIN_OPERANDS or (t is int and INT64_MIN <= v <= INT64_MAX):
        return v
    check_value(v, f"F({path!r}){what}")
    return normalize_value(v)


def _field_pred(op: str, path, *args) -> Pred:
    if type(path) is not str or path not in _VALID_PATHS:
        _check_path(path)
    if op in COMPARISONS or op == "contains":
        return Pred(op, path, (_operand(args[0], path, f" {op}"),))
    if op in ("in", "not_in"):
        values = args[0]
        if not isinstance(values, (list, tuple, set, frozenset)):
            raise QueryError(f"F({path!r}).{op}: expects a list of values, "
                             f"got {type(values).__name__}")
        what = f".{op}"
        return Pred(op, path, ([_operand(v, path, what) for v in values],))
    if op == "between":
        lo = _operand(args[0], path, ".between lo")
        hi = _operand(args[1], path, ".between hi")
        lo_cls, hi_cls = sort_key(lo)[0], sort_key(hi)[0]
        if lo_cls != hi_cls:
            raise QueryError(
                f"F({path!r}).between: lo ({CLASS_NAMES[lo_cls]}) and hi "
                f"({CLASS_NAMES[hi_cls]}) must be of one type class")
        return Pred(op, path, (lo, hi))
    if op in ("exists", "missing"):
        return Pred(op, path)
    raise QueryError(f"unknown operator {op!r}")


class F:
    """A field path in a predicate: F("age") > 3, F("address.city") == "Oslo", F("tags.0")."""

    __slots__ = ("path",)
    __hash__ = None  # == builds a predicate

    def __init__(self, path: str):
        self.path = path if type(path) is str and path in _VALID_PATHS else _check_path(path)

    def __eq__(self, v):
        t = type(v)
        if t is str or t is float or (t is int and INT64_MIN <= v <= INT64_MAX):
            return Pred("eq", self.path, (v,))      # hot path: nothing to check or normalise
        return _field_pred("eq", self.path, v)

    def __ne__(self, v):
        return _field_pred("ne", self.path, v)

    def __lt__(self, v):
        return _field_pred("lt", self.path, v)

    def __le__(self, v):
        return _field_pred("le", self.path, v)

    def __gt__(self, v):
        return _field_pred("gt", self.path, v)

    def __ge__(self, v):
        return _field_pred("ge", self.path, v)

    def in_(self, values):
        return _field_pred("in", self.path, values)

    def not_in(self, values):
        return _field_pred("not_in", self.path, values)

    def between(self, lo, hi):
        return _field_pred("between", self.path, lo, hi)

    def contains(self, v):
        return _field_pred("contains", self.path, v)

    def exists(self):
        return _field_pred("exists", self.path)

    def missing(self):
        return _field_pred("missing", self.path)

    def __repr__(self):
        return f"F({self.path!r})"


def _as_pred(p, what: str) -> Pred:
    if isinstance(p, (list, tuple)):
        return pred_from_spec(p)
    if not isinstance(p, Pred):
        raise QueryError(f"{what}: expected a predicate (e.g. F('a') == 1), got {type(p).__name__}")
    return p


def and_(*preds) -> Pred:
    return Pred("and", None, tuple(_as_pred(p, "and_") for p in preds))


def or_(*preds) -> Pred:
    return Pred("or", None, tuple(_as_pred(p, "or_") for p in preds))


def not_(pred) -> Pred:
    return Pred("not", None, (_as_pred(pred, "not_"),))


def pred_from_spec(spec) -> Pred:
    """Build a predicate from its plain-data form (see module docstring)."""
    if isinstance(spec, Pred):
        return spec
    if not isinstance(spec, (list, tuple)) or not spec or not isinstance(spec[0], str):
        raise QueryError(f"a predicate spec is a list [op, ...], got {spec!r:.200}")
    op, rest = spec[0], list(spec[1:])
    if op in ("and", "or"):
        return Pred(op, None, tuple(pred_from_spec(s) for s in rest))
    if op == "not":
        if len(rest) != 1:
            raise QueryError(f"['not', pred] takes one predicate, got {len(rest)}")
        return not_(pred_from_spec(rest[0]))
    arity = {"exists": 1, "missing": 1, "between": 3}.get(op, 2)
    if op not in FIELD_OPS:
        raise QueryError(f"unknown operator {op!r}; known: {', '.join(FIELD_OPS + BOOL_OPS)}")
    if len(rest) != arity:
        raise QueryError(f"[{op!r}, ...] takes {arity} argument(s) after the operator, got {len(rest)}")
    return _field_pred(op, *rest)


# ---------------------------------------------------------------- compilation

def flat_getter(path: str):
    """Getter for aggregation rows, whose keys are whole paths ("address.city")."""
    return lambda row: row.get(path, MISSING)


def compile_pred(p: Pred, getter=make_getter):
    """One closure record -> bool implementing semantics.md §3. `getter` maps
    a path to a value-getter (flat_getter for aggregation rows)."""
    op = p.op
    if op in BOOL_OPS:
        # Record predicates reuse each child's cached closure (a predicate is
        # immutable; the TLP oracle and the scan twin wrap one p many times).
        if getter is make_getter:
            fns = tuple(c.compiled() for c in p.args)
        else:
            fns = tuple(compile_pred(c, getter) for c in p.args)
        if op == "not":
            f = fns[0]
            return lambda r: not f(r)
        if len(fns) == 1:
            return fns[0]
        if len(fns) == 2:
            a, b = fns
            if op == "and":
                return lambda r: a(r) and b(r)
            return lambda r: a(r) or b(r)
        if op == "and":
            return lambda r: all(f(r) for f in fns)
        return lambda r: any(f(r) for f in fns)
    get = getter(p.path)
    if op == "exists":
        return lambda r: get(r) is not MISSING
    if op == "missing":
        return lambda r: get(r) is MISSING
    if op in ("eq", "ne"):
        eq = _eq_test(get, p.args[0])
        if op == "eq":
            return eq
        return lambda r: not eq(r)
    if op in ("in", "not_in"):
        keys = frozenset(sort_key(v) for v in p.args[0])
        if op == "in":
            return lambda r: sort_key(get(r)) in keys
        return lambda r: sort_key(get(r)) not in keys
    if op == "between":
        fast = _between_test(get, *p.args)
        if fast is not None:
            return fast
        lo, hi = sort_key(p.args[0]), sort_key(p.args[1])
        cls = lo[0]
        return lambda r: ((k := sort_key(get(r)))[0] == cls and lo <= k <= hi)
    if op in ("lt", "le", "gt", "ge"):
        fast = _order_test(get, op, p.args[0])
        if fast is not None:
            return fast
        key = sort_key(p.args[0])
        cls = key[0]
        if op == "lt":
            return lambda r: ((k := sort_key(get(r)))[0] == cls and k < key)
        if op == "le":
            return lambda r: ((k := sort_key(get(r)))[0] == cls and k <= key)
        if op == "gt":
            return lambda r: ((k := sort_key(get(r)))[0] == cls and k > key)
        return lambda r: ((k := sort_key(get(r)))[0] == cls and k >= key)
    if op == "contains":
        v = p.args[0]
        key = sort_key(v)
        is_str = type(v) is str

        def contains(r):
            x = get(r)
            t = type(x)
            if t is str:
                return is_str and v in x
            if t is list:
                return any(sort_key(e) == key for e in x)
            return False
        return contains
    raise QueryError(f"unknown operator {op!r}")


# Range tests without a sort_key per record, for the common operands: a str,
# or a number other than NaN. Same results as the sort_key form (semantics.md
# §2-3): the class must match (type(x) is exact, so bool is never a number);
# Python compares int and float exactly and -0.0 == 0.0; a NaN x is below
# every other number (x != x), so it satisfies < and <= and never > or >=.

def _order_test(get, op, v):
    t = type(v)
    if t is str:
        if op == "lt":
            return lambda r: type(x := get(r)) is str and x < v
        if op == "le":
            return lambda r: type(x := get(r)) is str and x <= v
        if op == "gt":
            return lambda r: type(x := get(r)) is str and x > v
        return lambda r: type(x := get(r)) is str and x >= v
    if (t is int or t is float) and v == v:
        if op == "lt":
            return lambda r: ((tx := type(x := get(r))) is int or tx is float) and (x < v or x != x)
        if op == "le":
            return lambda r: ((tx := type(x := get(r))) is int or tx is float) and (x <= v or x != x)
        if op == "gt":
            return lambda r: ((tx := type(x := get(r))) is int or tx is float) and x > v
        return lambda r: ((tx := type(x := get(r))) is int or tx is float) and x >= v
    return None


def _between_test(get, lo, hi):
    t = type(lo)
    if t is str and type(hi) is str:
        return lambda r: type(x := get(r)) is str and lo <= x <= hi
    if (t is int or t is float) and lo == lo and ((th := type(hi)) is int or th is float) \
            and hi == hi:
        # a NaN x is below lo: never between
        return lambda r: ((tx := type(x := get(r))) is int or tx is float) and lo <= x <= hi
    return None


def _eq_test(get, v):
    t = type(v)
    if t is str:
        return lambda r: type(x := get(r)) is str and x == v
    if (t is int or t is float) and v == v:
        # exact int/float comparison is Python's own; NaN x gives False
        return lambda r: ((tx := type(x := get(r))) is int or tx is float) and x == v
    key = sort_key(v)
    return lambda r: sort_key(get(r)) == key


def conjuncts(p: Pred | None) -> list[Pred]:
    """The top-level AND terms of a predicate (flattened)."""
    if p is None:
        return []
    if p.op == "and":
        out = []
        for c in p.args:
            out.extend(conjuncts(c))
        return out
    return [p]


# ---------------------------------------------------------------- aggregates

AGG_FUNCTIONS = ("count", "sum", "avg", "min", "max")


class Agg:
    """An aggregate: count(), count(path), sum_(path), avg(path), min_(path), max_(path)."""

    __slots__ = ("fn", "path")

    def __init__(self, fn: str, path=None):
        if fn not in AGG_FUNCTIONS:
            raise QueryError(f"unknown aggregate {fn!r}; known: {', '.join(AGG_FUNCTIONS)}")
        if path is None and fn != "count":
            raise QueryError(f"aggregate {fn!r} needs a field path")
        if path is not None:
            _check_path(path)
        self.fn = fn
        self.path = path

    def to_spec(self) -> list:
        return [self.fn, self.path]

    def __eq__(self, other):
        return isinstance(other, Agg) and (self.fn, self.path) == (other.fn, other.path)

    def __hash__(self):
        return hash((self.fn, self.path))

    def __repr__(self):
        return f"Agg({self.fn!r}, {self.path!r})"


def count(path: str | None = None) -> Agg:
    return Agg("count", path)


def sum_(path: str) -> Agg:
    return Agg("sum", path)


def avg(path: str) -> Agg:
    return Agg("avg", path)


def min_(path: str) -> Agg:
    return Agg("min", path)


def max_(path: str) -> Agg:
    return Agg("max", path)


# ---------------------------------------------------------------- the builder

_DIRECTIONS = ("asc", "desc")


def _order_item(item) -> tuple[str, str]:
    if isinstance(item, str):
        return (_check_path(item), "asc")
    if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[1], str):
        direction = item[1].lower()
        if direction not in _DIRECTIONS:
            raise QueryError(f"order_by direction must be 'asc' or 'desc', got {item[1]!r}")
        return (_check_path(item[0]), direction)
    raise QueryError(f"order_by takes paths or (path, 'asc'|'desc') pairs, got {item!r}")


def _nonneg_int(v, what):
    if type(v) is not int or v < 0:
        raise QueryError(f"{what} must be a non-negative int, got {v!r}")
    return v


class Query:
    """An immutable query description; each builder method returns a new Query.

    Terminal methods (all, first, count, exists, explain, delete, iteration)
    need a database: `db.query()` binds one, `Query.from_spec(spec, db)` too."""

    # Defaults live on the class; an instance's __dict__ holds only what was
    # set, so building and copying a query stays cheap on the hot path.
    db = None
    where_: Pred | None = None
    order: tuple = ()
    limit_: int | None = None
    offset_: int = 0
    select_: tuple | None = None
    group: tuple = ()
    aggs: dict | None = None
    having_: Pred | None = None

    def __init__(self, db=None):
        if db is not None:
            self.db = db

    def _copy(self) -> Query:
        q = Query.__new__(Query)
        q.__dict__.update(self.__dict__)
        return q

    # -- builder
    def where(self, *preds) -> Query:
        if len(preds) == 1 and self.where_ is None and type(preds[0]) is Pred:
            q = self._copy()             # the common case, kept cheap
            q.where_ = preds[0]
            return q
        ps = [pred_from_spec(p) if isinstance(p, (list, tuple)) else _as_pred(p, "where")
              for p in preds]
        if self.where_ is not None:
            ps.insert(0, self.where_)
        q = self._copy()
        q.where_ = None if not ps else ps[0] if len(ps) == 1 else and_(*ps)
        return q

    def order_by(self, *items) -> Query:
        q = self._copy()
        q.order = self.order + tuple(_order_item(i) for i in items)
        return q

    def limit(self, n: int | None) -> Query:
        q = self._copy()
        q.limit_ = None if n is None else _nonneg_int(n, "limit")
        return q

    def offset(self, n: int) -> Query:
        q = self._copy()
        q.offset_ = _nonneg_int(n, "offset")
        return q

    def select(self, *paths) -> Query:
        q = self._copy()
        q.select_ = tuple(_check_path(p) for p in paths)
        return q

    def group_by(self, *paths) -> Query:
        q = self._copy()
        q.group = self.group + tuple(_check_path(p) for p in paths)
        return q

    def aggregate(self, **aggs) -> Query:
        if not aggs:
            raise QueryError("aggregate() needs at least one name=aggregate, e.g. n=count()")
        for name, a in aggs.items():
            if not isinstance(a, Agg):
                raise QueryError(f"aggregate {name}=: expected count()/sum_()/avg()/min_()/max_(), "
                                 f"got {type(a).__name__}")
        q = self._copy()
        q.aggs = {**(self.aggs or {}), **aggs}
        return q

    def having(self, *preds) -> Query:
        ps = [pred_from_spec(p) if isinstance(p, (list, tuple)) else _as_pred(p, "having")
              for p in preds]
        if self.having_ is not None:
            ps.insert(0, self.having_)
        q = self._copy()
        q.having_ = ps[0] if len(ps) == 1 else and_(*ps)
        return q

    @property
    def is_aggregate(self) -> bool:
        return self.aggs is not None or bool(self.group)

    # -- plain data
    def to_spec(self) -> dict:
        spec: dict = {}
        if self.where_ is not None:
            spec["where"] = self.where_.to_spec()
        if self.order:
            spec["order_by"] = [[p, d] for p, d in self.order]
        if self.limit_ is not None:
            spec["limit"] = self.limit_
        if self.offset_:
            spec["offset"] = self.offset_
        if self.select_ is not None:
            spec["select"] = list(self.select_)
        if self.group:
            spec["group_by"] = list(self.group)
        if self.aggs is not None:
            spec["aggregate"] = {n: a.to_spec() for n, a in self.aggs.items()}
        if self.having_ is not None:
            spec["having"] = self.having_.to_spec()
        return spec

    @classmethod
    def from_spec(cls, spec: dict, db=None) -> Query:
        if not isinstance(spec, dict):
            raise QueryError(f"a query spec is a dict, got {type(spec).__name__}")
        unknown = set(spec) - {"where", "order_by", "limit", "offset", "select", "group_by",
                               "aggregate", "having"}
        if unknown:
            raise QueryError(f"unknown query spec keys: {sorted(map(str, unknown))}")
        q = cls(db)
        if spec.get("where") is not None:
            q = q.where(pred_from_spec(spec["where"]))
        if spec.get("order_by"):
            q = q.order_by(*spec["order_by"])
        if spec.get("limit") is not None:
            q = q.limit(spec["limit"])
        if spec.get("offset"):
            q = q.offset(spec["offset"])
        if spec.get("select") is not None:
            q = q.select(*spec["select"])
        if spec.get("group_by"):
            q = q.group_by(*spec["group_by"])
        if spec.get("aggregate") is not None:
            aggs = spec["aggregate"]
            if not isinstance(aggs, dict) or not aggs:
                raise QueryError("'aggregate' is a non-empty dict name -> [fn, path|None]")
            built = {}
            for name, a in aggs.items():
                if not isinstance(a, (list, tuple)) or len(a) != 2:
                    raise QueryError(f"aggregate {name!r}: expected [fn, path|None], got {a!r}")
                built[str(name)] = Agg(a[0], a[1])
            q = q.aggregate(**built)
        if spec.get("having") is not None:
            q = q.having(pred_from_spec(spec["having"]))
        return q

    def __repr__(self):
        return f"Query({self.to_spec()!r})"

    def __eq__(self, other):   # structural: same spec (the bound database is not compared)
        return isinstance(other, Query) and repr(self.to_spec()) == repr(other.to_spec())

    __hash__ = None

    # -- terminal operations (executed by engine.planner)
    def _bound(self):
        if self.db is None:
            raise QueryError("this query is not bound to a database; use db.query() "
                             "or Query.from_spec(spec, db)")
        return self.db

    def all(self) -> list:
        db = self.db
        if db is None:
            self._bound()
        return db._run_query(self)

    def __iter__(self):
        return iter(self.all())

    def first(self):
        rows = self._bound()._run_query(self.limit(1) if self.limit_ != 0 else self)
        return rows[0] if rows else None

    def count(self) -> int:
        return self._bound()._count_query(self)

    def exists(self) -> bool:
        q = self if self.is_aggregate else self.limit(1) if self.limit_ != 0 else self
        return bool(self._bound()._run_query(q))

    def explain(self) -> dict:
        return self._bound()._explain_query(self)

    def delete(self) -> int:
        return self._bound()._delete_query(self)


def row_projection(select: tuple):
    """record -> projected dict: 'id' plus each selected path present (flat path keys)."""
    getters = [(p, make_getter(p)) for p in select]

    def project(record):
        out = {"id": record["id"]}
        for p, get in getters:
            v = get(record)
            if v is not MISSING:
                out[p] = v
        return out
    return project


__all__ = [
    "Agg",
    "F",
    "Pred",
    "Query",
    "and_",
    "avg",
    "compile_pred",
    "conjuncts",
    "count",
    "max_",
    "min_",
    "not_",
    "or_",
    "pred_from_spec",
    "sum_",
]
