"""BlazeDB: the public document API over the C store (engine/API.md).

Layout on the store (engine/doc/semantics.md §8): tree "records" maps
id.bytes -> codec.encode(record) (the record includes its "id"); each
secondary index is a tree "idx:<name>" described in tree "catalog" (see
engine/indexes.py). A write changes the record and all its index entries in
one store transaction — the caller's, or one opened for the call — and is
fully validated (record encodes, unique constraints hold) before the first
byte is written, so a rejected write changes nothing even inside a larger
transaction.

Threads: one re-entrant lock serialises every use of the store. An explicit
transaction (begin() or transaction()) keeps that lock until commit() or
rollback(), so other threads wait instead of writing into it; a transaction
therefore belongs to the thread that began it.
"""
from __future__ import annotations

import itertools
import operator
import threading
import time
import uuid
from contextlib import contextmanager

from engine import planner
from engine._native import codec as _codec
from engine._native import store as _store_mod
from engine.errors import (
    BlazeIndexError,
    ClosedError,
    CorruptDatabaseError,
    DuplicateRecordError,
    InvalidRecordError,
    QueryError,
    RecordNotFound,
    RecordTooLargeError,
    TransactionError,
)
from engine.ids import IdGenerator
from engine.indexes import (
    CATALOG_PREFIX,
    CATALOG_TREE,
    ID_LEN,
    IndexDef,
    check_name,
    normalize_fields,
    raise_unique,
    unique_violation,
)
from engine.query import Pred, Query, pred_from_spec
from engine.types import MISSING

RECORDS = planner.RECORDS
MEMORY_FILE = "memory.blazedb"
_UUID = uuid.UUID
_encode = _codec.encode
_decode = _codec.decode
_MAX_INDEX_PREFIX = _store_mod.MAX_KEY_SIZE - ID_LEN   # bytes of index_key(values) in an entry


def _id_bytes(record_id) -> bytes:
    if type(record_id) is _UUID:
        return record_id.bytes
    if isinstance(record_id, _UUID):
        return record_id.bytes
    if isinstance(record_id, str):
        try:
            return _UUID(record_id).bytes
        except ValueError:
            pass
    raise InvalidRecordError(f"a record id is a uuid.UUID, got {type(record_id).__name__} "
                             f"{record_id!r:.80}")


def _as_where(where) -> Pred | None:
    if where is None or isinstance(where, Pred):
        return where
    if isinstance(where, (list, tuple)):
        return pred_from_spec(where)
    raise QueryError(f"where= takes a predicate (F('a') == 1) or its spec list, "
                     f"got {type(where).__name__}")


class BlazeDB:
    """An embedded document database in one file (or in memory when path is None)."""

    def __init__(self, path: str | None = None, *, vfs=None, readonly: bool = False,
                 lock_timeout: float = 0.0, checkpoint_pages: int = 1000,
                 cache_pages: int = 2048, id_generator=None, clock=None):
        if path is None:
            vfs = vfs if vfs is not None else _store_mod.MemFS()
            path = MEMORY_FILE
        self.path = path
        self.readonly = readonly
        self._lock = threading.RLock()
        self._txn_held = False          # begin() keeps one extra hold of _lock
        self._new_id = id_generator or IdGenerator(clock or time.time)
        self._store = _store_mod.Store(path, vfs=vfs, readonly=readonly,
                                       lock_timeout=lock_timeout,
                                       checkpoint_pages=checkpoint_pages,
                                       cache_pages=cache_pages)
        created = False
        try:
            if readonly:
                if RECORDS not in self._store.trees():
                    raise CorruptDatabaseError(
                        f"{path} has no {RECORDS!r} tree: not a BlazeDB document database "
                        "(a writer creates it on first open)")
            else:
                trees = self._store.trees()
                if RECORDS not in trees or CATALOG_TREE not in trees:
                    self._store.begin()
                    try:
                        self._store.create_tree(RECORDS)
                        self._store.create_tree(CATALOG_TREE)
                        self._store.commit()
                        created = True
                    except BaseException:
                        if self._store.in_transaction:
                            self._store.rollback()
                        raise
            self._indexes: dict[str, IndexDef] = {}
            self._eq_cache = {}
            # Bumped whenever _indexes changes: after a rollback the catalog is
            # reloaded only if this transaction changed it (a failed write is
            # common; rescanning the catalog after each one is not free).
            self._catalog_gen = 0
            self._txn_gen = 0
            # A database made just now has both trees empty: no index to load or
            # verify, no stored id to continue after. (Every later open runs them.)
            if not created:
                self._load_catalog()
                self._verify_trees()
                self._continue_ids()
        except BaseException:
            self._store.close()
            raise

    # ------------------------------------------------------------ lifecycle

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()

    def close(self) -> None:
        """Close the database (idempotent). An open transaction is rolled back."""
        with self._lock:
            if self._store.closed:
                return
            try:
                if self._store.in_transaction:
                    self._store.rollback()
            finally:
                self._store.close()
                if self._txn_held:
                    self._txn_held = False
                    self._lock.release()

    @property
    def closed(self) -> bool:
        return self._store.closed

    def __repr__(self):
        state = "closed" if self._store.closed else "open"
        return f"<BlazeDB {self.path!r} {state}>"

    def _check_open(self):
        if self._store.closed:
            raise ClosedError("the database is closed")

    def _verify_trees(self):
        """Every tree the database relies on resolves by name. A damaged catalog
        B+tree can list a name that a lookup then misses; without this check
        the first read of that tree would fail with the store's KeyError."""
        for name in (RECORDS, *(idx.tree for idx in self._indexes.values())):
            try:
                self._store.count(name)
            except KeyError:
                raise CorruptDatabaseError(
                    f"catalog: tree {name!r} cannot be found (the catalog is damaged, "
                    f"or an index lost its tree)") from None

    def _continue_ids(self):
        """New ids sort after every stored one, even when the clock is behind it."""
        if isinstance(self._new_id, IdGenerator):
            for key, _ in self._store.scan(RECORDS, reverse=True):
                if len(key) != ID_LEN:   # only a damaged file has such a key
                    raise CorruptDatabaseError(
                        f"records tree: its last key {key[:32].hex()}{'...' if len(key) > 32 else ''} "
                        f"is {len(key)} bytes, not a {ID_LEN}-byte record id")
                self._new_id.advance_past(_UUID(bytes=key))
                break

    def _load_catalog(self):
        indexes = {}
        try:
            entries = list(self._store.scan(CATALOG_TREE))
        except KeyError:   # a read-only open of a file no writer has initialised
            entries = []
        for key, value in entries:
            if key.startswith(CATALOG_PREFIX):
                idx = IndexDef.from_catalog(key, value)
                indexes[idx.name] = idx
        self._indexes = indexes
        self._eq_cache = {}

    def _refresh(self):
        """Read-only handles see other writers' commits: reload the catalog."""
        if self.readonly:
            self._load_catalog()

    # ------------------------------------------------------------ transactions

    def _write(self, fn, single: bool = False):
        """Run fn() in the caller's transaction, or in one of its own.

        single=True: without secondary indexes fn() makes at most one store
        mutation, and makes it last. Outside a transaction the store then runs
        that mutation as its own transaction (autocommit: all or nothing, the
        same commit), so no begin()/commit() round trip is needed. Read-only
        handles keep the begin() path: it raises ReadOnlyError before fn()
        could raise anything else."""
        with self._lock:
            store = self._store
            if store.closed:
                raise ClosedError("the database is closed")
            if self._txn_held:
                if not store.in_transaction:
                    raise TransactionError(
                        "the transaction was rolled back after an error; call rollback() "
                        "(or leave the with-block) before writing again")
                try:
                    return fn()
                except BaseException:
                    if not store.in_transaction:     # the store undid the whole transaction
                        self._resync_catalog(self._txn_gen)
                    raise
            if single and not self._indexes and not self.readonly:
                return fn()
            gen = self._catalog_gen
            store.begin()
            try:
                result = fn()
                store.commit()
                return result
            except BaseException:
                if store.in_transaction:
                    store.rollback()
                self._resync_catalog(gen)
                raise

    def _resync_catalog(self, gen: int) -> None:
        """After a rollback: reload the index definitions if they changed since `gen`."""
        if self._catalog_gen != gen:
            self._load_catalog()

    def begin(self) -> None:
        """Start a transaction; this thread keeps the database until commit()/rollback()."""
        self._lock.acquire()
        try:
            self._check_open()
            if self._txn_held:
                raise TransactionError("a transaction is already open; commit() or rollback() it "
                                       "first (transactions do not nest)")
            self._store.begin()
        except BaseException:
            self._lock.release()
            raise
        self._txn_held = True
        self._txn_gen = self._catalog_gen

    def _end(self, action: str):
        with self._lock:
            if not self._txn_held:
                raise TransactionError(f"{action}() without begin()")
            try:
                if action == "commit":
                    if not self._store.in_transaction:
                        raise TransactionError(
                            "the transaction was already rolled back after an error; "
                            "nothing was committed")
                    self._store.commit()
                elif self._store.in_transaction:
                    self._store.rollback()
                ok = True
            except BaseException:
                ok = False
                raise
            finally:
                if not self._store.in_transaction:
                    self._txn_held = False
                    self._lock.release()
                    if action == "rollback" or not ok:
                        self._resync_catalog(self._txn_gen)   # index definitions made inside are gone

    def commit(self) -> None:
        self._end("commit")

    def rollback(self) -> None:
        self._end("rollback")

    @property
    def in_transaction(self) -> bool:
        return self._txn_held

    @contextmanager
    def transaction(self):
        """`with db.transaction():` commits on success, rolls back on any exception."""
        self.begin()
        try:
            yield self
        except BaseException:
            if self._txn_held:
                self.rollback()
            raise
        else:
            self.commit()

    # ------------------------------------------------------------ records

    def _prepare(self, record, what="insert") -> tuple[bytes, dict]:
        if not isinstance(record, dict):
            raise InvalidRecordError(f"{what}: a record is a dict, got {type(record).__name__}")
        rid = record.get("id")
        if rid is None:
            rid = self._new_id()
            record = {**record, "id": rid}
        elif not isinstance(rid, _UUID):
            raise InvalidRecordError(f"{what}: 'id' must be a uuid.UUID, got {type(rid).__name__}")
        return rid.bytes, record

    def _index_entries(self, record: dict):
        """[(index, values, prefix)] for every index."""
        return [(idx, vals, _codec.index_key(vals))
                for idx in self._indexes.values() for vals in (idx.values(record),)]

    def _check_uniques(self, entries, kb: bytes, old_prefixes=None):
        store = self._store
        for idx, vals, prefix in entries:
            if (idx.unique and idx.constrains(vals)
                    and (old_prefixes is None or old_prefixes.get(idx.name) != prefix)):
                other = unique_violation(store, idx, prefix, kb)
                if other is not None:
                    raise_unique(idx, vals, other)

    @staticmethod
    def _check_key_sizes(entries):
        """An index entry's key (index_key(values) + id) must fit in a store key.
        Checked with the unique constraints, before a write changes anything: a
        put that failed half-way through a record's entries would leave the
        record without them inside an open transaction."""
        for idx, _, prefix in entries:
            if len(prefix) > _MAX_INDEX_PREFIX:
                raise RecordTooLargeError(
                    f"index {idx.name!r}: the indexed values take {len(prefix)} bytes as a key; "
                    f"with the {ID_LEN}-byte id that exceeds the store's key limit of "
                    f"{_store_mod.MAX_KEY_SIZE} bytes")

    def _put_new(self, kb: bytes, data: bytes, entries):
        put = self._store.put
        put(RECORDS, kb, data)
        for idx, _, prefix in entries:
            put(idx.tree, prefix + kb, b"")

    def insert(self, record: dict) -> uuid.UUID:
        """Store a new record; returns its id (assigned unless record["id"] is a UUID)."""
        kb, record = self._prepare(record)
        data = _encode(record)

        def op():
            store = self._store
            if store.get(RECORDS, kb) is not None:
                raise DuplicateRecordError(f"a record with id {record['id']} already exists")
            if self._indexes:
                entries = self._index_entries(record)
                self._check_uniques(entries, kb)
                self._check_key_sizes(entries)
                self._put_new(kb, data, entries)
            else:
                store.put(RECORDS, kb, data)
        self._write(op, single=True)
        return record["id"]

    def insert_many(self, records) -> list[uuid.UUID]:
        """Insert all records atomically (all or none); returns their ids in order."""
        prepared = []
        for i, record in enumerate(records):
            kb, record = self._prepare(record, f"insert_many record {i}")
            try:
                data = _encode(record)
            except InvalidRecordError as exc:   # name the record; keep the class
                raise type(exc)(f"insert_many record {i}: {exc}") from None
            prepared.append((kb, data, record))

        def op():
            store = self._store
            seen: set = set()
            batch = []
            taken: dict = {}   # (index name, prefix) -> id, for conflicts inside the batch
            for kb, data, record in prepared:
                if kb in seen or store.get(RECORDS, kb) is not None:
                    raise DuplicateRecordError(f"a record with id {record['id']} already exists")
                seen.add(kb)
                entries = []
                if self._indexes:
                    entries = self._index_entries(record)
                    self._check_uniques(entries, kb)
                    for idx, vals, prefix in entries:
                        if idx.constrains(vals):
                            other = taken.setdefault((idx.name, prefix), kb)
                            if other != kb:
                                raise_unique(idx, vals, other)
                    self._check_key_sizes(entries)
                batch.append((kb, data, entries))
            for kb, data, entries in batch:
                self._put_new(kb, data, entries)
        self._write(op)
        return [record["id"] for _, _, record in prepared]

    def fetch(self, record_id) -> dict:
        """The record with this id; RecordNotFound if there is none."""
        kb = record_id.bytes if type(record_id) is _UUID else _id_bytes(record_id)
        with self._lock:
            data = self._store.get(RECORDS, kb)
        if data is None:
            raise RecordNotFound(f"no record with id {_UUID(bytes=kb)}")
        return _decode(data)

    def get(self, record_id) -> dict | None:
        """The record with this id, or None."""
        kb = record_id.bytes if type(record_id) is _UUID else _id_bytes(record_id)
        with self._lock:
            data = self._store.get(RECORDS, kb)
        return None if data is None else _decode(data)

    def fetch_all(self, batch: int = 256):
        """Every record in id order, streamed from one scan.

        The scan holds one snapshot, so a read-only handle sees a single
        committed state for the whole iteration even while another process
        commits. The lock is held per batch, not throughout: other threads of
        this process may write meanwhile (the scan then continues after the
        last id it returned)."""
        with self._lock:
            self._check_open()
            scan = self._store.scan(RECORDS)
        while True:
            with self._lock:
                chunk = list(map(_value_of, itertools.islice(scan, batch)))
            yield from map(_decode, chunk)      # lazily, one record per next()
            if len(chunk) < batch:
                return

    def __iter__(self):
        return self.fetch_all()

    def _replace_record(self, kb: bytes, old: dict, new: dict) -> bytes:
        """Write `new` over `old` (same id) with index maintenance; inside _write.
        Returns the encoded record (what was stored)."""
        data = _encode(new)
        store = self._store
        if self._indexes:
            old_entries = {idx.name: prefix for idx, _, prefix in self._index_entries(old)}
            new_entries = self._index_entries(new)
            self._check_uniques(new_entries, kb, old_entries)
            self._check_key_sizes(new_entries)
            store.put(RECORDS, kb, data)
            for idx, _, prefix in new_entries:
                old_prefix = old_entries[idx.name]
                if old_prefix != prefix:
                    store.delete(idx.tree, old_prefix + kb)
                    store.put(idx.tree, prefix + kb, b"")
        else:
            store.put(RECORDS, kb, data)
        return data

    def _load_for_write(self, kb: bytes) -> dict:
        data = self._store.get(RECORDS, kb)
        if data is None:
            raise RecordNotFound(f"no record with id {_UUID(bytes=kb)}")
        return _decode(data)

    @staticmethod
    def _check_id_field(fields: dict, kb: bytes, what: str):
        if "id" in fields and not (isinstance(fields["id"], _UUID) and fields["id"].bytes == kb):
            raise InvalidRecordError(f"{what}: 'id' cannot be changed (record {_UUID(bytes=kb)}, "
                                     f"got {fields['id']!r:.80})")

    def update(self, record_id, fields: dict) -> dict:
        """Merge `fields` into the record (top-level keys replace); returns the new record."""
        kb = record_id.bytes if type(record_id) is _UUID else _id_bytes(record_id)
        if not isinstance(fields, dict):
            raise InvalidRecordError(f"update: fields is a dict, got {type(fields).__name__}")
        self._check_id_field(fields, kb, "update")

        def op():
            old = self._load_for_write(kb)
            new = {**old, **fields}
            return _decode(self._replace_record(kb, old, new))
        return self._write(op, single=True)

    def replace(self, record_id, record: dict) -> dict:
        """Replace the whole record (its id stays); returns the new record."""
        kb = record_id.bytes if type(record_id) is _UUID else _id_bytes(record_id)
        if not isinstance(record, dict):
            raise InvalidRecordError(f"replace: a record is a dict, got {type(record).__name__}")
        self._check_id_field(record, kb, "replace")
        new = {**record, "id": _UUID(bytes=kb)}

        def op():
            old = self._load_for_write(kb)
            return _decode(self._replace_record(kb, old, new))
        return self._write(op, single=True)

    def upsert(self, record_id, fields: dict) -> bool:
        """Merge into the record if it exists, else insert fields with this id.
        Returns True if it inserted."""
        kb = record_id.bytes if type(record_id) is _UUID else _id_bytes(record_id)
        if not isinstance(fields, dict):
            raise InvalidRecordError(f"upsert: fields is a dict, got {type(fields).__name__}")
        self._check_id_field(fields, kb, "upsert")

        def op():
            data = self._store.get(RECORDS, kb)
            if data is None:
                new = {**fields, "id": _UUID(bytes=kb)}
                encoded = _encode(new)
                entries = []
                if self._indexes:
                    entries = self._index_entries(new)
                    self._check_uniques(entries, kb)
                    self._check_key_sizes(entries)
                self._put_new(kb, encoded, entries)
                return True
            old = _decode(data)
            self._replace_record(kb, old, {**old, **fields})
            return False
        return self._write(op, single=True)

    def _delete_one(self, kb: bytes) -> bool:
        data = self._store.get(RECORDS, kb)
        if data is None:
            return False
        if self._indexes:
            old = _decode(data)
            for idx, _, prefix in self._index_entries(old):
                self._store.delete(idx.tree, prefix + kb)
        self._store.delete(RECORDS, kb)
        return True

    def delete(self, record_id) -> bool:
        """Delete the record; False if there was none (idempotent)."""
        kb = record_id.bytes if type(record_id) is _UUID else _id_bytes(record_id)
        return self._write(lambda: self._delete_one(kb), single=True)

    def delete_all(self, where=None) -> int:
        """Delete every record (or those matching `where`); returns how many."""
        where = _as_where(where)
        if where is not None:
            return self._delete_query(Query(self).where(where))

        def op():
            n = self._store.clear(RECORDS)
            for idx in self._indexes.values():
                self._store.clear(idx.tree)
            return n
        return self._write(op)

    def count(self, where=None) -> int:
        """Number of records (matching `where`)."""
        where = _as_where(where)
        with self._lock:
            self._check_open()
            if where is None:
                return self._store.count(RECORDS)
            self._refresh()
            return planner.count(self._store, self._indexes, Query(self).where(where))

    # ------------------------------------------------------------ queries

    def query(self, spec: dict | None = None) -> Query:
        """A query builder bound to this database (or a query from its plain-data spec)."""
        if spec is not None:
            return Query.from_spec(spec, self)
        # A new one each time, not one kept on self: db -> query -> db would be a
        # reference cycle, and every closed handle would wait for the cycle collector.
        return Query(self)

    def _run_query(self, q: Query) -> list:
        with self._lock:
            if self.readonly:
                self._refresh()
            return planner.run(self._store, self._indexes, q, self._eq_cache)  # closed: ClosedError

    def _count_query(self, q: Query) -> int:
        with self._lock:
            self._check_open()
            self._refresh()
            return planner.count(self._store, self._indexes, q)

    def _explain_query(self, q: Query) -> dict:
        with self._lock:
            self._check_open()
            self._refresh()
            return planner.explain(self._indexes, q)

    def _delete_query(self, q: Query) -> int:
        if q.is_aggregate:
            raise QueryError("delete() on an aggregation; delete with a plain where() query")
        q_plain = q._copy()
        q_plain.select_ = None

        def op():
            rows = planner.run(self._store, self._indexes, q_plain)
            return sum(self._delete_one(r["id"].bytes) for r in rows)
        return self._write(op)

    # ------------------------------------------------------------ indexes

    def create_index(self, fields, unique: bool = False, name: str | None = None) -> str:
        """Create (and fill) a secondary index on one path or a list of paths; returns its name."""
        fields = normalize_fields(fields)
        name = check_name(name if name is not None else "+".join(fields))
        if not isinstance(unique, bool):
            raise BlazeIndexError(f"unique must be a bool, got {unique!r}")
        idx = IndexDef(name, fields, unique)

        def op():
            if name in self._indexes:
                raise BlazeIndexError(f"an index named {name!r} already exists "
                                      f"on ({', '.join(self._indexes[name].fields)})")
            store = self._store
            entries = []
            taken: dict = {}
            for key, value in store.scan(RECORDS):
                vals = idx.values(_decode(value))
                prefix = _codec.index_key(vals)
                if idx.constrains(vals):
                    other = taken.setdefault(prefix, key)
                    if other != key:
                        raise_unique(idx, vals, other)
                entries.append(prefix + key)
            for k in entries:       # before anything is written (see _check_key_sizes)
                if len(k) > _store_mod.MAX_KEY_SIZE:
                    raise RecordTooLargeError(
                        f"index {name!r}: the values of record {_describe_id(k)} take "
                        f"{len(k) - ID_LEN} bytes as a key; with the {ID_LEN}-byte id that exceeds "
                        f"the store's key limit of {_store_mod.MAX_KEY_SIZE} bytes; nothing was created")
            if not store.create_tree(idx.tree):
                store.clear(idx.tree)   # a stray tree without catalog entry
            for k in entries:
                store.put(idx.tree, k, b"")
            ck, cv = idx.catalog_entry()
            store.put(CATALOG_TREE, ck, cv)
            self._indexes[name] = idx
            self._catalog_gen += 1
            self._eq_cache.clear()
        self._write(op)
        return name

    def drop_index(self, name: str) -> None:
        """Drop a secondary index (BlazeIndexError if there is none of that name)."""
        def op():
            if name not in self._indexes:
                known = ", ".join(map(repr, sorted(self._indexes))) or "none"
                raise BlazeIndexError(f"no index named {name!r} (indexes: {known})")
            idx = self._indexes[name]
            self._store.drop_tree(idx.tree)
            self._store.delete(CATALOG_TREE, CATALOG_PREFIX + name.encode())
            del self._indexes[name]
            self._catalog_gen += 1
            self._eq_cache.clear()
        self._write(op)

    def indexes(self) -> list[dict]:
        """[{"name", "fields", "unique"}] sorted by name."""
        with self._lock:
            self._check_open()
            self._refresh()
            return [self._indexes[n].describe() for n in sorted(self._indexes)]

    # ------------------------------------------------------------ maintenance

    def checkpoint(self) -> None:
        with self._lock:
            self._check_open()
            self._store.checkpoint()

    def stats(self) -> dict:
        with self._lock:
            self._check_open()
            out = dict(self._store.stats())
            out["records"] = self._store.count(RECORDS) if RECORDS in self._store.trees() else 0
            out["indexes"] = {n: self._store.count(i.tree) for n, i in sorted(self._indexes.items())}
            return out

    def check(self) -> dict:
        """Verify the store (pages, checksums, B+trees, free list, catalog), every record,
        and every index entry against the records. Returns a report; raises
        CorruptDatabaseError naming the first problem."""
        with self._lock:
            self._check_open()
            self._refresh()
            store = self._store
            report = {"store": store.check()}
            trees = set(store.trees())
            if RECORDS not in trees:
                report.update(records=0, indexes={})
                return report
            expected = {name: set() for name in self._indexes}
            # (index, its expected entry set), in index order.
            checks = [(idx, expected[idx.name]) for idx in self._indexes.values()]
            uniques: dict = {}
            n = 0
            scan = store.scan(RECORDS)
            while True:
                chunk = list(itertools.islice(scan, _CHECK_BATCH))
                if not chunk:
                    break
                if not _check_chunk_fast(chunk, checks, uniques):
                    _check_chunk(chunk, checks, uniques)     # raises the exact first problem
                n += len(chunk)
            report["records"] = n
            report["indexes"] = {}
            for name, idx in sorted(self._indexes.items()):
                if idx.tree not in trees:
                    raise CorruptDatabaseError(f"index {name!r}: its tree {idx.tree!r} is missing")
                want = expected[name]
                entries = list(store.scan(idx.tree))
                if not (set(map(_key_of, entries)) <= want
                        and set(map(_value_of, entries)) <= _EMPTY_VALUE):
                    _check_index_entries(name, entries, want)   # raises naming the first
                seen = len(entries)      # scan keys are distinct
                if seen != len(want):
                    missing = next(k for k in sorted(want) if store.get(idx.tree, k) is None)
                    raise CorruptDatabaseError(
                        f"index {name!r}: {len(want) - seen} entr(ies) missing, first for record "
                        f"{_describe_id(missing)}")
                report["indexes"][name] = seen
            stray = sorted(t for t in trees if t.startswith("idx:")
                           and t[4:] not in self._indexes)
            if stray:
                report["stray_trees"] = stray
            return report


# ---------------------------------------------------------------- check() helpers
#
# check() runs after every fuzz input, so a healthy database is verified with
# C-level bulk operations (map, zip, set algebra: no Python step per record);
# only when that finds something wrong does the record-by-record loop run,
# which raises the same error, for the same first record, as it always has.

_CHECK_BATCH = 512
_key_of = operator.itemgetter(0)
_value_of = operator.itemgetter(1)
_get_id = operator.methodcaller("get", "id")
_bytes_of = operator.attrgetter("bytes")
_EMPTY_VALUE = frozenset((b"",))


def _check_chunk_fast(chunk, checks, uniques) -> bool:
    """Verify a batch of (key, value) record items; update each index's expected
    entries and `uniques`. False (nothing updated) when anything looks wrong."""
    try:
        keys = list(map(_key_of, chunk))
        records = list(map(_decode, map(_value_of, chunk)))
        rids = list(map(_get_id, records))
        if not all(map(isinstance, rids, itertools.repeat(_UUID))):
            return False
        if list(map(_bytes_of, rids)) != keys:
            return False
        updates = []
        for idx, want in checks:
            vals = list(zip(*[map(g, records) for g in idx.getters]))
            prefixes = list(map(_codec.index_key, vals))
            entries = list(map(operator.add, prefixes, keys))
            taken = ()
            if idx.unique:     # IndexDef.constrains: every indexed field present
                held = list(map(operator.not_, map(operator.contains, vals,
                                                   itertools.repeat(MISSING))))
                names = list(zip(itertools.repeat(idx.name), itertools.compress(prefixes, held)))
                if len(set(names)) != len(names) or not uniques.keys().isdisjoint(names):
                    return False
                taken = zip(names, itertools.compress(keys, held))
            updates.append((want, entries, taken))
    except Exception:  # noqa: BLE001 - the record-by-record pass raises it, for the right record
        return False
    for want, entries, taken in updates:
        want.update(entries)
        uniques.update(taken)
    return True


def _check_chunk(chunk, checks, uniques) -> None:
    """Record by record: raises CorruptDatabaseError (or the decode error) for
    the first bad record, in key order."""
    for key, value in chunk:
        record = _decode(value)
        rid = record.get("id")
        if not isinstance(rid, _UUID) or rid.bytes != key:
            raise CorruptDatabaseError(
                f"records tree: key {key.hex()} holds a record whose id is {rid!r}")
        for idx, want in checks:
            vals = idx.values(record)
            prefix = _codec.index_key(vals)
            want.add(prefix + key)
            if idx.constrains(vals):
                other = uniques.setdefault((idx.name, prefix), key)
                if other != key:
                    raise CorruptDatabaseError(
                        f"unique index {idx.name!r}: records {_UUID(bytes=other)} and "
                        f"{_UUID(bytes=key)} hold the same values")


def _check_index_entries(name, entries, want) -> None:
    """Raise for the first index entry (in key order) that is stray or has a value."""
    for key, value in entries:
        if key not in want:
            raise CorruptDatabaseError(
                f"index {name!r}: stray entry {key.hex()} (record "
                f"{_describe_id(key)} has no such values)")
        if value != b"":
            raise CorruptDatabaseError(f"index {name!r}: entry {key.hex()} has a value")


def _describe_id(key: bytes) -> str:
    return str(_UUID(bytes=key[-ID_LEN:])) if len(key) >= ID_LEN else key.hex()


__all__ = ["BlazeDB"]
