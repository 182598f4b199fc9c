"""A pure-Python reference model of BlazeDB's documented behaviour.

State: a dict id -> record (each record holds its "id"), the secondary index
definitions, and a snapshot of both while a transaction is open. Each op
either returns the documented result or raises the documented BlazeError
subclass, exactly as BlazeDB must (engine/API.md, engine/doc/semantics.md).
Query evaluation is brute force (fuzz/model_query.py) and value comparison
is the model's own (fuzz/semantics_ref.py), independent of the engine's code.

Records are never mutated in place: an update builds a new dict, so a
snapshot is a shallow copy and rollback is an assignment.

`apply(op, ids)` takes an op of fuzz/opstream.py and the stream's IdSpace
(refs resolved before the op; the caller notes the op afterwards).
"""
from __future__ import annotations

import datetime as _dt
import uuid

from engine._native import codec as _codec
from engine._native import store as _store
from engine.errors import (
    BlazeIndexError,
    DuplicateRecordError,
    InvalidRecordError,
    RecordNotFound,
    RecordTooLargeError,
    TransactionError,
    UniqueConstraintError,
)
from engine.types import MISSING as ENGINE_MISSING
from fuzz import model_query as Q
from fuzz import opstream as O
from fuzz.driver import to_engine
from fuzz.semantics_ref import MISSING, lookup, split_path

INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
MAX_FIELD_NAME = 255   # bytes of UTF-8 (engine._codec.MAX_FIELD_NAME)
MAX_INDEX_NAME = 100   # characters (engine/indexes.py)


_CAN_FAIL = frozenset({int, list, dict})   # the only value types that can be invalid
_SHORT_NAME = MAX_FIELD_NAME // 4          # UTF-8 takes at most 4 bytes a character


def record_error(record: dict):
    """The error class engine._codec.encode must raise for `record`, or None.

    Walks like the codec: in each dictionary every key is checked first
    (over-long name: RecordTooLargeError), then the values in key order;
    arrays element by element; the first problem wins."""
    return _first_error(record)


# Module level, not nested in record_error: a recursive closure refers to itself
# (function -> cell -> function), and each call would leave a cycle to collect.
def _first_error(v):
    t = type(v)
    if t is int:
        return None if INT64_MIN <= v <= INT64_MAX else InvalidRecordError
    if t is list:
        for x in v:
            if type(x) in _CAN_FAIL:
                err = _first_error(x)
                if err:
                    return err
    elif t is dict:
        risky = None        # keys of values that can fail: only their order matters
        for k, x in v.items():
            # a name of at most _SHORT_NAME characters fits in MAX_FIELD_NAME bytes
            if len(k) > _SHORT_NAME and len(k.encode("utf-8")) > MAX_FIELD_NAME:
                return RecordTooLargeError
            if type(x) in _CAN_FAIL:
                if risky is None:
                    risky = [k]
                else:
                    risky.append(k)
        if risky is not None:
            risky.sort()
            for k in risky:
                err = _first_error(v[k])
                if err:
                    return err
    return None


# An index entry's key is index_key(values) + the 16-byte id, and API.md limits
# it to a store key: "an indexed value tuple must fit in a store key (1024
# bytes with the id), else the write raises RecordTooLargeError". The limit is
# stated in the codec's bytes, so their count is the one thing the model takes
# from the engine (the encoding's order and canonical form are the codec
# target's to test). Every write of every indexed stream asks, so a cheap upper
# bound answers first: a value of a fixed-size type takes at most
# KEY_BYTES_FIXED bytes, a string at most 4 per character and a byte string 2
# per byte, plus KEY_BYTES_FRAME (tests/fuzz/test_model.py holds the codec to
# these). Only a tuple over the bound, or holding an array or a dictionary, is
# encoded and measured.
_MAX_INDEX_PREFIX = _store.MAX_KEY_SIZE - 16
_FIXED_SIZE = frozenset({int, float, bool, type(None), uuid.UUID, _dt.datetime})
KEY_BYTES_FIXED, KEY_BYTES_FRAME = 32, 3


def index_key_too_long(record: dict, segs: tuple) -> bool:
    """Whether `record`'s entry in an index on these split paths (split_path)
    is too long for a store key."""
    bound = 0
    for s in segs:
        v = lookup(record, s)
        t = type(v)
        if t in _FIXED_SIZE or v is MISSING:
            bound += KEY_BYTES_FIXED
        elif t is str:
            bound += KEY_BYTES_FRAME + 4 * len(v)
        elif t is bytes:
            bound += KEY_BYTES_FRAME + 2 * len(v)
        else:
            break
    else:
        if bound <= _MAX_INDEX_PREFIX:
            return False
    vals = tuple(ENGINE_MISSING if v is MISSING else to_engine(v)
                 for v in (lookup(record, s) for s in segs))
    return len(_codec.index_key(vals)) > _MAX_INDEX_PREFIX


def _id_field_ok(fields: dict, rid: uuid.UUID) -> bool:
    """update/replace/upsert may carry "id" only if it is the record's own id."""
    return "id" not in fields or (isinstance(fields["id"], uuid.UUID) and fields["id"] == rid)


class IndexSpec:
    __slots__ = ("name", "paths", "segs", "unique")

    def __init__(self, name: str, paths: tuple, unique: bool):
        self.name, self.paths, self.unique = name, paths, unique
        self.segs = tuple(split_path(O.dotted(p)) for p in paths)   # paths are valid here


class Model:
    """BlazeDB as the documentation describes it, over plain dicts."""

    def __init__(self):
        self.records: dict[uuid.UUID, dict] = {}
        self.indexes: dict[str, IndexSpec] = {}
        self._snapshot = None   # (records, indexes) at begin(), or None

    # ------------------------------------------------------------ state
    @property
    def in_transaction(self) -> bool:
        return self._snapshot is not None

    def state(self) -> list:
        """All records in id order (what fetch_all() must return)."""
        return [self.records[k] for k in sorted(self.records, key=Q.ID_ORDER)]

    def index_names(self) -> list:
        return sorted(self.indexes)

    # ------------------------------------------------------------ constraints
    def _unique_conflict(self, candidates: dict, changed: list) -> bool:
        """Whether `candidates` (the would-be records) break a unique index,
        looking only at the ids in `changed` against all others."""
        for spec in self.indexes.values():
            if not spec.unique:
                continue
            mine = set()            # the keys of the changed records
            for rid in changed:
                k = Q.unique_key(candidates[rid], spec.paths)
                if k is not None:
                    if k in mine:
                        return True
                    mine.add(k)
            if not mine:            # every changed record is exempt: no pair to look for
                continue
            for rid, rec in candidates.items():
                if rid not in changed and Q.unique_key(rec, spec.paths) in mine:
                    return True
        return False

    def _write(self, new: dict) -> None:
        """Apply {id: record or None} atomically, or raise UniqueConstraintError
        (checked first, as the engine does) or RecordTooLargeError for an index
        entry too long for a store key."""
        candidates = dict(self.records)
        for rid, rec in new.items():
            if rec is None:
                candidates.pop(rid, None)
            else:
                candidates[rid] = rec
        if self.indexes:            # without indexes there is nothing to check
            if self._unique_conflict(candidates, [rid for rid, rec in new.items() if rec is not None]):
                raise UniqueConstraintError("unique index violation (model)")
            for rec in new.values():
                if rec is not None:
                    for spec in self.indexes.values():
                        if index_key_too_long(rec, spec.segs):
                            raise RecordTooLargeError("an index entry exceeds the store's key "
                                                      "limit (model)")
        self.records = candidates

    @staticmethod
    def _stored(rid: uuid.UUID, record: dict) -> dict:
        out = dict(record)
        out.pop("id", None)         # whatever "id" the op gave; the record's own is set next
        out["id"] = rid
        err = _first_error(out)
        if err is not None:
            raise err("invalid record (model)")
        return out

    # ------------------------------------------------------------ ops
    def apply(self, op, ids: O.IdSpace):
        handler = OP_HANDLERS.get(type(op))
        if handler is None:
            raise AttributeError(f"the model has no handler for {type(op).__name__}")
        return handler(self, op, ids)

    def _op_Insert(self, op, ids):
        rec = self._stored(op.id, op.record)
        if op.id in self.records:
            # Ids go in as arguments, formatted only if the message is shown:
            # the ops target never shows the model's, and a UUID's str() took
            # about 1% of its instructions (this error and RecordNotFound).
            raise DuplicateRecordError("the id exists (model)", op.id)
        self._write({op.id: rec})
        return op.id

    def _op_InsertMany(self, op, ids):
        # All records are validated first; then, record by record, the id and
        # the unique indexes against the store and the earlier records.
        recs = [(rid, self._stored(rid, record)) for rid, record in op.items]
        saved = self.records
        try:
            for rid, rec in recs:
                if rid in self.records:
                    raise DuplicateRecordError("the id exists (model)", rid)
                self._write({rid: rec})
        except BaseException:
            self.records = saved
            raise
        return [rid for rid, _ in op.items]

    def _op_Fetch(self, op, ids):
        rid = ids.resolve(op.ref)
        if rid not in self.records:
            raise RecordNotFound(rid)
        return self.records[rid]

    def _checked(self, rid, fields: dict) -> dict:
        if not _id_field_ok(fields, rid):
            raise InvalidRecordError("'id' cannot be changed (model)")
        return fields

    def _op_Update(self, op, ids):
        rid = ids.resolve(op.ref)
        changes = self._checked(rid, op.changes)
        if rid not in self.records:
            raise RecordNotFound(rid)
        merged = self._stored(rid, {**self.records[rid], **changes})
        self._write({rid: merged})
        return merged

    def _op_Upsert(self, op, ids):
        rid = ids.resolve(op.ref)
        fields = self._checked(rid, op.record)
        inserted = rid not in self.records
        base = {} if inserted else self.records[rid]
        self._write({rid: self._stored(rid, {**base, **fields})})
        return inserted

    def _op_Replace(self, op, ids):
        rid = ids.resolve(op.ref)
        record = self._checked(rid, op.record)
        if rid not in self.records:
            raise RecordNotFound(rid)
        rec = self._stored(rid, record)
        self._write({rid: rec})
        return rec

    def _op_Delete(self, op, ids):
        rid = ids.resolve(op.ref)
        if rid not in self.records:
            return False
        self._write({rid: None})
        return True

    def _op_DeleteAll(self, op, ids):
        doomed = Q.select(self.records, op.where)
        self._write({r["id"]: None for r in doomed})
        return len(doomed)

    def _op_Query(self, op, ids):
        rows = Q.run_query(self.records, op.where, op.order_by, op.limit, op.offset)
        if op.select is not None:
            project = Q.projection(op.select)
            rows = [project(r) for r in rows]
        if op.form == "first":
            return rows[0] if rows else None
        if op.form == "exists":
            return bool(rows)
        if op.form == "count":
            return len(rows)
        return rows

    def _op_Count(self, op, ids):
        return len(Q.select(self.records, op.where))

    def _op_Aggregate(self, op, ids):
        return Q.run_aggregate(self.records, op.func, op.path, op.where, op.group_by, op.having)

    def _op_CreateIndex(self, op, ids):
        name = O.index_name(op.paths)
        fields = [O.dotted(p) for p in op.paths]
        if any(split_path(f) is None for f in fields) or len(set(fields)) != len(fields):
            raise BlazeIndexError("bad index fields (model)")
        if len(name) > MAX_INDEX_NAME or not name.isprintable():
            raise BlazeIndexError("bad index name (model)")
        if name in self.indexes:
            raise BlazeIndexError(f"index {name} exists (model)")
        spec = IndexSpec(name, op.paths, op.unique)
        if op.unique:
            seen = set()
            for rec in self.records.values():
                k = Q.unique_key(rec, op.paths)
                if k is None:
                    continue
                if k in seen:
                    raise UniqueConstraintError("existing records violate the new unique index (model)")
                seen.add(k)
        if any(index_key_too_long(rec, spec.segs) for rec in self.records.values()):
            raise RecordTooLargeError("a record's entry exceeds the store's key limit (model)")
        self.indexes = {**self.indexes, name: spec}
        return name

    def _op_DropIndex(self, op, ids):
        name = O.index_name(op.paths)
        if name not in self.indexes:
            raise BlazeIndexError(f"no index {name} (model)")
        self.indexes = {k: v for k, v in self.indexes.items() if k != name}

    def _op_Begin(self, op, ids):
        if self._snapshot is not None:
            raise TransactionError("nested begin (model)")
        self._snapshot = (self.records, self.indexes)
        self.records = dict(self.records)

    def _op_Commit(self, op, ids):
        if self._snapshot is None:
            raise TransactionError("commit without begin (model)")
        self._snapshot = None

    def _op_Rollback(self, op, ids):
        if self._snapshot is None:
            raise TransactionError("rollback without begin (model)")
        self.records, self.indexes = self._snapshot
        self._snapshot = None

    def _op_Checkpoint(self, op, ids):
        if self._snapshot is not None:
            raise TransactionError("checkpoint inside a transaction (model)")

    def _op_Reopen(self, op, ids):
        # close() with an open transaction rolls it back: it was never committed.
        if self._snapshot is not None:
            self.records, self.indexes = self._snapshot
            self._snapshot = None

    def _op_Check(self, op, ids):
        # check() reports the records and, per index, its entries: one per record.
        n = len(self.records)
        return {"records": n, "indexes": {name: n for name in self.indexes}}


# op class -> Model._op_<ClassName>, called as handler(model, op, ids): what
# apply() dispatches to. A dict, since ops run once per op of every input; the
# ops target's Session calls them directly, one frame fewer per op (and an
# error passes one frame fewer: each one it passes costs a traceback entry).
OP_HANDLERS = {kind: getattr(Model, "_op_" + kind.__name__) for kind in O.OP_KINDS}

__all__ = ["OP_HANDLERS", "Model", "record_error"]
