"""Writes with secondary indexes under injected I/O faults: a failed write
raises a StorageError subclass and leaves records and indexes consistent
(check() passes, the write is all there or not at all); read-only handles."""
from __future__ import annotations

import pytest

from engine._native import store as native
from engine.errors import DiskFullError, ReadOnlyError, StorageError, TransactionError
from engine.query import F
from tests.engine.api_support import BlazeDB


def fresh(fs):
    db = BlazeDB("f.db", vfs=fs)
    db.create_index("k")
    db.create_index(["g", "k"], name="gk", unique=True)
    db.insert_many([{"k": i, "g": i % 3} for i in range(30)])
    return db


@pytest.mark.chaos
@pytest.mark.parametrize("op, errno, exc", [("write", "EIO", StorageError),
                                            ("sync", "EIO", StorageError),
                                            ("write", "ENOSPC", DiskFullError)])
def test_failed_commit_leaves_records_and_indexes_consistent(op, errno, exc):
    outcomes = []
    for nth in range(1, 6):
        fs = native.FaultVFS(native.MemFS())
        db = fresh(fs)
        fs.fail(op, nth=nth, errno=errno)
        try:
            with db.transaction():
                rid = db.insert({"k": 100, "g": 1})
                db.update(rid, {"k": 101})
                db.delete_all(F("k") < 5)
        except exc:
            committed = False
        else:
            committed = True
        outcomes.append(committed)
        fs.reset()
        db.check()
        n = db.query().where(F("k") == 101).count()
        assert n == (1 if committed else 0), nth
        assert db.count() == (26 if committed else 30)
        db.insert({"k": 500, "g": 2})     # still usable once the fault is gone
        db.check()
        db.close()
    assert not all(outcomes), "the fault never hit the transaction"


def test_readonly_handle_reads_and_refuses_writes(tmp_path):
    path = str(tmp_path / "ro.blazedb")
    with BlazeDB(path) as db:
        db.create_index("k")
        db.insert_many([{"k": i} for i in range(10)])
    with BlazeDB(path, readonly=True) as ro:
        assert ro.query().where(F("k") == 3).count() == 1
        assert ro.indexes()[0]["name"] == "k"
        with pytest.raises(ReadOnlyError):
            ro.insert({"k": 1})
        ro.check()


@pytest.mark.chaos
def test_a_failed_commit_undoes_index_definitions_made_in_the_transaction():
    fs = native.FaultVFS(native.MemFS())
    db = fresh(fs)
    db.begin()
    db.create_index("z")
    db.insert({"k": 1000, "g": 0, "z": "x"})
    fs.fail("sync", nth=1, errno="EIO")
    with pytest.raises(StorageError):
        db.commit()
    fs.reset()
    assert not db.in_transaction
    with pytest.raises(TransactionError, match="without begin"):
        db.rollback()
    assert [i["name"] for i in db.indexes()] == ["gk", "k"]
    assert db.count() == 30 and db.query().where(F("z") == "x").count() == 0
    db.insert({"k": -1, "g": 0, "z": "y"})
    db.check()
    db.close()
