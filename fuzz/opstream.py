"""Op streams: what a fuzz input means, as a list of BlazeDB operations.

`decode(bytes) -> list[Op]` is total and deterministic: any byte string is a
valid op list (a short input reads as if padded with zero bytes; at most
MAX_OPS ops). `encode(ops) -> bytes` is its exact inverse on op lists of the
grammar: `decode(encode(ops)) == ops`. Values inside ops follow the value
grammar of fuzz/values.py; `encode` raises ValueError for anything outside it.

Byte format: a sequence of ops, each `tag byte` then its fields.
`OP_TABLE[tag]` names the op (a weighted table, so common ops take more of
the 256 codes). Fields, in declaration order of the dataclass:

    id        a uuid (values.py): one byte picks ID_TABLE, 0xFF + 16 raw bytes
    ref       b < 0xF0: int b, "the (b mod n)-th id seen so far" |
              else 0xF0 + id: that literal id (usually one nobody inserted)
    record    field count byte % (MAX_FIELDS + 1), then (name, value) pairs
    path      segment count byte % MAX_PATH + 1, then field names
    where     byte: 0 = no predicate, else a predicate
    predicate kind byte % (10 at depth < MAX_PRED_DEPTH, else 7):
              0 cmp path op value | 1 in path n values | 2 not_in path n values |
              3 between path lo hi | 4 contains path value | 5 exists path |
              6 missing path | 7 and p q | 8 or p q | 9 not p
    limit/offset  byte: 0 = None, else byte - 1
    query     where, sort key count % (MAX_SORT + 1), (path, desc byte & 1)...,
              limit, offset, form byte % 4 (all, first, exists, count),
              select byte: 0 = None, else (byte - 1) % (MAX_SELECT + 1) paths
    aggregate func byte, path, where, group_by count % (MAX_GROUP + 1) + paths, having (a where)

Ids: ops that read or change a record name it by `ref`, an index into the
ids the stream has inserted so far (in first-seen order, whatever the
outcome of the insert), so fetch/update/delete mostly hit real records while
literal ids cover the missing case. `IdSpace` resolves refs; it depends on
the op list only, never on results, so a stream means the same ids in the
engine, in the model and in the printed reproducer.

Other forms: `to_msgpack` / `from_msgpack` (storage, triage), `to_python`
(a runnable reproducer) and `replay` (run against a BlazeDB); the last two
live in fuzz/driver.py, which knows the engine's API.
"""
from __future__ import annotations

import dataclasses
import struct
import uuid
from dataclasses import dataclass

import msgpack

from fuzz import values as V
from fuzz.values import Reader, Vec

MAX_OPS = 64
MAX_FIELDS = 5
MAX_PATH = 2          # segments of a field path
MAX_PRED_DEPTH = 3
MAX_VALUES = 4        # values of in / not_in
MAX_MANY = 4          # records of one insert_many
MAX_SORT = 2
MAX_GROUP = 2
MAX_SELECT = 2

Ref = int | uuid.UUID
Path = tuple  # of field names; the engine takes them dotted (`dotted`)

CMP_OPS = ("==", "!=", "<", "<=", ">", ">=")
QUERY_FORMS = ("all", "first", "exists", "count")
AGG_FUNCS = ("count_all", "count", "sum", "avg", "min", "max")  # count_all = count()


# ---------------------------------------------------------------- predicates

@dataclass(frozen=True)
class Cmp:
    path: Path
    op: str
    value: object


@dataclass(frozen=True)
class In:
    path: Path
    values: tuple


@dataclass(frozen=True)
class NotIn:
    path: Path
    values: tuple


@dataclass(frozen=True)
class Between:
    path: Path
    lo: object
    hi: object


@dataclass(frozen=True)
class Contains:
    path: Path
    value: object


@dataclass(frozen=True)
class Exists:
    path: Path


@dataclass(frozen=True)
class Missing:
    path: Path


@dataclass(frozen=True)
class And:
    left: Pred
    right: Pred


@dataclass(frozen=True)
class Or:
    left: Pred
    right: Pred


@dataclass(frozen=True)
class Not:
    inner: Pred


Pred = Cmp | In | NotIn | Between | Contains | Exists | Missing | And | Or | Not
PRED_KINDS = (Cmp, In, NotIn, Between, Contains, Exists, Missing, And, Or, Not)
_LEAF_PREDS = 7


# ---------------------------------------------------------------- ops

@dataclass(frozen=True)
class Insert:
    id: uuid.UUID
    record: dict


@dataclass(frozen=True)
class InsertMany:
    items: tuple  # of (uuid.UUID, dict)


@dataclass(frozen=True)
class Fetch:
    ref: Ref


@dataclass(frozen=True)
class Update:
    ref: Ref
    changes: dict


@dataclass(frozen=True)
class Upsert:
    ref: Ref
    record: dict


@dataclass(frozen=True)
class Replace:
    ref: Ref
    record: dict


@dataclass(frozen=True)
class Delete:
    ref: Ref


@dataclass(frozen=True)
class DeleteAll:
    where: Pred | None


@dataclass(frozen=True)
class Query:
    where: Pred | None
    order_by: tuple  # of (path, descending: bool)
    limit: int | None
    offset: int | None
    form: str = "all"   # the terminal call: all() | first() | exists() | count()
    select: tuple | None = None  # projection paths (rows become {"id", "<path>": value})


@dataclass(frozen=True)
class Count:
    where: Pred | None


@dataclass(frozen=True)
class Aggregate:
    func: str
    path: Path
    where: Pred | None
    group_by: tuple  # of paths
    having: Pred | None = None  # over the output rows' columns


@dataclass(frozen=True)
class CreateIndex:
    paths: tuple
    unique: bool


@dataclass(frozen=True)
class DropIndex:
    paths: tuple


@dataclass(frozen=True)
class Begin:
    pass


@dataclass(frozen=True)
class Commit:
    pass


@dataclass(frozen=True)
class Rollback:
    pass


@dataclass(frozen=True)
class Checkpoint:
    pass


@dataclass(frozen=True)
class Reopen:
    pass


@dataclass(frozen=True)
class Check:
    pass


Op = (Insert | InsertMany | Fetch | Update | Upsert | Replace | Delete | DeleteAll | Query
      | Count | Aggregate | CreateIndex | DropIndex | Begin | Commit | Rollback | Checkpoint
      | Reopen | Check)

# Weights of the tag table: inserts and deletes dominate so that streams build
# and churn B+trees; queries check them.
_WEIGHTS = (
    (Insert, 40), (InsertMany, 10), (Fetch, 14), (Update, 16), (Upsert, 10), (Replace, 8),
    (Delete, 30), (DeleteAll, 4), (Query, 30), (Count, 10), (Aggregate, 14),
    (CreateIndex, 16), (DropIndex, 6), (Begin, 12), (Commit, 10), (Rollback, 6),
    (Checkpoint, 4), (Reopen, 10), (Check, 6),
)
OP_TABLE = tuple(kind for kind, w in _WEIGHTS for _ in range(w))
assert len(OP_TABLE) == 256, len(OP_TABLE)
OP_KINDS = tuple(kind for kind, _ in _WEIGHTS)
_OP_CODE = {kind: OP_TABLE.index(kind) for kind in OP_KINDS}
INDEX_NAME_PREFIX = "ix_"


def dotted(path: Path) -> str:
    """A path as the engine's query builder takes it: "meta.a"."""
    return ".".join(path)


def index_name(paths: tuple) -> str:
    """The name ops give the index over `paths` (CreateIndex/DropIndex carry paths, not names)."""
    return INDEX_NAME_PREFIX + "__".join(dotted(p) for p in paths)


# ---------------------------------------------------------------- ids

class IdSpace:
    """The ids a stream has named so far, in first-seen order; resolves refs.

    Feed every op to `note` after resolving its refs: the space depends on the
    op list alone, so engine, model and printed reproducer agree on the ids.
    """

    __slots__ = ("_known", "seen")

    def __init__(self):
        self.seen: list[uuid.UUID] = []
        self._known: set[uuid.UUID] = set()

    def resolve(self, ref: Ref) -> uuid.UUID:
        if isinstance(ref, uuid.UUID):
            return ref
        if self.seen:
            return self.seen[ref % len(self.seen)]
        return V.ID_TABLE[ref % len(V.ID_TABLE)]

    def _add(self, u: uuid.UUID) -> None:
        known = self._known
        n = len(known)
        known.add(u)                # one hash (uuid.UUID hashes in Python), not two
        if len(known) != n:
            self.seen.append(u)

    def note(self, op) -> None:
        kind = type(op)
        if kind is Insert:
            self._add(op.id)
        elif kind is InsertMany:
            for u, _ in op.items:
                self._add(u)
        elif kind is Upsert:
            self._add(self.resolve(op.ref))


# ---------------------------------------------------------------- decoding
# The readers are values.py's fast form: `_x(d, p) -> (value, new pos)` over
# the Reader's zero-padded bytes (see values.Reader for why and how).

def decode(data: bytes) -> list:
    """Any bytes -> the op list they mean (total, deterministic)."""
    r = Reader(data)
    return r.run(_ops, r.end)


def decode_spans(data: bytes) -> list:
    """decode(data) with each op's bytes: [(op, start, end)]. The last op's end
    may pass len(data): it read zero padding. Structure-aware mutation
    (fuzz/mutator.py) splices byte strings at these boundaries."""
    r = Reader(data)
    return r.run(_spans, r.end)


def _spans(d: bytes, p: int, end: int):
    spans = []
    while p < end and len(spans) < MAX_OPS:
        start = p
        op, p = _op(d, p)
        spans.append((op, start, p))
    return spans, p


def _ops(d: bytes, p: int, end: int):
    ops = []
    while p < end and len(ops) < MAX_OPS:
        op, p = _op(d, p)
        ops.append(op)
    return ops, p


def read_record(r: Reader) -> dict:
    """One record in the grammar (also the codec target's generated records)."""
    return r.run(_record)


_value, _fields, _uuid, _name = V._value, V._fields, V._uuid, V._name
_PATH_NAMES = V.PATH_NAMES
_N_PATH_NAMES = len(V.PATH_NAMES)
_N_PRED_KINDS = len(PRED_KINDS)


def _record(d: bytes, p: int):
    return _fields(d, p + 1, d[p] % (MAX_FIELDS + 1), 1)


def _op(d: bytes, p: int):
    kind = OP_TABLE[d[p]]
    p += 1
    if kind is Insert:
        u, p = _uuid(d, p)
        rec, p = _record(d, p)
        return Insert(u, rec), p
    if kind is Delete or kind is Fetch:
        ref, p = _ref(d, p)
        return kind(ref), p
    if kind is Update or kind is Upsert or kind is Replace:
        ref, p = _ref(d, p)
        rec, p = _record(d, p)
        return kind(ref, rec), p
    if kind is Query:
        where, p = _where(d, p)
        order_by = []
        n = d[p] % (MAX_SORT + 1)
        p += 1
        for _ in range(n):
            path, p = _path(d, p)
            order_by.append((path, bool(d[p] & 1)))
            p += 1
        limit = d[p] - 1 if d[p] else None
        offset = d[p + 1] - 1 if d[p + 1] else None
        form = QUERY_FORMS[d[p + 2] % len(QUERY_FORMS)]
        b = d[p + 3]
        p += 4
        select = None
        if b:
            select = []
            for _ in range((b - 1) % (MAX_SELECT + 1)):
                path, p = _path(d, p)
                select.append(path)
            select = tuple(select)
        return Query(where, tuple(order_by), limit, offset, form, select), p
    if kind is InsertMany:
        items = []
        n = d[p] % MAX_MANY + 1
        p += 1
        for _ in range(n):
            u, p = _uuid(d, p)
            rec, p = _record(d, p)
            items.append((u, rec))
        return InsertMany(tuple(items)), p
    if kind is DeleteAll or kind is Count:
        where, p = _where(d, p)
        return kind(where), p
    if kind is Aggregate:
        func = AGG_FUNCS[d[p] % len(AGG_FUNCS)]
        path, p = _path(d, p + 1)
        where, p = _where(d, p)
        n = d[p] % (MAX_GROUP + 1)
        p += 1
        group_by = []
        for _ in range(n):
            g, p = _path(d, p)
            group_by.append(g)
        having, p = _where(d, p)
        return Aggregate(func, path, where, tuple(group_by), having), p
    if kind is CreateIndex or kind is DropIndex:
        n = d[p] % 2 + 1
        p += 1
        paths = []
        for _ in range(n):
            path, p = _path(d, p)
            paths.append(path)
        if kind is DropIndex:
            return DropIndex(tuple(paths)), p
        return CreateIndex(tuple(paths), bool(d[p] & 1)), p + 1
    return kind(), p


def _ref(d: bytes, p: int):
    b = d[p]
    return (b, p + 1) if b < 0xF0 else _uuid(d, p + 1)


def _path(d: bytes, p: int):
    n = d[p] % MAX_PATH + 1
    p += 1
    segs = []
    for _ in range(n):
        b = d[p]
        if b < 0xF0:
            segs.append(_PATH_NAMES[b % _N_PATH_NAMES])
            p += 1
        else:
            seg, p = _name(d, p, _PATH_NAMES)
            segs.append(seg)
    return tuple(segs), p


def _where(d: bytes, p: int):
    return _pred(d, p + 1, 0) if d[p] else (None, p + 1)


def _pred(d: bytes, p: int, depth: int):
    kind = PRED_KINDS[d[p] % (_N_PRED_KINDS if depth < MAX_PRED_DEPTH else _LEAF_PREDS)]
    p += 1
    if kind is And or kind is Or:
        left, p = _pred(d, p, depth + 1)
        right, p = _pred(d, p, depth + 1)
        return kind(left, right), p
    if kind is Not:
        inner, p = _pred(d, p, depth + 1)
        return Not(inner), p
    path, p = _path(d, p)
    if kind is Cmp:
        op = CMP_OPS[d[p] % len(CMP_OPS)]
        v, p = _value(d, p + 1, 1)
        return Cmp(path, op, v), p
    if kind is In or kind is NotIn:
        vals = []
        n = d[p] % (MAX_VALUES + 1)
        p += 1
        for _ in range(n):
            v, p = _value(d, p, 1)
            vals.append(v)
        return kind(path, tuple(vals)), p
    if kind is Between:
        lo, p = _value(d, p, 1)
        hi, p = _value(d, p, 1)
        return Between(path, lo, hi), p
    if kind is Contains:
        v, p = _value(d, p, 1)
        return Contains(path, v), p
    return kind(path), p


# ---------------------------------------------------------------- encoding

def encode(ops) -> bytes:
    """The inverse of decode: decode(encode(ops)) == ops. ValueError outside the grammar."""
    ops = list(ops)
    if len(ops) > MAX_OPS:
        raise ValueError(f"{len(ops)} ops; an op stream holds at most {MAX_OPS}")
    out = bytearray()
    for op in ops:
        _write_op(out, op)
    return bytes(out)


def _write_op(out: bytearray, op) -> None:
    kind = type(op)
    if kind not in _OP_CODE:
        raise ValueError(f"not an op: {op!r}")
    out.append(_OP_CODE[kind])
    if kind is Insert:
        V.write_uuid(out, op.id)
        write_record(out, op.record)
    elif kind is InsertMany:
        _check_count(len(op.items), 1, MAX_MANY, "records of insert_many")
        out.append(len(op.items) - 1)
        for u, rec in op.items:
            V.write_uuid(out, u)
            write_record(out, rec)
    elif kind is Fetch or kind is Delete:
        _write_ref(out, op.ref)
    elif kind is Update:
        _write_ref(out, op.ref)
        write_record(out, op.changes)
    elif kind is Upsert or kind is Replace:
        _write_ref(out, op.ref)
        write_record(out, op.record)
    elif kind is DeleteAll or kind is Count:
        _write_where(out, op.where)
    elif kind is Query:
        _write_where(out, op.where)
        _check_count(len(op.order_by), 0, MAX_SORT, "sort keys")
        out.append(len(op.order_by))
        for path, desc in op.order_by:
            _write_path(out, path)
            out.append(1 if desc else 0)
        _write_opt(out, op.limit)
        _write_opt(out, op.offset)
        out.append(QUERY_FORMS.index(op.form))
        if op.select is None:
            out.append(0)
        else:
            _check_count(len(op.select), 0, MAX_SELECT, "select paths")
            out.append(1 + len(op.select))
            for path in op.select:
                _write_path(out, path)
    elif kind is Aggregate:
        out.append(AGG_FUNCS.index(op.func))
        _write_path(out, op.path)
        _write_where(out, op.where)
        _check_count(len(op.group_by), 0, MAX_GROUP, "group_by paths")
        out.append(len(op.group_by))
        for path in op.group_by:
            _write_path(out, path)
        _write_where(out, op.having)
    elif kind is CreateIndex or kind is DropIndex:
        _check_count(len(op.paths), 1, 2, "index paths")
        out.append(len(op.paths) - 1)
        for path in op.paths:
            _write_path(out, path)
        if kind is CreateIndex:
            out.append(1 if op.unique else 0)


def _check_count(n: int, lo: int, hi: int, what: str) -> None:
    if not lo <= n <= hi:
        raise ValueError(f"{n} {what} is outside the op grammar ({lo}..{hi})")


def write_record(out: bytearray, rec: dict) -> None:
    """The inverse of read_record."""
    if not isinstance(rec, dict):
        raise ValueError(f"a record must be a dict, not {type(rec).__name__}")  # noqa: TRY004 (one error type)
    _check_count(len(rec), 0, MAX_FIELDS, "fields of a record")
    out.append(len(rec))
    V.write_fields(out, rec, 1)


def _write_ref(out: bytearray, ref: Ref) -> None:
    if isinstance(ref, uuid.UUID):
        out.append(0xF0)
        V.write_uuid(out, ref)
    elif type(ref) is int and 0 <= ref < 0xF0:
        out.append(ref)
    else:
        raise ValueError(f"ref {ref!r} is outside the op grammar (an int 0..239 or a UUID)")


def _write_path(out: bytearray, path: Path) -> None:
    if not isinstance(path, tuple):
        raise ValueError(f"a path is a tuple of field names, not {path!r}")  # noqa: TRY004
    _check_count(len(path), 1, MAX_PATH, "path segments")
    out.append(len(path) - 1)
    for seg in path:
        V.write_path_segment(out, seg)


def _write_opt(out: bytearray, n: int | None) -> None:
    if n is None:
        out.append(0)
    elif type(n) is int and 0 <= n < 255:
        out.append(n + 1)
    else:
        raise ValueError(f"limit/offset {n!r} is outside the op grammar (None or 0..254)")


def _write_where(out: bytearray, where: Pred | None) -> None:
    if where is None:
        out.append(0)
    else:
        out.append(1)
        _write_pred(out, where, 0)


def _write_pred(out: bytearray, p: Pred, depth: int) -> None:
    kind = type(p)
    if kind not in PRED_KINDS:
        raise ValueError(f"not a predicate: {p!r}")
    k = PRED_KINDS.index(kind)
    if k >= _LEAF_PREDS and depth >= MAX_PRED_DEPTH:
        raise ValueError(f"predicates nested deeper than {MAX_PRED_DEPTH} are outside the op grammar")
    out.append(k)
    if kind is And or kind is Or:
        _write_pred(out, p.left, depth + 1)
        _write_pred(out, p.right, depth + 1)
        return
    if kind is Not:
        _write_pred(out, p.inner, depth + 1)
        return
    _write_path(out, p.path)
    if kind is Cmp:
        out.append(CMP_OPS.index(p.op))
        V.write_value(out, p.value, 1)
    elif kind is In or kind is NotIn:
        _check_count(len(p.values), 0, MAX_VALUES, "values of in/not_in")
        out.append(len(p.values))
        for v in p.values:
            V.write_value(out, v, 1)
    elif kind is Between:
        V.write_value(out, p.lo, 1)
        V.write_value(out, p.hi, 1)
    elif kind is Contains:
        V.write_value(out, p.value, 1)


# ---------------------------------------------------------------- msgpack

_NODES = {cls.__name__: cls for cls in OP_KINDS + PRED_KINDS}


def register_node(cls) -> None:
    """Let to_msgpack/from_msgpack carry another dataclass a target puts into its
    input lists (the crash target's CrashPoint)."""
    _NODES[cls.__name__] = cls
    _TOP_LEVEL_EXTRAS.add(cls)


_TOP_LEVEL_EXTRAS: set = set()
EXT_NODE, EXT_UUID, EXT_DATE, EXT_VECTOR, EXT_BIGINT, EXT_TUPLE, EXT_NAN = range(1, 8)
MSGPACK_FORMAT = "blazefuzz.ops"
MSGPACK_VERSION = 1


def _plain(obj):
    """Op-list object -> msgpack-able tree (ext types for what msgpack lacks)."""
    if dataclasses.is_dataclass(obj):
        fields = [_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)]
        return msgpack.ExtType(EXT_NODE, _pack([type(obj).__name__, *fields]))
    if isinstance(obj, Vec):
        return msgpack.ExtType(EXT_VECTOR, struct.pack(f"<{len(obj)}d", *obj))
    if isinstance(obj, tuple):
        return msgpack.ExtType(EXT_TUPLE, _pack([_plain(x) for x in obj]))
    if isinstance(obj, list):
        return [_plain(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, uuid.UUID):
        return msgpack.ExtType(EXT_UUID, obj.bytes)
    if isinstance(obj, V._dt.datetime):
        return msgpack.ExtType(EXT_DATE, V._micros(obj).to_bytes(8, "little", signed=True))
    if type(obj) is int and not -2**63 <= obj < 2**64:
        return msgpack.ExtType(EXT_BIGINT, str(obj).encode())
    if type(obj) is float and obj != obj:
        return msgpack.ExtType(EXT_NAN, b"")
    return obj


def _pack(obj) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def _ext_hook(code: int, data: bytes):
    if code == EXT_NODE:
        name, *fields = _unpack(data)
        cls = _NODES.get(name)
        if cls is None or len(fields) != len(dataclasses.fields(cls)):
            raise ValueError(f"not an op-list node: {name!r} with {len(fields)} fields")
        return cls(*fields)
    if code == EXT_UUID:
        return uuid.UUID(bytes=data)
    if code == EXT_DATE:
        return V.EPOCH + V._dt.timedelta(microseconds=int.from_bytes(data, "little", signed=True))
    if code == EXT_VECTOR:
        return Vec(V.NAN if x != x else x for x in struct.unpack(f"<{len(data) // 8}d", data))
    if code == EXT_BIGINT:
        return int(data.decode())
    if code == EXT_TUPLE:
        return tuple(_unpack(data))
    if code == EXT_NAN:
        return V.NAN
    raise ValueError(f"unknown msgpack extension type {code} in an op list")


def _unpack(data: bytes):
    return msgpack.unpackb(data, raw=False, ext_hook=_ext_hook, strict_map_key=True)


def to_msgpack(ops) -> bytes:
    """An op list as msgpack: {"format", "version", "ops"}; nodes and special values as ext types."""
    return _pack({"format": MSGPACK_FORMAT, "version": MSGPACK_VERSION,
                  "ops": [_plain(op) for op in ops]})


def from_msgpack(data: bytes) -> list:
    """The inverse of to_msgpack; ValueError if `data` is not an op list this version wrote."""
    try:
        doc = _unpack(data)
    except ValueError:
        raise
    except Exception as exc:  # msgpack's own errors: ExtraData, FormatError, StackError...
        raise ValueError(f"not msgpack op-list data: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != MSGPACK_FORMAT:
        raise ValueError("not a BlazeFuzz op list (missing format marker)")
    if doc.get("version") != MSGPACK_VERSION:
        raise ValueError(f"op-list version {doc.get('version')!r}; this reader knows {MSGPACK_VERSION}")
    ops = doc.get("ops")
    if not isinstance(ops, list) or not all(type(op) in _OP_CODE or type(op) in _TOP_LEVEL_EXTRAS
                                            for op in ops):
        raise ValueError("op list holds something that is not an op")
    return ops


# ---------------------------------------------------------------- engine-facing forms

def to_python(ops) -> str:
    """A runnable script body that replays `ops` against BlazeDB (see fuzz/driver.py)."""
    from fuzz import driver
    return driver.to_python(ops)


def replay(ops, db_factory):
    """Run `ops` against the BlazeDB `db_factory()` opens; returns the per-op outcomes."""
    from fuzz import driver
    return driver.replay(ops, db_factory)
