"""Transactions and integrity: a rollback restores the database exactly, a
failed write changes nothing, and check() passes after any history."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import BlazeError
from tests.property import engine_ops
from tests.property.reference import MemDisk, assert_same_state, memdb, open_memdb, snapshot
from tests.property.strategies import examples

pytestmark = pytest.mark.property

HISTORY = st.lists(engine_ops.OPS, max_size=12)


class _Abort(Exception):
    pass


@settings(max_examples=examples(1.0, ci=160))
@given(setup=HISTORY, inside=st.lists(engine_ops.OPS, min_size=1, max_size=10),
       how=st.sampled_from(["rollback", "exception", "close"]))
def test_a_rolled_back_transaction_leaves_the_database_exactly_as_before(setup, inside, how):
    """Records, index definitions and entries, count and check(): all as before,
    also after reopening (nothing of the transaction reached the file)."""
    disk = MemDisk()
    db = open_memdb(disk)
    try:
        ids = []
        for op in setup:
            engine_ops.apply(db, op, ids)
        before = snapshot(db)
        if how == "exception":
            with pytest.raises(_Abort):
                with db.transaction():
                    for op in inside:
                        engine_ops.apply(db, op, ids)
                    raise _Abort
        else:
            db.begin()
            for op in inside:
                engine_ops.apply(db, op, ids)
            assert db.in_transaction
            if how == "close":
                db.close()
                db = open_memdb(disk)
            else:
                db.rollback()
        assert not db.in_transaction
        assert_same_state(before, snapshot(db))
    finally:
        db.close()
    with memdb(disk) as db:
        assert_same_state(before, snapshot(db))


@settings(max_examples=examples(1.0, ci=160))
@given(history=HISTORY, in_txn=st.booleans())
def test_a_failed_write_changes_nothing(history, in_txn):
    """Every op that raises a documented error leaves the observable state as it was."""
    with memdb() as db:
        ids = []
        if in_txn:
            db.begin()
        for op in history:
            before = snapshot(db)
            if isinstance(engine_ops.apply(db, op, ids), type) and op[0] != "count":
                assert_same_state(before, snapshot(db))
        if in_txn:
            db.commit()
        db.check()


@settings(max_examples=examples(1.0, ci=160))
@given(history=st.lists(st.one_of(engine_ops.OPS, st.just(("reopen",)), st.just(("begin",)),
                                  st.just(("commit",)), st.just(("rollback",))), max_size=20))
def test_check_passes_after_any_operation_sequence(history):
    disk = MemDisk()
    db = open_memdb(disk)
    try:
        ids = []
        for op in history:
            if op[0] == "reopen":
                db.close()
                db = open_memdb(disk)
            elif op[0] in ("begin", "commit", "rollback"):
                try:
                    getattr(db, op[0])()
                except BlazeError:
                    pass
            else:
                engine_ops.apply(db, op, ids)
            report = db.check()
            assert report["records"] == db.count()
            assert all(n == report["records"] for n in report["indexes"].values()), report
            assert set(report["indexes"]) == {i["name"] for i in db.indexes()}
    finally:
        db.close()
