"""Chaos: read-only databases and read-only file systems (EROFS)."""
from __future__ import annotations

import uuid

import pytest

from engine import BlazeDB, BlazeError, ReadOnlyError

from .workload import FaultVFS, MemFS, apply_txn, assert_state, expected_state, make_workload

pytestmark = pytest.mark.chaos

WORKLOAD = make_workload(seed=55, transactions=6)
FULL = expected_state(WORKLOAD, len(WORKLOAD))


def _filled(fs) -> None:
    with BlazeDB("db", vfs=fs) as db:
        for txn in WORKLOAD:
            apply_txn(db, txn)


WRITES = {
    "insert": lambda db, rid: db.insert({"n": 1}),
    "insert_many": lambda db, rid: db.insert_many([{"n": 1}, {"n": 2}]),
    "update": lambda db, rid: db.update(rid, {"n": 2}),
    "replace": lambda db, rid: db.replace(rid, {"n": 3}),
    "upsert": lambda db, rid: db.upsert(uuid.uuid4(), {"n": 4}),
    "delete": lambda db, rid: db.delete(rid),
    "delete_all": lambda db, rid: db.delete_all(),
    "create_index": lambda db, rid: db.create_index("name"),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_readonly_database_reads_and_refuses_every_write(write):
    fs = MemFS()
    _filled(fs)
    before = {name: fs.read_file(name) for name in fs.files()}
    with BlazeDB("db", vfs=fs, readonly=True) as db:
        assert_state(db, FULL)
        some_id = next(iter(FULL))
        with pytest.raises(ReadOnlyError):
            WRITES[write](db, some_id)
        assert_state(db, FULL)
    assert {name: fs.read_file(name) for name in fs.files()} == before, "a read-only handle wrote"


def test_readonly_open_of_a_missing_database_is_a_clear_error():
    with pytest.raises(BlazeError) as caught:
        BlazeDB("absent.db", vfs=MemFS(), readonly=True)
    assert "absent.db" in str(caught.value)


def test_read_only_file_system_refuses_writes_and_keeps_reads():
    fs = MemFS()
    _filled(fs)
    vfs = FaultVFS(fs)
    with BlazeDB("db", vfs=vfs) as db:
        vfs.fail("write", nth=1, errno="EROFS", persistent=True)
        vfs.fail("truncate", nth=1, errno="EROFS", persistent=True)
        with pytest.raises(ReadOnlyError):
            db.insert({"n": 1})
        assert_state(db, FULL)                     # reads still work, nothing half-written
        vfs.reset()                                # remounted read-write
        rid = db.insert({"n": 1})
        assert db.fetch(rid)["n"] == 1
