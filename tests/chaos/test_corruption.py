"""Chaos: bit flips and overwritten pages in the database file and in its log.

Every page carries a CRC32C, so damage inside the main file is always found:
reading or check() raises CorruptDatabaseError naming the damaged page, and
never returns a wrong answer or crashes. Damage in the log is a torn tail:
recovery keeps the committed transactions before it and drops the rest.
"""
from __future__ import annotations

import random

import pytest

from engine import BlazeDB, CorruptDatabaseError

from ..scale import scaled
from .workload import (MemFS, actual_state, apply_txn, assert_state, committed_prefix,
                       expected_state, make_workload)

pytestmark = pytest.mark.chaos

PAGE = 4096
WORKLOAD = make_workload(seed=88, transactions=10, ops_per_txn=6)
FULL = expected_state(WORKLOAD, len(WORKLOAD))


def _checkpointed_files() -> bytes:
    fs = MemFS()
    with BlazeDB("db", vfs=fs) as db:
        for txn in WORKLOAD:
            apply_txn(db, txn)
    main = fs.read_file("db")
    with _open_and_read_all(main) as db:      # close() checkpointed: the main file alone is whole
        assert_state(db, FULL)
    return main


def _files_with_wal() -> tuple[bytes, bytes]:
    """The main file and a log holding every transaction (no checkpoint yet)."""
    fs = MemFS()
    db = BlazeDB("db", vfs=fs, checkpoint_pages=1_000_000)
    for txn in WORKLOAD:
        apply_txn(db, txn)
    main, wal = fs.read_file("db"), fs.read_file("db-wal")
    db.close()
    return main, wal


def _open_and_read_all(main: bytes, wal: bytes | None = None):
    fs = MemFS()
    fs.write_file("db", main)
    if wal is not None:
        fs.write_file("db-wal", wal)
    db = BlazeDB("db", vfs=fs)
    return db


def _assert_damage_reported(main: bytes, page: int) -> None:
    try:
        db = _open_and_read_all(main)
        try:
            state = actual_state(db)
            db.check()
        finally:
            db.close()
    except CorruptDatabaseError as error:
        assert error.page == page, f"damage in page {page} reported as page {error.page}: {error}"
        assert str(page) in str(error)
        return
    raise AssertionError(f"damage in page {page} went unnoticed ({len(state)} records read)")


def test_every_bit_flip_in_the_main_file_is_reported_with_its_page():
    main = _checkpointed_files()
    assert len(main) % PAGE == 0
    rng = random.Random(1)
    for _ in range(scaled(80)):
        offset = rng.randrange(len(main))
        damaged = bytearray(main)
        damaged[offset] ^= 1 << rng.randrange(8)
        _assert_damage_reported(bytes(damaged), offset // PAGE)


@pytest.mark.parametrize("fill", ["zeros", "random", "other-page"])
def test_every_overwritten_page_is_reported(fill):
    main = _checkpointed_files()
    pages = len(main) // PAGE
    rng = random.Random(hash(fill) & 0xFFFF)
    for page in range(pages):
        damaged = bytearray(main)
        if fill == "zeros":
            replacement = bytes(PAGE)
        elif fill == "random":
            replacement = rng.randbytes(PAGE)
        else:           # a valid page in the wrong place: its checksum must bind it to its number
            other = (page + 1) % pages
            replacement = main[other * PAGE:(other + 1) * PAGE]
        if replacement == main[page * PAGE:(page + 1) * PAGE]:
            continue
        damaged[page * PAGE:(page + 1) * PAGE] = replacement
        _assert_damage_reported(bytes(damaged), page)


def test_truncated_main_file_is_reported():
    main = _checkpointed_files()
    for cut in (1, PAGE - 1, PAGE, len(main) - PAGE, len(main) - 1):
        with pytest.raises(CorruptDatabaseError):
            db = _open_and_read_all(main[:cut])
            try:
                actual_state(db)
                db.check()
            finally:
                db.close()


def test_bit_flips_in_the_log_drop_the_torn_tail_only():
    main, wal = _files_with_wal()
    assert wal, "the log should hold the uncheckpointed transactions"
    rng = random.Random(2)
    seen_prefixes = set()
    for _ in range(scaled(60)):
        offset = rng.randrange(len(wal))
        damaged = bytearray(wal)
        damaged[offset] ^= 1 << rng.randrange(8)
        with _open_and_read_all(main, bytes(damaged)) as db:
            seen_prefixes.add(committed_prefix(db, WORKLOAD, range(len(WORKLOAD), -1, -1)))
    assert len(seen_prefixes) > 1, "flips at different log offsets should cut at different commits"


def test_truncated_log_keeps_every_whole_transaction_before_the_cut():
    main, wal = _files_with_wal()
    previous = 0
    for cut in range(0, len(wal) + 1, max(1, len(wal) // scaled(40))):
        with _open_and_read_all(main, wal[:cut]) as db:
            k = committed_prefix(db, WORKLOAD, range(len(WORKLOAD), -1, -1))
        assert k >= previous, "a longer log can only hold more committed transactions"
        previous = k
    with _open_and_read_all(main, wal) as db:
        assert_state(db, FULL)


def test_recovery_is_idempotent():
    main, wal = _files_with_wal()
    fs = MemFS()
    fs.write_file("db", main)
    fs.write_file("db-wal", wal)
    for _ in range(3):
        with BlazeDB("db", vfs=fs) as db:
            assert_state(db, FULL)
