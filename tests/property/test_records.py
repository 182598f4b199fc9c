"""Records: what goes in comes back, survives reopening, and deletes are idempotent."""
from __future__ import annotations

import copy
import uuid

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.errors import RecordNotFound
from tests.property.reference import MemDisk, assert_same_state, memdb, open_memdb, snapshot
from tests.property.strategies import EDGE_RECORD, examples, loose_input, records, same, stored_form

pytestmark = pytest.mark.property


@settings(max_examples=examples(2.0, ci=300))
@given(record=records(), explicit_id=st.one_of(st.none(), st.uuids()))
@example(record=EDGE_RECORD, explicit_id=None)
def test_insert_then_fetch_returns_the_same_record(record, explicit_id):
    """Every type, nested, edge values: fetch/get/fetch_all give back the stored form exactly."""
    given_record = dict(record) if explicit_id is None else {**record, "id": explicit_id}
    untouched = copy.deepcopy(given_record)
    with memdb() as db:
        rid = db.insert(given_record)
        assert same(given_record, untouched)  # insert does not mutate its argument
        assert isinstance(rid, uuid.UUID)
        if explicit_id is not None:
            assert rid == explicit_id
        expected = {**stored_form(record), "id": rid}
        assert same(db.fetch(rid), expected)
        assert same(db.fetch(str(rid)), expected)
        assert same(db.get(rid), expected)
        assert [same(r, expected) for r in db.fetch_all()] == [True]


@settings(max_examples=examples(0.5, ci=120))
@given(record=records())
@example(record=EDGE_RECORD)
def test_other_input_forms_store_the_same_value(record):
    """tuple for list, bytearray for bytes: stored exactly as the plain form."""
    with memdb() as db:
        a = db.insert(record)
        b = db.insert(loose_input(record))
        fa, fb = db.fetch(a), db.fetch(b)
        fb["id"] = a
        assert same(fa, fb)


@settings(max_examples=examples(0.5, ci=120))
@given(batch=st.lists(records(max_fields=3), min_size=1, max_size=8),
       updates=st.lists(st.tuples(st.integers(0, 7), records(max_fields=2)), max_size=4),
       deletes=st.lists(st.integers(0, 7), max_size=3),
       checkpoint=st.booleans(), index_field=st.sampled_from([None, "a", "b"]))
def test_state_survives_close_and_reopen(batch, updates, deletes, checkpoint, index_field):
    disk = MemDisk()
    db = open_memdb(disk)
    try:
        if index_field is not None:
            db.create_index(index_field)
        ids = db.insert_many(batch)
        expected = {rid: {**stored_form(rec), "id": rid} for rid, rec in zip(ids, batch)}
        for pos, changes in updates:
            rid = ids[pos % len(ids)]
            if rid in expected:
                expected[rid] = {**expected[rid], **stored_form(changes)}
                assert same(db.update(rid, changes), expected[rid])
        for pos in deletes:
            rid = ids[pos % len(ids)]
            assert db.delete(rid) is (expected.pop(rid, None) is not None)
        if checkpoint:
            db.checkpoint()
        before = snapshot(db)
    finally:
        db.close()
    with memdb(disk) as db:
        after = snapshot(db)
        assert_same_state(before, after)
        assert len(after["records"]) == len(expected)
        for r in after["records"]:
            assert same(r, expected[r["id"]])


@settings(max_examples=examples(0.5, ci=120))
@given(batch=st.lists(records(max_fields=2), min_size=1, max_size=6), victim=st.integers(0, 5),
       stranger=st.uuids())
def test_delete_is_idempotent(batch, victim, stranger):
    with memdb() as db:
        db.create_index("a")
        ids = db.insert_many(batch)
        rid = ids[victim % len(ids)]
        assert db.delete(rid) is True
        once = snapshot(db)
        assert once["count"] == len(batch) - 1
        assert db.delete(rid) is False
        assert db.delete(str(rid)) is False
        if stranger not in ids:
            assert db.delete(stranger) is False
        assert_same_state(once, snapshot(db))
        assert db.get(rid) is None
        with pytest.raises(RecordNotFound):
            db.fetch(rid)
        removed = db.delete_all()
        assert removed == len(batch) - 1
        assert db.delete_all() == 0
        assert db.count() == 0 and db.check()["indexes"] == {"a": 0}


@settings(max_examples=examples(0.5, ci=120))
@given(record=records(max_fields=4), changes=records(max_fields=3), replacement=records(max_fields=3),
       stranger=st.uuids())
def test_update_replace_and_upsert_follow_their_definitions(record, changes, replacement, stranger):
    """update: shallow merge; replace: whole record, id kept; upsert: merge or
    insert, True only when it inserted. Each returns what fetch then gives."""
    with memdb() as db:
        rid = db.insert(record)
        merged = {**stored_form(record), **stored_form(changes), "id": rid}
        assert same(db.update(rid, changes), merged) and same(db.fetch(rid), merged)
        replaced = {**stored_form(replacement), "id": rid}
        assert same(db.replace(rid, replacement), replaced) and same(db.fetch(rid), replaced)
        assert db.upsert(rid, changes) is False
        assert same(db.fetch(rid), {**replaced, **stored_form(changes), "id": rid})
        assert db.upsert(stranger, changes) is True
        assert same(db.fetch(stranger), {**stored_form(changes), "id": stranger})
        assert db.count() == 2
