"""Record ids: UUIDv7 (RFC 9562), time-ordered, from an injectable clock.

Why v7: ids that grow with time put new records at the right edge of the
primary B+tree (dense leaves, cheap appends), and `fetch_all()` (id order) then
lists records roughly in insertion order.

Clock skew must not break anything: the generator keeps the last id it made
and never goes back. When the clock jumps backwards (or stands still), the
next id is the previous one plus one in its 74 random-and-counter bits, so
ids stay unique and strictly increasing within a process whatever the clock
does; when it jumps forwards, ids simply jump with it.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Callable

Clock = Callable[[], float]          # seconds since the Unix epoch, like time.time

_VERSION_7 = 0x7 << 76
_VARIANT_RFC = 0x2 << 62
_RAND_A_BITS = 12
_RAND_B_BITS = 62


def _compose(ms: int, rand_a: int, rand_b: int) -> uuid.UUID:
    value = (ms & ((1 << 48) - 1)) << 80 | _VERSION_7 | rand_a << 64 | _VARIANT_RFC | rand_b
    return uuid.UUID(int=value)


class IdGenerator:
    """Makes strictly increasing UUIDv7 ids; thread-safe."""

    def __init__(self, clock: Clock = time.time):
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[int, int] = (-1, 0)    # (milliseconds, 74-bit counter)

    def advance_past(self, existing: uuid.UUID) -> None:
        """Makes every later id sort after `existing` (a stored UUIDv7 id).

        Ids of other versions carry no time and are left alone."""
        if existing.version != 7:
            return
        value = existing.int
        ms = value >> 80
        counter = ((value >> 64) & ((1 << _RAND_A_BITS) - 1)) << _RAND_B_BITS | (value & ((1 << _RAND_B_BITS) - 1))
        with self._lock:
            self._last = max(self._last, (ms, counter))

    def __call__(self) -> uuid.UUID:
        with self._lock:
            now_ms = max(0, int(self._clock() * 1000))
            last_ms, last_counter = self._last
            if now_ms > last_ms:
                # Random start, leaving room below 2**74 to count up within the millisecond.
                counter = int.from_bytes(os.urandom(10), "big") >> 7
            else:                       # same millisecond, or the clock went back: keep ordering
                now_ms, counter = last_ms, last_counter + 1
                if counter >> (_RAND_A_BITS + _RAND_B_BITS):
                    now_ms, counter = last_ms + 1, 0
            self._last = (now_ms, counter)
        rand_a = counter >> _RAND_B_BITS
        rand_b = counter & ((1 << _RAND_B_BITS) - 1)
        return _compose(now_ms, rand_a, rand_b)
