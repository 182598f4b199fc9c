"""Shared helpers of the API/query/index tests.

BLAZEDB_TEST_FAKE_NATIVE=1 runs them against tests/engine/fake_native.py
instead of the C core (a development aid for when the core is not built);
the default is always the real engine._store / engine._codec.
"""
from __future__ import annotations

import os
import sys
import types

if os.environ.get("BLAZEDB_TEST_FAKE_NATIVE") == "1" and "engine._native" not in sys.modules:
    from tests.engine import fake_native
    _mod = types.ModuleType("engine._native")
    _mod.store = fake_native
    _mod.codec = fake_native
    _mod.BUILD = {"flavor": "fake"}
    sys.modules["engine._native"] = _mod

from engine.db import BlazeDB  # noqa: E402


def memory_db(**kwargs) -> BlazeDB:
    return BlazeDB(None, **kwargs)
