"""Chaos: the wall clock jumps backwards and forwards while records are written.

The engine reads the clock for one thing, the time part of new record ids
(UUIDv7, engine/ids.py). Whatever the clock does, ids stay unique and strictly
increasing (also across close and reopen), so id order stays insertion order;
date values are stored exactly as given and sort by instant.
"""
from __future__ import annotations

import datetime as dt
import random

import pytest

from engine import BlazeDB, F

from ..scale import scaled
from .workload import MemFS

pytestmark = pytest.mark.chaos

DAY = 86400.0


class JumpingClock:
    """A wall clock that a test can throw around."""

    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        self.now += 0.0001
        return self.now

    def jump(self, seconds: float) -> None:
        self.now = max(0.0, self.now + seconds)


def _date(i: int) -> dt.datetime:
    return dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=(i * 7919) % 20000,
                                                                          microseconds=i)


def test_ids_and_dates_survive_a_jumping_clock():
    rng = random.Random(31)
    clock = JumpingClock(start=1_800_000_000.0)
    fs = MemFS()
    n = scaled(400)
    ids = []
    with BlazeDB("db", vfs=fs, clock=clock) as db:
        for i in range(n):
            if i % 23 == 0:
                clock.jump(rng.choice([-3650 * DAY, -DAY, -1.0, 0.0, 1.0, 400 * DAY]))
            ids.append(db.insert({"i": i, "when": _date(i)}))
        assert len(set(ids)) == n
        assert ids == sorted(ids), "ids must increase even when the clock goes back"
        assert [r["i"] for r in db.fetch_all()] == list(range(n))

    clock.jump(-20 * 365 * DAY)                   # reopen with the clock far in the past
    with BlazeDB("db", vfs=fs, clock=clock) as db:
        later = [db.insert({"i": n + j, "when": _date(n + j)}) for j in range(20)]
        assert min(later) > max(ids), "ids after reopen must sort after every existing id"
        records = list(db.fetch_all())
        assert [r["i"] for r in records] == list(range(n + 20))
        assert all(r["when"] == _date(r["i"]) for r in records), "dates must be stored exactly"
        by_date = db.query().order_by("when").all()
        assert [r["when"] for r in by_date] == sorted(_date(i) for i in range(n + 20))
        lo, hi = _date(5), _date(50)
        in_range = db.query().where(F("when").between(lo, hi)).all()
        assert sorted(r["i"] for r in in_range) == sorted(
            i for i in range(n + 20) if lo <= _date(i) <= hi)
        db.check()
