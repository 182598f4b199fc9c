"""Shared helpers of the API/query/index tests (they run on the real C core)."""
from __future__ import annotations

from engine.db import BlazeDB


def memory_db(**kwargs) -> BlazeDB:
    """A fresh in-memory database (a private MemFS)."""
    return BlazeDB(None, **kwargs)


__all__ = ["BlazeDB", "memory_db"]
