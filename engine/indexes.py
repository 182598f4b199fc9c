"""Secondary indexes: definitions, catalog entries and index keys.

Layout (engine/doc/semantics.md §8):
  tree "catalog":     b"index:" + name  ->  codec.encode({"name", "fields", "unique", "tree"})
  tree "idx:<name>":  index_key(values) + id.bytes  ->  b""

Every record has exactly one entry in every index, MISSING values included,
so an index scan sees every record and `check()` can compare an index with
the records tree entry by entry. `index_key` is canonical (values equal in
the total order give equal bytes), so the entries of one value tuple are
exactly the keys with prefix `index_key(values)` followed by 16 id bytes.
"""
from __future__ import annotations

import functools

from engine._native import codec as _codec
from engine.errors import BlazeIndexError, CorruptDatabaseError, QueryError, UniqueConstraintError
from engine.semantics import make_getter, parse_path
from engine.types import MISSING

CATALOG_TREE = "catalog"
CATALOG_PREFIX = b"index:"
TREE_PREFIX = "idx:"
ID_LEN = 16
MAX_NAME = 100

_index_key = _codec.index_key


class IndexDef:
    """One secondary index: its paths, uniqueness and the tree holding its entries."""

    __slots__ = ("_single", "fields", "getters", "name", "tree", "unique")

    def __init__(self, name: str, fields: tuple, unique: bool):
        self.name = name
        self.fields = fields
        self.unique = unique
        self.tree = TREE_PREFIX + name
        self.getters = tuple(make_getter(f) for f in fields)
        self._single = self.getters[0] if len(self.getters) == 1 else None

    def values(self, record: dict) -> tuple:
        if self._single is not None:
            return (self._single(record),)
        return tuple(g(record) for g in self.getters)

    def prefix(self, record: dict) -> bytes:
        """index_key of the record's values: the entry key without the id."""
        return _index_key(self.values(record))

    def constrains(self, values: tuple) -> bool:
        """Whether the unique constraint applies: every indexed field present."""
        return self.unique and MISSING not in values

    def describe(self) -> dict:
        return {"name": self.name, "fields": list(self.fields), "unique": self.unique}

    def catalog_entry(self) -> tuple[bytes, bytes]:
        value = _codec.encode({"name": self.name, "fields": list(self.fields),
                               "unique": self.unique, "tree": self.tree})
        return CATALOG_PREFIX + self.name.encode(), value

    @classmethod
    def from_catalog(cls, key: bytes, value: bytes) -> IndexDef:
        """The index a catalog entry describes; CorruptDatabaseError naming the
        entry when it is not one `catalog_entry` could have written."""
        return _from_catalog(key, value)

    def __repr__(self):
        return f"IndexDef({self.name!r}, {self.fields!r}, unique={self.unique})"


# Every open parses every catalog entry again (and the fuzz targets reopen
# several times per input); an IndexDef never changes once made, so one made
# from the same entry bytes is shared. Failures are not cached: they raise.
@functools.lru_cache(maxsize=256)
def _from_catalog(key: bytes, value: bytes) -> IndexDef:
    d = _codec.decode(value)      # CorruptRecordError for bytes that are no record
    try:
        name, fields, unique = d["name"], d["fields"], d["unique"]
        well_formed = (set(d) == {"name", "fields", "unique", "tree"}
                       and isinstance(fields, list) and isinstance(unique, bool)
                       and key == CATALOG_PREFIX + check_name(name).encode()
                       and d["tree"] == TREE_PREFIX + name)
        idx = IndexDef(name, normalize_fields(fields), unique) if well_formed else None
    except (KeyError, TypeError, BlazeIndexError, QueryError):
        idx = None
    if idx is None:
        raise CorruptDatabaseError(f"catalog entry {key[:120]!r} is not an index definition: {d!r:.200}")
    return idx


def normalize_fields(fields) -> tuple:
    if isinstance(fields, str):
        fields = (fields,)
    if not isinstance(fields, (list, tuple)) or not fields:
        raise BlazeIndexError(f"index fields must be a path or a non-empty list of paths, got {fields!r}")
    out = []
    for f in fields:
        try:
            parse_path(f)
        except QueryError as exc:  # -> the index API's own error class
            raise BlazeIndexError(f"bad index field: {exc}") from None
        if f in out:
            raise BlazeIndexError(f"index field {f!r} listed twice")
        out.append(f)
    return tuple(out)


def check_name(name) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_NAME or not name.isprintable():
        raise BlazeIndexError(f"an index name is 1..{MAX_NAME} printable characters, got {name!r}")
    return name


def successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with `prefix`
    (None: there is none, scan to the end)."""
    p = prefix.rstrip(b"\xff")
    if not p:
        return None
    return p[:-1] + bytes([p[-1] + 1])


def unique_violation(store, idx: IndexDef, prefix: bytes, own_id: bytes) -> bytes | None:
    """The id of another record holding `prefix` in unique index `idx`, or None."""
    stop = successor(prefix)
    for key, _ in store.scan(idx.tree, prefix, stop):
        if len(key) == len(prefix) + ID_LEN and key[-ID_LEN:] != own_id:
            return key[-ID_LEN:]
    return None


def raise_unique(idx: IndexDef, values: tuple, other_id: bytes):
    import uuid
    shown = ", ".join(f"{f}={v!r}" for f, v in zip(idx.fields, values))
    raise UniqueConstraintError(
        f"unique index {idx.name!r} already holds {shown} (record {uuid.UUID(bytes=other_id)}); "
        "nothing was changed")
