"""The one memory file system of a fuzzing process.

Targets run on a MemFS (no fsync per input). It is made once per process,
not per input, and emptied before each input so no state leaks between them.
"""
from __future__ import annotations

from engine._native import store as _store_mod

_fs = None


def shared():
    """This process's MemFS, created on first use."""
    global _fs
    if _fs is None:
        _fs = _store_mod.MemFS()
    return _fs


def fresh():
    """This process's MemFS, emptied."""
    fs = shared()
    for name in fs.files():
        fs.remove(name)
    return fs
