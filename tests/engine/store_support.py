"""Helpers of the storage-core tests (tests/engine/test_store_*.py): a
deterministic workload of transactions on engine._store and the model state
it must leave behind."""
from __future__ import annotations

import random

from engine._native import store as native
from engine.errors import BlazeError

Store, MemFS, FaultVFS = native.Store, native.MemFS, native.FaultVFS
DB = "t.db"
TREES = ("a", "b")


def make_workload(seed: int, transactions: int, ops: int = 12) -> list[list[tuple]]:
    """Transactions of ("put", tree, key, value) / ("del", tree, key) ops."""
    rng = random.Random(seed)
    txns = []
    for t in range(transactions):
        # Every transaction starts with a put, so each one writes a commit frame.
        txn = [("put", rng.choice(TREES), b"t%03d" % t, b"txn")]
        for _ in range(rng.randrange(0, ops)):
            tree = rng.choice(TREES)
            key = b"k%03d" % rng.randrange(60)
            if rng.random() < 0.75:
                size = rng.choice((1, 20, 300, 1500, 5000))
                txn.append(("put", tree, key, bytes([t % 251]) * size))
            else:
                txn.append(("del", tree, key))
        txns.append(txn)
    return txns


def model(workload, upto: int) -> dict[str, dict[bytes, bytes]]:
    """The state after the first `upto` transactions."""
    state: dict[str, dict[bytes, bytes]] = {tree: {} for tree in TREES}
    for txn in workload[:upto]:
        for op in txn:
            if op[0] == "put":
                state[op[1]][op[2]] = op[3]
            else:
                state[op[1]].pop(op[2], None)
    return state


def apply_txn(store, txn) -> None:
    """One transaction; on failure it is rolled back and the error re-raised."""
    store.begin()
    try:
        for op in txn:
            if op[0] == "put":
                store.put(op[1], op[2], op[3])
            else:
                store.delete(op[1], op[2])
        store.commit()
    except BaseException:
        if not store.closed and store.in_transaction:
            store.rollback()
        raise


def setup_trees(store) -> None:
    store.begin()
    for tree in TREES:
        store.create_tree(tree)
    store.commit()


def state_of(store) -> dict[str, dict[bytes, bytes]]:
    return {tree: dict(store.scan(tree)) for tree in store.trees()}


def run_until_error(store, workload) -> tuple[int, BlazeError | None]:
    """Applies transactions until one fails: (how many committed, the error)."""
    for done, txn in enumerate(workload):
        try:
            apply_txn(store, txn)
        except BlazeError as error:
            return done, error
    return len(workload), None


def crash(store, vfs) -> None:
    """Drops a handle as a dying process would: nothing more reaches the files
    (every call fails), yet close() lets go of the locks."""
    vfs.fail("any", nth=1, errno="EIO", persistent=True)
    try:
        store.close()
    except BlazeError:
        pass
