"""engine._store against a dict model: random transactions, rollbacks,
checkpoints, clean reopens and power losses, with fixed seeds. After every
reopen the store holds exactly what was committed, and check() passes."""
from __future__ import annotations

import random

import pytest

from tests.engine.store_support import DB, FaultVFS, MemFS, Store, state_of

pytestmark = pytest.mark.chaos


def open_store(vfs, rng):
    return Store(DB, vfs=vfs, checkpoint_pages=rng.choice((8, 40, 1000)),
                 cache_pages=rng.choice((16, 64, 2048)))


@pytest.mark.parametrize("seed", range(6))
def test_random_histories_match_the_model(seed):
    rng = random.Random(seed)
    fs = MemFS()
    vfs = FaultVFS(fs)
    store = open_store(vfs, rng)
    committed: dict[str, dict[bytes, bytes]] = {}
    for step in range(120):
        action = rng.random()
        if action < 0.70:                                   # a transaction
            pending = {t: dict(kv) for t, kv in committed.items()}
            store.begin()
            for _ in range(rng.randrange(1, 25)):
                tree = rng.choice(("x", "y", "z"))
                if tree not in pending:
                    store.create_tree(tree)
                    pending[tree] = {}
                key = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 12)))
                if rng.random() < 0.7:
                    value = bytes([step % 256]) * rng.choice((0, 7, 200, 2000, 6000, 30000))
                    store.put(tree, key, value)
                    pending[tree][key] = value
                else:
                    store.delete(tree, key)
                    pending[tree].pop(key, None)
            if rng.random() < 0.8:
                store.commit()
                committed = pending
            else:
                store.rollback()
            assert state_of(store) == committed
        elif action < 0.80:                                  # the machine loses power
            vfs.fail("any", nth=1, errno="EIO", persistent=True)
            try:
                store.close()
            except Exception:
                pass
            vfs.power_loss()
            store = open_store(vfs, rng)
            assert state_of(store) == committed, f"seed {seed} step {step}: after power loss"
        elif action < 0.90:                                  # a clean reopen
            store.close()
            store = open_store(vfs, rng)
            assert state_of(store) == committed, f"seed {seed} step {step}: after reopen"
        else:
            store.checkpoint()
        if step % 20 == 0:
            store.check()
    store.check()
    store.close()
