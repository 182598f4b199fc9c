"""Record ids are UUIDv7, unique and strictly increasing whatever the clock does."""
import uuid

from engine.ids import IdGenerator


class StoppedClock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_ids_are_version_7_and_carry_the_clock_milliseconds():
    rid = IdGenerator(StoppedClock(1_700_000_000.123))()
    assert rid.version == 7 and rid.variant == uuid.RFC_4122
    assert rid.int >> 80 == 1_700_000_000_123


def test_a_stopped_or_backwards_clock_still_gives_increasing_ids():
    clock = StoppedClock(2_000_000_000.0)
    make = IdGenerator(clock)
    ids = [make() for _ in range(100)]
    clock.now -= 3600
    ids += [make() for _ in range(100)]
    assert ids == sorted(ids) and len(set(ids)) == 200
    assert all(i.version == 7 for i in ids)


def test_a_forward_jump_moves_the_time_part():
    clock = StoppedClock(1_000.0)
    make = IdGenerator(clock)
    first = make()
    clock.now = 5_000.0
    assert make().int >> 80 == 5_000_000 > first.int >> 80


def test_advance_past_continues_after_a_stored_id():
    stored = IdGenerator(StoppedClock(3_000_000_000.0))()
    make = IdGenerator(StoppedClock(1_000.0))          # a clock far behind the stored id
    make.advance_past(stored)
    assert make() > stored
    make.advance_past(uuid.uuid4())                    # no time in a v4 id: ignored
    assert make() > stored
