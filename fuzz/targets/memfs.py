"""The memory file systems of a fuzzing process.

Targets run on a MemFS (no fsync per input). It is made once per process,
not per input, and emptied before each input so no state leaks between them.
A target that never simulates a power loss asks for one without synced
copies (`power_loss=False`): its syncs then copy nothing. Each kind is made
once, so targets run in one process (the tests) each get the kind they ask for.
"""
from __future__ import annotations

from engine._native import store as _store_mod

_fs: dict[bool, object] = {}


def shared(power_loss: bool = True):
    """This process's MemFS of that kind, created on first use."""
    fs = _fs.get(power_loss)
    if fs is None:
        fs = _fs[power_loss] = _store_mod.MemFS(power_loss=power_loss)
    return fs


def fresh(power_loss: bool = True):
    """This process's MemFS of that kind, emptied."""
    fs = shared(power_loss)
    for name in fs.files():
        fs.remove(name)
    return fs
