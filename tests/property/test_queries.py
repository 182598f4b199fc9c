"""Queries: deterministic, equal to the reference model, and the same whether
an index serves them or a full scan does."""
from __future__ import annotations

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from engine.errors import QueryError, UniqueConstraintError
from engine.query import Query
from tests.property.reference import (MemDisk, engine_pred, engine_rows, expected_rows, memdb, model_table,
                                      open_memdb, outcome, strict_equal_list, unique_key)
from tests.property.strategies import (ID_PICKS, ORDER_BYS, PAGES, examples, id_predicate, indexable_predicates,
                                       predicates, query_records, same)

pytestmark = pytest.mark.property

TABLES = st.lists(query_records(), max_size=14)
DENSE_TABLES = st.lists(query_records(dense=True), max_size=14)
WHERES = st.one_of(st.none(), predicates())


def _load(db, recs):
    return db.insert_many(recs) if recs else []


@settings(max_examples=examples(0.75, ci=120))
@given(recs=TABLES, where=WHERES, order_by=ORDER_BYS, limit=PAGES, offset=PAGES)
def test_the_same_query_always_returns_the_same_result(recs, where, order_by, limit, offset):
    disk = MemDisk()
    db = open_memdb(disk)
    try:
        _load(db, recs)
        first = outcome(engine_rows, db, where, order_by, limit, offset)
        if first is QueryError:
            return
        assert strict_equal_list(engine_rows(db, where, order_by, limit, offset), first)
        # The terminal operations agree with .all() of the same query.
        q = db.query().where(engine_pred(where)) if where is not None else db.query()
        rows = q.all()
        assert q.count() == len(rows) == db.count(engine_pred(where))
        assert q.exists() == bool(rows)
        assert (q.first() is None) if not rows else same(q.first(), rows[0])
        # A query rebuilt from its plain-data form is the same query.
        assert Query.from_spec(q.to_spec()) == q
        again = db.query(q.to_spec()).all()
        assert len(again) == len(rows) and all(same(a, b) for a, b in zip(again, rows))
    finally:
        db.close()
    with memdb(disk) as db:
        assert strict_equal_list(engine_rows(db, where, order_by, limit, offset), first)


@settings(max_examples=examples(1.5, ci=300))
@given(recs=TABLES, where=WHERES, order_by=ORDER_BYS, limit=PAGES, offset=PAGES)
def test_query_results_equal_the_reference_model(recs, where, order_by, limit, offset):
    with memdb() as db:
        _load(db, recs)
        table = model_table(db.fetch_all())
        expected = outcome(expected_rows, table, where, order_by, limit, offset)
        actual = outcome(engine_rows, db, where, order_by, limit, offset)
        event(f"rows matched: {'error' if expected is QueryError else min(len(expected), 3)}")
        if expected is QueryError or actual is QueryError:
            assert actual is expected
        else:
            assert strict_equal_list(actual, expected), (actual, expected)


def _explain(db, where, order_by, limit):
    q = db.query() if where is None else db.query().where(engine_pred(where))
    if order_by:
        q = q.order_by(*[(".".join(p), "desc" if d else "asc") for p, d in order_by])
    return (q.limit(limit) if limit is not None else q).explain()


INDEX_SETS = st.sampled_from([
    [(["a"], False)], [(["b"], False)], [(["a", "b"], False)], [(["c", "a"], False), (["b"], False)],
    [(["a.0"], False)], [(["a"], True)], [(["a", "b"], True)], [(["b"], True), (["a", "c"], False)]])


@settings(max_examples=examples(2.0, ci=300))
@given(recs=st.one_of(TABLES, DENSE_TABLES, DENSE_TABLES), index_set=INDEX_SETS, index_first=st.booleans(),
       limit=PAGES, offset=PAGES, id_picks=ID_PICKS, data=st.data())
def test_index_lookups_equal_full_scans(recs, index_set, index_first, limit, offset, id_picks, data):
    """Single, composite and unique indexes, created before or after the data;
    every predicate operator, AND-ed index terms, id lookups, index-ordered walks."""
    with memdb() as db:
        def make_indexes():
            for fields, unique in index_set:
                db.create_index(fields, unique=unique)

        if index_first:
            make_indexes()
        kept = []
        for rec in recs:
            clashes = [fields for fields, unique in index_set if unique and unique_key(rec, fields) is not None
                       and any(unique_key(k, fields) == unique_key(rec, fields) for k in kept)]
            if index_first:
                got = outcome(db.insert, rec)
                assert (got is UniqueConstraintError) == bool(clashes), (rec, clashes)
                if got is not UniqueConstraintError:
                    kept.append(rec)
            elif not clashes:
                db.insert(rec)
                kept.append(rec)
        if not index_first:
            make_indexes()
        table = model_table(db.fetch_all())
        fields = [tuple(f.split(".")) for f in index_set[0][0]]
        # Mostly terms the index can serve (first: Hypothesis favours early choices).
        kind = data.draw(st.sampled_from(["index", "leading", "index", "any", "id", "none"]), label="kind")
        where = data.draw({"index": indexable_predicates(fields), "leading": indexable_predicates(fields[:1]),
                           "any": predicates(), "id": st.just(id_predicate(list(table), id_picks)),
                           "none": st.none()}[kind], label="where")
        order_by = data.draw(st.one_of(ORDER_BYS, st.sampled_from([tuple((f, False) for f in fields),
                                                                   tuple((f, True) for f in fields)])),
                             label="order_by")
        indexed = outcome(engine_rows, db, where, order_by, limit, offset)
        scanned = outcome(engine_rows, db, where, order_by, limit, offset, indexable=False)
        expected = outcome(expected_rows, table, where, order_by, limit, offset)
        if indexed is not QueryError:
            event(f"plan: {_explain(db, where, order_by, limit)['plan']} {kind}")
        if QueryError in (indexed, scanned, expected):
            assert indexed is scanned is expected
        else:
            assert strict_equal_list(indexed, scanned), (indexed, scanned)
            assert strict_equal_list(indexed, expected), (indexed, expected)
        assert db.check()["indexes"] == {"+".join(f): len(kept) for f, _ in index_set}


@settings(max_examples=examples(1.0, ci=160))
@given(recs=st.one_of(TABLES, DENSE_TABLES), where=predicates(), indexed=st.booleans())
def test_a_predicate_and_its_negation_partition_the_records(recs, where, indexed):
    """Two-valued logic (semantics.md §3): where(p) and where(~p) are disjoint
    and together every record, with or without an index serving p."""
    with memdb() as db:
        if indexed:
            db.create_index("a")
            db.create_index(["b", "c"])
        _load(db, recs)
        try:
            p = engine_pred(where)
        except QueryError:
            return
        yes = {r["id"] for r in db.query().where(p).all()}
        no = {r["id"] for r in db.query().where(~p).all()}
        assert not yes & no
        assert yes | no == {r["id"] for r in db.fetch_all()}
        assert db.count(p) + db.count(~p) == db.count() == len(recs)
