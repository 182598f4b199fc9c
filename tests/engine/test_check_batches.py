"""check() verifies records in batches with bulk operations and falls back to a
record-by-record pass when a batch looks wrong: the report and the error (class,
message, first offending record) must be those of the record-by-record rules,
also for problems that span batches."""
from __future__ import annotations

import uuid

import pytest

from engine import BlazeDB
from engine import db as db_module
from engine._native import codec
from engine.errors import CorruptDatabaseError, CorruptRecordError

N = db_module._CHECK_BATCH * 2 + 7      # three batches, the last one partial


@pytest.fixture
def big():
    with BlazeDB(id_generator=iter(uuid.UUID(int=i + 1) for i in range(10**6)).__next__) as d:
        d.create_index("k", unique=True)
        d.create_index(["g", "nested.x"])
        d.insert_many([{"k": i, "g": i % 3, "nested": {"x": [i]}} if i % 5 else {"g": None}
                       for i in range(N)])
        yield d


def _put_raw(d, record):
    """A record written behind the engine's back (no index maintenance)."""
    d._store.put("records", record["id"].bytes, codec.encode(record))


def test_a_healthy_database_reports_every_record_and_entry(big):
    report = big.check()
    assert report["records"] == N
    assert report["indexes"] == {"k": N, "g+nested.x": N}


def test_a_unique_violation_across_batches_names_both_records(big):
    first = uuid.UUID(int=2)             # k == 1, in the first batch
    last = uuid.UUID(int=N + 50)         # after every other record: the last batch
    _put_raw(big, {"id": last, "k": 1})
    with pytest.raises(CorruptDatabaseError,
                       match=f"unique index 'k': records {first} and {last} hold the same"):
        big.check()


def test_missing_unique_fields_are_exempt(big):
    for i in range(3):                   # k MISSING: no constraint, only index entries missing
        _put_raw(big, {"id": uuid.UUID(int=N + 100 + i), "g": None})
    with pytest.raises(CorruptDatabaseError, match="index 'g\\+nested.x'.*missing"):
        big.check()


def test_the_first_bad_record_in_key_order_is_named(big):
    # a record under the wrong key in the second batch, and an undecodable one later
    wrong = uuid.UUID(int=db_module._CHECK_BATCH + 3)
    big._store.put("records", wrong.bytes, codec.encode({"id": uuid.UUID(int=1), "k": -1}))
    big._store.put("records", uuid.UUID(int=N - 1).bytes, b"\x00garbage")
    with pytest.raises(CorruptDatabaseError, match=f"key {wrong.bytes.hex()} holds a record"):
        big.check()
    big._store.put("records", wrong.bytes, codec.encode({"id": wrong, "k": -1}))
    with pytest.raises(CorruptRecordError):
        big.check()


def test_stray_entries_and_values_in_an_index_are_named(big):
    stray = codec.index_key((10**9,)) + uuid.UUID(int=3).bytes
    big._store.put("idx:k", stray, b"")
    with pytest.raises(CorruptDatabaseError, match=f"stray entry {stray.hex()}"):
        big.check()
    big._store.delete("idx:k", stray)
    entry = codec.index_key((1,)) + uuid.UUID(int=2).bytes
    big._store.put("idx:k", entry, b"x")
    with pytest.raises(CorruptDatabaseError, match=f"entry {entry.hex()} has a value"):
        big.check()
