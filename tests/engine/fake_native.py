"""A dict-backed stand-in for engine._store and engine._codec (CONTRACTS.md §1, §2).

Used by the API tests only while the C core is not built; `conftest` picks the
real modules whenever they import. It follows the contracts closely enough
for the document layer: sorted byte-keyed trees, snapshot transactions,
scans that survive modification, and an order-preserving index_key that meets
engine/doc/semantics.md §7.
"""
from __future__ import annotations

import bisect
import datetime as dt
import math
import pickle
import struct
import uuid

from engine.errors import ClosedError, InvalidRecordError, TransactionError
from engine.types import MISSING, Vector

# ------------------------------------------------------------------ codec

FORMAT_VERSION = 0
MAX_RECORD_SIZE = 16 << 20
MAX_DEPTH = 64
MAX_FIELD_NAME = 255
MAX_ARRAY_LEN = 1 << 20


def _norm(v, depth=0):
    if depth > MAX_DEPTH:
        raise InvalidRecordError("too deep")
    t = type(v)
    if v is None or t in (str, float, bool, bytes):
        return v
    if t is int:
        if not -(1 << 63) <= v < (1 << 63):
            raise InvalidRecordError(f"int {v} out of range")
        return v
    if t in (bytearray, memoryview):
        return bytes(v)
    if t in (list, tuple):
        return [_norm(x, depth + 1) for x in v]
    if t is dict:
        for k in v:
            if type(k) is not str:
                raise InvalidRecordError(f"key {k!r}")
        return {k: _norm(v[k], depth + 1) for k in sorted(v)}
    if isinstance(v, uuid.UUID) or isinstance(v, Vector):
        return v
    if isinstance(v, dt.datetime):
        if v.utcoffset() is None:
            raise InvalidRecordError("naive datetime")
        return v.astimezone(dt.timezone.utc)
    raise InvalidRecordError(f"type {type(v).__name__}")


def encode(record):
    if type(record) is not dict:
        raise InvalidRecordError("record must be a dict")
    return pickle.dumps(_norm(record))


def decode(data):
    return pickle.loads(data)


def _f64(f: float) -> bytes:
    (bits,) = struct.unpack(">Q", struct.pack(">d", f))
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
    return bits.to_bytes(8, "big")


def _num(v) -> bytes:
    if v != v:
        return b"\x05"
    if type(v) is float:
        return b"\x06" + _f64(v + 0.0) + bytes(8)
    f = float(v)
    if f > v:
        f = math.nextafter(f, -math.inf)
    return b"\x06" + _f64(f + 0.0) + (v - int(f)).to_bytes(8, "big")


def _esc(b: bytes) -> bytes:
    return b.replace(b"\x00", b"\x00\xff") + b"\x00\x00"


def _key(v) -> bytes:
    if v is MISSING:
        return b"\x01"
    if v is None:
        return b"\x02"
    t = type(v)
    if t is bool:
        return b"\x04" if v else b"\x03"
    if t is int or t is float:
        return _num(v)
    if t is str:
        return b"\x07" + _esc(v.encode("utf-8", "surrogatepass"))
    if t in (bytes, bytearray, memoryview):
        return b"\x08" + _esc(bytes(v))
    if isinstance(v, dt.datetime):
        d = v - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        us = (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds
        return b"\x09" + (us + (1 << 63)).to_bytes(8, "big")
    if isinstance(v, uuid.UUID):
        return b"\x0a" + v.bytes
    if isinstance(v, Vector):
        return b"\x0b" + b"".join(b"\x01" + _num(x) for x in v) + b"\x00"
    if t in (list, tuple):
        return b"\x0c" + b"".join(_key(x) for x in v) + b"\x00"
    if t is dict:
        return b"\x0d" + b"".join(b"\x01" + _esc(k.encode("utf-8", "surrogatepass")) + _key(v[k])
                                  for k in sorted(v)) + b"\x00"
    raise InvalidRecordError(f"type {type(v).__name__}")


def index_key(values: tuple) -> bytes:
    return b"".join(_key(v) for v in values)


# ------------------------------------------------------------------ store

class MemFS:
    def __init__(self):
        self.dbs: dict = {}


class _Tree:
    __slots__ = ("keys", "data")

    def __init__(self):
        self.keys: list = []
        self.data: dict = {}

    def copy(self):
        t = _Tree()
        t.keys = list(self.keys)
        t.data = dict(self.data)
        return t


class Store:
    def __init__(self, path, *, vfs=None, readonly=False, create=True, lock_timeout=0.0,
                 checkpoint_pages=1000, cache_pages=2048):
        fs = vfs if vfs is not None else _OS
        self._trees = fs.dbs.setdefault(path, {})
        self._snapshot = None
        self.closed = False
        self.readonly = readonly

    def _open(self):
        if self.closed:
            raise ClosedError("store is closed")

    @property
    def in_transaction(self):
        return self._snapshot is not None

    def begin(self):
        self._open()
        if self._snapshot is not None:
            raise TransactionError("nested begin")
        self._snapshot = {n: t.copy() for n, t in self._trees.items()}

    def commit(self):
        self._open()
        if self._snapshot is None:
            raise TransactionError("commit without begin")
        self._snapshot = None

    def rollback(self):
        self._open()
        if self._snapshot is None:
            raise TransactionError("rollback without begin")
        self._trees.clear()
        self._trees.update(self._snapshot)
        self._snapshot = None

    def create_tree(self, name):
        self._open()
        if name in self._trees:
            return False
        self._trees[name] = _Tree()
        return True

    def drop_tree(self, name):
        self._open()
        return self._trees.pop(name, None) is not None

    def trees(self):
        self._open()
        return sorted(self._trees)

    def _t(self, name):
        self._open()
        try:
            return self._trees[name]
        except KeyError:
            raise KeyError(name) from None

    def get(self, tree, key):
        return self._t(tree).data.get(bytes(key))

    def put(self, tree, key, value):
        t = self._t(tree)
        key = bytes(key)
        if key not in t.data:
            bisect.insort(t.keys, key)
            t.data[key] = bytes(value)
            return False
        t.data[key] = bytes(value)
        return True

    def delete(self, tree, key):
        t = self._t(tree)
        key = bytes(key)
        if key not in t.data:
            return False
        del t.data[key]
        t.keys.pop(bisect.bisect_left(t.keys, key))
        return True

    def scan(self, tree, start=None, stop=None, *, reverse=False, include_start=True,
             include_stop=False):
        self._t(tree)
        if reverse:
            raise NotImplementedError("reverse scans are not faked")
        last = None
        while True:
            t = self._t(tree)
            if last is None:
                if start is None:
                    i = 0
                else:
                    i = (bisect.bisect_left if include_start else bisect.bisect_right)(t.keys, start)
            else:
                i = bisect.bisect_right(t.keys, last)
            if i >= len(t.keys):
                return
            k = t.keys[i]
            if stop is not None and (k > stop or (k == stop and not include_stop)):
                return
            last = k
            yield k, t.data[k]

    def count(self, tree):
        return len(self._t(tree).keys)

    def clear(self, tree):
        t = self._t(tree)
        n = len(t.keys)
        t.keys.clear()
        t.data.clear()
        return n

    def checkpoint(self):
        self._open()

    def check(self):
        self._open()
        return {"trees": len(self._trees)}

    def stats(self):
        self._open()
        return {"pages": 0}

    def close(self):
        if self._snapshot is not None:
            self.rollback()
        self.closed = True


_OS = MemFS()
