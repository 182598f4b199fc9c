"""Damaged database files whose pages still pass their checksums.

The `file` fuzz target reseals the pages and log frames it mutates
(engine._store.reseal_pages, reseal_wal), so its inputs reach the code behind
the checksums. Each finding is kept here as
a regression test, built from the smallest damage that shows it: opening such a
file works or raises CorruptDatabaseError naming the problem, never anything else.
"""
from __future__ import annotations

import struct
import uuid

import pytest

from engine._native import codec, store
from engine.db import RECORDS, BlazeDB
from engine.errors import CorruptDatabaseError
from engine.indexes import CATALOG_TREE

DB = "damaged.blazedb"
WAL = DB + "-wal"
PAGE = store.PAGE_SIZE
WAL_HEADER, FRAME = 32, 24 + PAGE       # engine/doc/wal_format.md


def database_image(fill) -> bytes:
    """The bytes of a checkpointed database after `fill(db)`."""
    fs = store.MemFS()
    db = BlazeDB(DB, vfs=fs)
    fill(db)
    db.checkpoint()
    db.close()
    return fs.read_file(DB)


def logged_database(fill) -> tuple[bytes, bytes]:
    """The database file and its log after `fill(db)`, with no checkpoint:
    the newest pages are in the log only."""
    fs = store.MemFS()
    db = BlazeDB(DB, vfs=fs, checkpoint_pages=100_000)
    fill(db)
    files = fs.read_file(DB), fs.read_file(WAL)
    db._store = None                                     # abandon without close(): no checkpoint
    return files


def memfs_with(image: bytes, wal: bytes | None = None):
    fs = store.MemFS()
    fs.write_file(DB, image)
    if wal is not None:
        fs.write_file(WAL, wal)
    return fs


def opened(image: bytes, wal: bytes | None = None) -> BlazeDB:
    return BlazeDB(DB, vfs=memfs_with(image, wal))


# ---------------------------------------------------------------- reseal_pages


def test_reseal_pages_makes_a_flipped_byte_pass_its_checksum():
    image = database_image(lambda db: db.insert({"a": 1}))
    assert len(image) % PAGE == 0 and len(image) >= 2 * PAGE
    damaged = bytearray(image)
    damaged[PAGE + 100] ^= 0x01               # a byte inside page 1, not its trailer
    with pytest.raises(CorruptDatabaseError, match="page 1 fails its checksum"):
        opened(bytes(damaged)).check()
    resealed = store.reseal_pages(bytes(damaged))
    assert resealed[:PAGE + PAGE - 4] == bytes(damaged[:PAGE + PAGE - 4])   # only trailers change
    assert store.reseal_pages(image) == image                                 # a sound file is unchanged
    try:
        opened(resealed).check()
    except CorruptDatabaseError as exc:
        assert "checksum" not in str(exc)     # whatever is wrong now lies behind the checksum


def test_reseal_pages_takes_any_buffer_and_leaves_a_partial_page_alone():
    image = database_image(lambda db: None)
    tail = b"\x07" * 10
    for kind in (bytes, bytearray, memoryview):
        assert store.reseal_pages(kind(image + tail)) == image + tail
    assert store.reseal_pages(b"") == b""
    with pytest.raises(TypeError):
        store.reseal_pages("not bytes")


# ---------------------------------------------------------------- findings


def test_records_tree_whose_last_key_is_not_a_record_id():
    """Found by the file target: open read the last key of the records tree as a
    UUID and failed with ValueError ("bytes is not a 16-char string")."""
    def fill(db):
        db.insert({"a": 1})
        db._store.put(RECORDS, b"\xff\xff\xff", codec.encode({"id": uuid.uuid4()}))
    image = database_image(fill)
    with pytest.raises(CorruptDatabaseError, match="records tree: its last key ffffff is 3 bytes, "
                                                   "not a 16-byte record id"):
        opened(image)


def test_header_page_count_beyond_the_file_and_its_log():
    """Found by the file target: a resealed header claiming 2,597,300,485 pages
    opened, and close() then failed with DiskFullError ("File too large") when
    the checkpoint grew the file to match. (Found again through a log frame
    for page 2^31: every page beyond the file must be in the log, not just
    the highest one.)"""
    image = bytearray(database_image(lambda db: db.insert({"a": 1})))
    pages = len(image) // PAGE
    assert struct.unpack_from("<I", image, 16) == (pages,)
    struct.pack_into("<I", image, 16, 2_597_300_485)
    with pytest.raises(CorruptDatabaseError, match=f"header page 0: page count 2597300485, but "
                                                   f"{2_597_300_485 - pages} of its pages are neither "
                                                   f"in the file nor in its log"):
        opened(store.reseal_pages(bytes(image)))
    struct.pack_into("<I", image, 16, pages + 1)          # one page too many is caught as well
    with pytest.raises(CorruptDatabaseError, match="but 1 of its pages"):
        opened(store.reseal_pages(bytes(image)))
    struct.pack_into("<I", image, 16, pages)              # the true count opens
    opened(store.reseal_pages(bytes(image))).close()


def test_pages_still_in_the_log_count_as_held():
    """A database whose newest pages live only in the log (no checkpoint yet)
    has a page count beyond its file's size, and that is sound."""
    image, wal = logged_database(      # new pages, all in the log
        lambda db: db.insert_many([{"n": i, "pad": "x" * 500} for i in range(40)]))
    reopened = opened(image, wal)
    assert reopened.count() == 40 and reopened.check()["records"] == 40
    assert reopened._store.stats()["pages"] > -(-len(image) // PAGE)
    reopened.close()


@pytest.mark.parametrize("entry", [
    {"name": "ix", "fieldw": ["a"], "unique": False, "tree": "idx:ix"},        # the finding: a renamed key
    {"name": "ix", "fields": "a", "unique": False, "tree": "idx:ix"},
    {"name": "ix", "fields": ["a"], "unique": 0, "tree": "idx:ix"},
    {"name": "ix", "fields": ["a"], "unique": False, "tree": "idx:other"},
    {"name": "other", "fields": ["a"], "unique": False, "tree": "idx:other"},  # not the name in its key
    {"name": "ix", "fields": ["a", "a"], "unique": False, "tree": "idx:ix"},
    {"name": "ix", "fields": [], "unique": False, "tree": "idx:ix"},
])
def test_catalog_entry_that_is_no_index_definition(entry):
    """Found by the file target: a catalog entry missing "fields" failed open with KeyError."""
    def fill(db):
        db.create_index(["a"], name="ix")
        db._store.put(CATALOG_TREE, b"index:ix", codec.encode(entry))
    with pytest.raises(CorruptDatabaseError, match=r"catalog entry b'index:ix' is not an index definition"):
        opened(database_image(fill))


def test_catalog_entry_that_is_no_record():
    def fill(db):
        db.create_index(["a"], name="ix")
        db._store.put(CATALOG_TREE, b"index:ix", b"\x00garbage")
    with pytest.raises(CorruptDatabaseError):
        opened(database_image(fill))


def test_reseal_wal_makes_a_damaged_frame_count_again():
    """A flipped byte in a committed frame ends recovery there (the transaction
    is lost); resealed, the frame verifies and its content is what recovery sees."""
    image, wal = logged_database(lambda db: db.insert({"a": 1}))
    assert store.reseal_wal(wal) == wal                  # a sound log is unchanged
    damaged = bytearray(wal)
    damaged[WAL_HEADER + 24 + 200] ^= 0x01               # page image of the first frame
    damaged[WAL_HEADER + FRAME + 10] ^= 0x01             # txn id of the second frame: recovery judges it

    def frames_recovered(log: bytes) -> int:
        s = store.Store(DB, vfs=memfs_with(image, log))
        try:
            return s.stats()["wal_frames"]
        finally:
            s.close()

    assert frames_recovered(wal) > 0 and frames_recovered(bytes(damaged)) == 0
    resealed = store.reseal_wal(bytes(damaged))
    assert len(resealed) == len(wal) and resealed[WAL_HEADER + 10] == damaged[WAL_HEADER + 10]
    assert frames_recovered(resealed) == 0               # checksums fixed; the broken txn id still ends it
    damaged[WAL_HEADER + FRAME + 10] ^= 0x01             # restore the txn id: only the page is damaged now
    assert frames_recovered(bytes(damaged)) == 0 and frames_recovered(store.reseal_wal(bytes(damaged))) > 0
    assert store.reseal_wal(b"short") == b"short"


def _log_with_extra_transaction(wal: bytes, pgno: int, commit: int) -> bytes:
    """The log plus one single-frame transaction for page `pgno` committing
    `commit` pages, resealed so that only the recovery rules judge it."""
    salt1 = struct.unpack_from("<I", wal, 16)[0]
    txns = [struct.unpack_from("<Q", wal, off + 8)[0] for off in range(WAL_HEADER, len(wal) - FRAME + 1, FRAME)]
    frame = struct.pack("<IIQII", pgno, commit, max(txns, default=0) + 1, salt1, 0) + bytes(PAGE)
    return store.reseal_wal(wal + frame)


def test_log_committing_a_page_beyond_the_page_count():
    """Found by the file target once logs were resealed: a one-frame transaction
    for page 4,294,967,043 (its commit count 2^32 - 1, no header frame) was
    recovered, and close() failed with DiskFullError checkpointing it into place."""
    image, wal = logged_database(lambda db: db.insert({"a": 1}))
    opened(image, store.reseal_wal(wal)).close()                           # the log as written is sound
    damaged = _log_with_extra_transaction(wal, 4_294_967_043, 4_294_967_295)
    with pytest.raises(CorruptDatabaseError, match=r"page count \d+, but the log holds 1 page\(s\) beyond it"):
        opened(image, damaged)


def test_log_of_pages_without_any_header_beside_an_empty_file():
    """Found by the file target: an empty database file with a log committing
    pages up to 291,501 and no header page opened as a new database; close()
    then tried to grow the memory file to 2 GB (libFuzzer: out-of-memory)."""
    _, wal = logged_database(lambda db: None)
    header_only = wal[:WAL_HEADER]
    damaged = _log_with_extra_transaction(header_only, 291_501, 327_680)
    with pytest.raises(CorruptDatabaseError, match=r"page count 1, but the log holds 1 page\(s\) beyond it"):
        opened(b"", damaged)
    opened(b"", header_only).close()                                       # an empty log is a new database
