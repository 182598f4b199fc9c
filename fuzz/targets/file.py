"""Fuzz target `file`: arbitrary bytes as a database file and its WAL.

Input layout: a 4-byte little-endian word, then the payload. Its low 31 bits
are `split`: the database file is payload[:split % (len(payload) + 1)] and the
WAL the rest (no WAL file when the rest is empty). Its top bit chooses how
checksums are treated:

  0  both files are resealed first: every whole page of the database file
     gets the CRC32C trailer its contents call for (engine._store.reseal_pages),
     and the WAL its header CRC, page trailers and cumulative frame CRCs
     (reseal_wal). A mutated page or frame then passes its checksum and
     exercises the header, B+tree and recovery code behind it; without this,
     almost every mutation stops at "fails its checksum" or ends the log.
  1  the bytes are used as they are: the checksum checks themselves.

Both files go into the process's MemFS; then:

  open      BlazeDB opens (recovering the WAL) or raises CorruptDatabaseError;
            any other BlazeError is a mismatch, anything else a crash.
  check     check() passes or raises CorruptDatabaseError.
  agree     if check() passed, reads (fetch_all, count, indexes, a query
            through every index) succeed and agree with one another, and a
            write + commit + check() still passes; if it failed, reads may
            raise CorruptDatabaseError but nothing else.

`encode_input(db_bytes, wal_bytes)` builds an input from two files (seeds).
`database_files(data)` gives the two files a run uses (resealed or not).
"""
from __future__ import annotations

from engine._native import store as _store
from engine.db import BlazeDB
from engine.errors import BlazeError, CorruptDatabaseError
from engine.query import F
from fuzz.oracles import OracleMismatch
from fuzz.targets import memfs

DB_FILE = "file.blazedb"
WAL_FILE = DB_FILE + "-wal"
RAW_CHECKSUMS = 1 << 31       # top bit of the header word: do not reseal


def _header_word(data: bytes) -> int:
    return int.from_bytes(data[:4].ljust(4, b"\0"), "little")


def split_input(data: bytes) -> tuple[bytes, bytes]:
    """The database file and WAL bytes as the input holds them."""
    payload = data[4:]
    split = (_header_word(data) & ~RAW_CHECKSUMS) % (len(payload) + 1)
    return payload[:split], payload[split:]


def reseals(data: bytes) -> bool:
    return not _header_word(data) & RAW_CHECKSUMS


def database_files(data: bytes) -> tuple[bytes, bytes]:
    """The database file and WAL a run of `data` opens."""
    db_bytes, wal_bytes = split_input(data)
    if not reseals(data):
        return db_bytes, wal_bytes
    return _store.reseal_pages(db_bytes), _store.reseal_wal(wal_bytes)


def encode_input(db_bytes: bytes, wal_bytes: bytes = b"", *, reseal: bool = True) -> bytes:
    word = len(db_bytes) | (0 if reseal else RAW_CHECKSUMS)
    return word.to_bytes(4, "little") + db_bytes + wal_bytes


def _reads(db) -> dict:
    """Every read path once; returns what they saw."""
    records = list(db.fetch_all())
    seen = {"records": len(records), "count": db.count(), "indexes": db.indexes()}
    for idx in seen["indexes"]:
        # exists() on the first indexed field: served by that index when the planner likes it.
        n = db.query().where(F(idx["fields"][0]).exists() | F(idx["fields"][0]).missing()).count()
        if n != len(records):
            seen["index " + idx["name"]] = n
    return seen


def _unexpected(stage: str, exc: BaseException):
    raise OracleMismatch("corrupt-open", 0, stage, "success or CorruptDatabaseError",
                         f"{type(exc).__name__}: {exc}")


def test_one_input(data: bytes) -> None:
    db_bytes, wal_bytes = database_files(data)
    fs = memfs.fresh(power_loss=False)
    fs.write_file(DB_FILE, db_bytes)
    if wal_bytes:
        fs.write_file(WAL_FILE, wal_bytes)
    try:
        db = BlazeDB(DB_FILE, vfs=fs, cache_pages=32)
    except CorruptDatabaseError:
        return
    except BlazeError as exc:
        _unexpected("open", exc)
    try:
        try:
            db.check()
            clean = True
        except CorruptDatabaseError:
            clean = False
        except BlazeError as exc:
            _unexpected("check", exc)
        try:
            seen = _reads(db)
        except CorruptDatabaseError as exc:
            if clean:
                raise OracleMismatch("check", 0, "reads", "no corruption",
                                     f"{type(exc).__name__}: {exc}", "reads after a clean check()")
            return
        except BlazeError as exc:
            _unexpected("reads", exc)
        if not clean:
            return
        if seen["count"] != seen["records"] or any(k.startswith("index ") for k in seen):
            raise OracleMismatch("check", 0, "reads", f"{seen['records']} records everywhere", seen,
                                 "reads after a clean check() disagree")
        try:
            db.insert({"probe": 1})
            db.check()
        except BlazeError as exc:
            raise OracleMismatch("check", 0, "insert", "success", f"{type(exc).__name__}: {exc}",
                                 "insert + check() after a clean check()")
    finally:
        db.close()


def describe_input(data: bytes) -> str:
    db_bytes, wal_bytes = database_files(data)
    return ("from engine._native import store\nfrom engine.db import BlazeDB\n\n"
            "fs = store.MemFS()\n"
            f"fs.write_file({DB_FILE!r}, bytes.fromhex({db_bytes.hex()!r}))\n"
            + (f"fs.write_file({WAL_FILE!r}, bytes.fromhex({wal_bytes.hex()!r}))\n" if wal_bytes else "")
            + f"db = BlazeDB({DB_FILE!r}, vfs=fs)  # CorruptDatabaseError is fine\n"
            "db.check()\nprint(list(db.fetch_all()))\ndb.close()\n")
