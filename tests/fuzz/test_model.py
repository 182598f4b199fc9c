"""The reference model (fuzz/model.py) follows engine/doc/semantics.md and engine/API.md.

Each test is an example straight from the documentation, so the model can be
trusted as an oracle; a last group cross-checks it against BlazeDB on
random data.
"""
from __future__ import annotations

import math
import uuid

import pytest

from engine.errors import (
    BlazeIndexError,
    DuplicateRecordError,
    InvalidRecordError,
    QueryError,
    RecordNotFound,
    RecordTooLargeError,
    TransactionError,
    UniqueConstraintError,
)
from fuzz import model_query as Q
from fuzz import opstream as O
from fuzz import values as V
from fuzz.model import Model, record_error
from fuzz.semantics_ref import MISSING, okey, strict_equal
from fuzz.values import Vec

ID = [uuid.UUID(int=i) for i in range(32)]   # ascending ids: id order is index order


def run(model, *ops):
    ids = O.IdSpace()
    out = None
    for op in ops:
        out = model.apply(op, ids)
        ids.note(op)
    return out


def filled(*records):
    m = Model()
    run(m, *(O.Insert(ID[i + 1], r) for i, r in enumerate(records)))
    return m


# ---------------------------------------------------------------- the total order

@pytest.mark.parametrize("lower, higher", [
    (MISSING, None), (None, False), (False, True), (True, -math.inf), (V.NAN, -math.inf),
    (2**63 - 1, 2.0**63), (2.0**53, 2**53 + 1), (math.inf, ""), ("a", "b"), ("ab", "b"),
    ("a", "a\x00"), ("\uffff", "😀"), ("z", b""), (b"\x00", b"\x01"), (b"", V.EPOCH),
    (V.DATE_MAX, uuid.UUID(int=0)), (uuid.UUID(int=1), Vec(())), (Vec((V.NAN,)), Vec((-math.inf,))),
    (Vec((1.0,)), []), ([1], [1, 0]), ([1, 1, 1], [2]), ([], {}), ({"a": 2}, {"b": 1}),
    ({"a": 1}, {"a": 1, "b": 0}),
])
def test_total_order(lower, higher):
    assert okey(lower) < okey(higher)


@pytest.mark.parametrize("a, b", [(1, 1.0), (-0.0, 0.0), (V.NAN, float("nan")), ([1], [1.0]),
                                  ({"b": 1, "a": 2}, {"a": 2, "b": 1.0})])
def test_equal_in_the_total_order(a, b):
    assert okey(a) == okey(b)


def test_bool_is_never_a_number():
    assert okey(True) != okey(1) and okey(False) < okey(0)


def test_strict_equality_is_stored_identity():
    assert strict_equal(V.NAN, float("-nan"))
    assert not strict_equal(-0.0, 0.0)
    assert not strict_equal(1, 1.0)
    assert not strict_equal(True, 1)
    assert not strict_equal([1], Vec((1.0,)))
    assert strict_equal({"a": [Vec((V.NAN,))]}, {"a": [Vec((float("nan"),))]})


# ---------------------------------------------------------------- predicates (§3)

def ids_where(model, pred):
    return [r["id"] for r in Q.select(model.records, pred)]


def test_comparisons_never_cross_classes():
    m = filled({"a": 5}, {"a": "x"}, {"a": None}, {}, {"a": True}, {"a": V.NAN})
    assert ids_where(m, O.Cmp(("a",), "<", 10)) == [ID[1], ID[6]]        # NaN is a number below all
    assert ids_where(m, O.Cmp(("a",), ">", V.NAN)) == [ID[1]]
    assert ids_where(m, O.Cmp(("a",), "!=", 5)) == [ID[i] for i in (2, 3, 4, 5, 6)]  # MISSING matches !=
    assert ids_where(m, O.Cmp(("a",), "==", 5.0)) == [ID[1]]


def test_in_not_in_between_contains_exists_missing():
    m = filled({"a": 1, "s": "hello", "t": ["x", 2]}, {"a": 2.5, "t": "x"}, {"s": None})
    assert ids_where(m, O.In(("a",), (1.0, "z"))) == [ID[1]]
    assert ids_where(m, O.In(("a",), ())) == []
    assert ids_where(m, O.NotIn(("a",), (1,))) == [ID[2], ID[3]]
    assert ids_where(m, O.Between(("a",), 1, 2)) == [ID[1]]
    assert ids_where(m, O.Between(("a",), 3, 1)) == []
    assert ids_where(m, O.Contains(("s",), "ell")) == [ID[1]]
    assert ids_where(m, O.Contains(("s",), "")) == [ID[1]]
    assert ids_where(m, O.Contains(("t",), 2.0)) == [ID[1]]
    assert ids_where(m, O.Contains(("t",), "x")) == [ID[1], ID[2]]
    assert ids_where(m, O.Exists(("s",))) == [ID[1], ID[3]]          # null exists
    assert ids_where(m, O.Missing(("s",))) == [ID[2]]


def test_paths_reach_into_dicts_and_array_positions():
    m = filled({"meta": {"a": [10, {"b": 1}]}, "v": Vec((0.5, 1.5))})
    assert ids_where(m, O.Cmp(("meta", "a", "0"), "==", 10)) == [ID[1]]
    assert ids_where(m, O.Cmp(("meta", "a", "1", "b"), "==", 1)) == [ID[1]]
    assert ids_where(m, O.Cmp(("v", "1"), "==", 1.5)) == [ID[1]]
    assert ids_where(m, O.Exists(("meta", "a", "01"))) == []   # leading zero: not a position
    assert ids_where(m, O.Exists(("meta", "a", "2"))) == []


@pytest.mark.parametrize("pred", [
    O.Cmp(("a", ""), "==", 1), O.Exists(("a.",)), O.Cmp(("a",), "==", 2**63),
    O.In(("a",), ([2**64],)), O.Between(("a",), 1, "z"),
])
def test_malformed_queries_raise_query_error(pred):
    with pytest.raises(QueryError):
        run(filled({"a": 1}), O.Count(pred))


# ---------------------------------------------------------------- sorting and paging (§5)

def test_sort_missing_first_ascending_last_descending_ties_by_id():
    m = filled({"a": 2}, {}, {"a": 1}, {"a": 2.0}, {"a": "s"})
    asc = run(m, O.Query(None, ((("a",), False),), None, None))
    assert [r["id"] for r in asc] == [ID[2], ID[3], ID[1], ID[4], ID[5]]
    desc = run(m, O.Query(None, ((("a",), True),), None, None))
    assert [r["id"] for r in desc] == [ID[5], ID[1], ID[4], ID[3], ID[2]]
    page = run(m, O.Query(None, ((("a",), True),), 2, 1))
    assert [r["id"] for r in page] == [ID[1], ID[4]]


def test_query_forms_and_projection():
    m = filled({"a": 2, "meta": {"x": 1}}, {"a": 1}, {"b": 0})
    q = O.Query(O.Exists(("a",)), ((("a",), False),), None, None)
    assert run(m, q) == [m.records[ID[2]], m.records[ID[1]]]
    assert run(m, O.Query(q.where, q.order_by, None, None, "first")) == m.records[ID[2]]
    assert run(m, O.Query(q.where, q.order_by, 0, None, "first")) is None
    assert run(m, O.Query(q.where, q.order_by, None, 5, "exists")) is False
    assert run(m, O.Query(q.where, q.order_by, 1, None, "count")) == 1      # count() after paging
    rows = run(m, O.Query(None, (), None, None, "all", (("meta", "x"), ("b",))))
    assert rows == [{"id": ID[1], "meta.x": 1}, {"id": ID[2]}, {"id": ID[3], "b": 0}]
    with pytest.raises(QueryError):
        run(m, O.Query(None, (), None, None, "count", (("a", ""),)))  # select is checked for every form


def test_having_filters_aggregate_rows():
    m = filled({"g": "x", "a": 1}, {"g": "x", "a": 2}, {"g": "y", "a": 1})
    rows = run(m, O.Aggregate("sum", ("a",), None, (("g",),), O.Cmp(("_agg",), ">", 1)))
    assert rows == [{"g": "x", "_agg": 3}]
    assert run(m, O.Aggregate("count_all", ("a",), None, (), O.Missing(("_agg",)))) == []


def test_having_reads_a_group_path_as_one_column_named_by_the_whole_path():
    """Found by the ops target: the model walked ("Z", "Z") into nested values,
    found no row["Z"] and dropped the group; semantics.md §6 makes the group
    path one column, "Z.Z", so the engine kept it (and was right)."""
    m = filled({"Z": {"Z": 1}}, {"Z": {"Z": 1}})
    path = ("Z", "Z")
    rows = run(m, O.Aggregate("count", path, None, (path,), O.Exists(path)))
    assert rows == [{"Z.Z": 1, "_agg": 2}]
    assert run(m, O.Aggregate("count", path, None, (path,), O.Missing(path))) == []
    assert run(m, O.Aggregate("count", path, None, (path,), O.Cmp(path, "==", 1))) == rows


def test_without_order_by_results_come_in_id_order():
    ids = [uuid.UUID(int=3), uuid.UUID(int=1), uuid.UUID(int=2)]
    m = Model()
    run(m, *(O.Insert(u, {}) for u in ids))
    assert [r["id"] for r in run(m, O.Query(None, (), None, None))] == sorted(ids, key=lambda u: u.bytes)


# ---------------------------------------------------------------- aggregations (§6)

def agg(model, func, path="a", group_by=()):
    return run(model, O.Aggregate(func, (path,), None, tuple((g,) for g in group_by)))


def test_integer_sums_are_exact_and_floats_are_correctly_rounded():
    m = filled({"a": 2**62}, {"a": 2**62}, {"a": 2**62}, {"a": True}, {"a": "9"})
    assert agg(m, "sum") == [{"_agg": 3 * 2**62}]
    m = filled({"a": 0.1}, {"a": 0.2}, {"a": 0.3})
    assert agg(m, "sum") == [{"_agg": math.fsum([0.1, 0.2, 0.3])}]
    m = filled({"a": 2**53 + 1}, {"a": 0.5})
    assert agg(m, "sum") == [{"_agg": float(2**53 + 2)}]     # exact 2**53 + 1.5 rounds to even


def test_sum_specials():
    assert agg(filled({"a": 1}, {"a": V.NAN}), "sum")[0]["_agg"] != agg(filled({"a": 1}), "sum")[0]["_agg"]
    assert math.isnan(agg(filled({"a": math.inf}, {"a": -math.inf}), "sum")[0]["_agg"])
    assert agg(filled({"a": math.inf}, {"a": 1}), "sum") == [{"_agg": math.inf}]
    assert agg(filled({"a": 1e308}, {"a": 1e308}), "sum") == [{"_agg": math.inf}]
    assert agg(filled({"s": 1}), "sum") == [{"_agg": 0}]
    assert agg(filled(), "avg") == [{"_agg": None}]
    assert agg(filled({"a": 1}, {"a": 2}), "avg") == [{"_agg": 1.5}]


def test_count_min_max():
    m = filled({"a": 1.0}, {"a": None}, {}, {"a": 1}, {"a": "z"})
    assert agg(m, "count") == [{"_agg": 3}]
    assert agg(m, "count_all") == [{"_agg": 5}]
    assert agg(m, "max") == [{"_agg": "z"}]
    [row] = agg(m, "min")
    assert row["_agg"] == 1.0 and type(row["_agg"]) is float      # equal values: smallest id's


def test_group_by_merges_equal_values_and_orders_groups():
    m = filled({"g": 1, "a": 1}, {"g": 1.0, "a": 2}, {"a": 4}, {"g": "x", "a": 8}, {"g": V.NAN, "a": 16})
    rows = agg(m, "sum", group_by=["g"])
    assert rows == [{"_agg": 4}, {"g": V.NAN, "_agg": 16}, {"g": 1, "_agg": 3}, {"g": "x", "_agg": 8}]


def test_group_by_clashing_with_the_aggregate_name_is_a_query_error():
    with pytest.raises(QueryError):
        agg(filled({"a": 1}), "sum", group_by=["_agg"])


# ---------------------------------------------------------------- writes and errors

def test_insert_errors_in_the_engine_order():
    m = filled({"a": 1})
    with pytest.raises(InvalidRecordError):
        run(m, O.Insert(ID[1], {"a": 2**63}))             # validation before the duplicate check
    with pytest.raises(DuplicateRecordError):
        run(m, O.Insert(ID[1], {"a": 2}))
    with pytest.raises(RecordTooLargeError):
        run(m, O.Insert(ID[9], {"é" * 128: 1}))           # 256 UTF-8 bytes
    assert record_error({"k" * 255: 1}) is None


def test_record_error_walks_like_the_codec():
    # Keys of a dictionary are checked before its values; values in key order.
    assert record_error({"a": 2**63, "z" * 300: 1}) is RecordTooLargeError
    assert record_error({"b": {"x" * 300: 1}, "a": 2**63}) is InvalidRecordError
    assert record_error({"a": [1, [2**64]]}) is InvalidRecordError


def test_update_replace_upsert_delete():
    m = filled({"a": 1, "b": 2})
    assert run(m, O.Update(ID[1], {"b": 3, "c": 4})) == {"a": 1, "b": 3, "c": 4, "id": ID[1]}
    assert run(m, O.Replace(ID[1], {"z": 0})) == {"z": 0, "id": ID[1]}
    assert run(m, O.Upsert(ID[1], {"y": 1})) is False
    assert run(m, O.Upsert(ID[5], {"y": 1})) is True
    with pytest.raises(InvalidRecordError):
        run(m, O.Update(ID[1], {"id": ID[2]}))
    run(m, O.Update(ID[1], {"id": ID[1]}))                 # its own id is fine
    with pytest.raises(RecordNotFound):
        run(m, O.Update(ID[9], {"a": 1}))
    with pytest.raises(RecordNotFound):
        run(m, O.Replace(ID[9], {"a": 1}))
    assert run(m, O.Delete(ID[1])) is True
    assert run(m, O.Delete(ID[1])) is False
    assert run(m, O.DeleteAll(None)) == 1


def test_unique_indexes():
    m = filled({"a": 1}, {"a": None}, {})
    run(m, O.CreateIndex((("a",),), True))
    with pytest.raises(UniqueConstraintError):
        run(m, O.Insert(ID[8], {"a": 1.0}))
    with pytest.raises(UniqueConstraintError):
        run(m, O.Insert(ID[8], {"a": None}))                # null is a value
    run(m, O.Insert(ID[8], {"b": 1}))                      # MISSING is exempt
    with pytest.raises(UniqueConstraintError):
        run(m, O.InsertMany(((ID[9], {"a": 7}), (ID[10], {"a": 7}))))
    assert ID[9] not in m.records                          # all or nothing
    run(m, O.Insert(ID[11], {"b": 1}))
    with pytest.raises(UniqueConstraintError):                # existing records conflict
        run(m, O.CreateIndex((("b",),), True))
    assert O.index_name((("b",),)) not in m.indexes
    with pytest.raises(BlazeIndexError):
        run(m, O.CreateIndex((("a",),), False))            # same name
    with pytest.raises(BlazeIndexError):
        run(m, O.DropIndex((("nope",),)))
    with pytest.raises(BlazeIndexError):
        run(m, O.CreateIndex((("a",), ("a",)), False))     # a field listed twice


def test_a_write_conflicts_only_with_other_records_holding_its_unique_key():
    m = filled({"a": 1, "b": 0}, {"a": 2}, {"c": 0})
    run(m, O.CreateIndex((("a",),), True))
    run(m, O.Update(ID[1], {"b": 1}))                       # keeps its own key: no conflict
    run(m, O.Replace(ID[1], {"a": 1}))
    run(m, O.Update(ID[3], {"c": 1}))                       # exempt before and after
    with pytest.raises(UniqueConstraintError):
        run(m, O.Update(ID[3], {"a": 2}))                   # another record's key
    with pytest.raises(UniqueConstraintError):
        run(m, O.Upsert(ID[9], {"a": 1}))
    run(m, O.Update(ID[2], {"a": 3}))                       # its old key is free again
    run(m, O.Update(ID[3], {"a": 2}))
    assert {rid: r.get("a") for rid, r in m.records.items()} == {ID[1]: 1, ID[2]: 3, ID[3]: 2}


def test_an_index_entry_too_long_for_a_store_key_is_a_record_too_large_error():
    """API.md: an indexed value tuple must fit in a store key (1024 bytes with
    the id). The model measures the entry with the codec's index_key; a unique
    violation in the same write is reported first, as the engine does."""
    long = "\x00" * 600                      # 0x00 bytes take two bytes each in a key
    m = filled({"a": 1})
    run(m, O.CreateIndex((("a",),), False))
    for op in (O.Insert(ID[5], {"a": long}), O.Update(ID[1], {"a": {"k": long}}),
               O.Replace(ID[1], {"a": [long]}), O.Upsert(ID[6], {"a": long}),
               O.InsertMany(((ID[7], {"a": 2}), (ID[8], {"a": long})))):
        with pytest.raises(RecordTooLargeError):
            run(m, op)
    assert set(m.records) == {ID[1]} and m.records[ID[1]]["a"] == 1
    run(m, O.Insert(ID[9], {"b": long}))       # no index on b: stored
    with pytest.raises(RecordTooLargeError):
        run(m, O.CreateIndex((("b",),), False))
    assert O.index_name((("b",),)) not in m.indexes
    run(m, O.CreateIndex((("u",),), True))
    run(m, O.Insert(ID[10], {"u": 1}))
    with pytest.raises(UniqueConstraintError):
        run(m, O.Insert(ID[11], {"u": 1, "a": long}))


def test_the_models_key_size_bounds_hold_for_the_codec():
    """fuzz/model.py skips encoding an index tuple whose upper bound fits; the
    codec must never exceed those bounds (worst-case characters and bytes,
    extremes of every fixed-size type)."""
    from engine._native import codec
    from engine.types import MISSING as ENGINE_MISSING
    from fuzz.model import KEY_BYTES_FIXED, KEY_BYTES_FRAME

    for ch in ("a", "\x00", "\x01", "\x7f", "\xff", "\u07ff", "\uffff", "\U00010000", "\U0010ffff"):
        for n in (0, 1, 2, 7, 255):
            assert len(codec.index_key((ch * n,))) <= KEY_BYTES_FRAME + 4 * n
    for b in (b"\x00", b"\x01", b"\xff", b"a"):
        for n in (0, 1, 7, 255):
            assert len(codec.index_key((b * n,))) <= KEY_BYTES_FRAME + 2 * n
    fixed = (ENGINE_MISSING, None, False, True, 0, -2**63, 2**63 - 1, 0.0, -0.0, math.inf, -math.inf,
             math.nan, 5e-324, uuid.UUID(int=2**128 - 1), V.EPOCH, V.DATE_MAX)
    for v in fixed:
        assert len(codec.index_key((v,))) <= KEY_BYTES_FIXED


def test_the_key_size_rule_is_exact_at_the_limit():
    from engine._native import codec
    from fuzz.model import index_key_too_long

    frame = len(codec.index_key(("",)))
    room = 1024 - 16 - frame                            # bytes of string the limit leaves
    segs = (["a"],)
    assert not index_key_too_long({"a": "\x00" * (room // 2)}, segs)
    assert index_key_too_long({"a": "\x00" * (room // 2) + "\x00"}, segs)
    for array in (["x" * 200] * 4, ["x" * 255] * 4):    # arrays are encoded and measured
        assert index_key_too_long({"a": array}, segs) == (len(codec.index_key((array,))) > 1024 - 16)
    assert index_key_too_long({"a": ["x" * 255] * 4}, segs)


def test_insert_many_checks_records_in_order():
    m = filled({"a": 1})
    run(m, O.CreateIndex((("a",),), True))
    # The first record breaks the unique index before the second repeats an id.
    with pytest.raises(UniqueConstraintError):
        run(m, O.InsertMany(((ID[5], {"a": 1}), (ID[1], {}))))
    with pytest.raises(DuplicateRecordError):
        run(m, O.InsertMany(((ID[1], {}), (ID[5], {"a": 1}))))


def test_transactions():
    m = filled({"a": 1})
    for bad in (O.Commit(), O.Rollback()):
        with pytest.raises(TransactionError):
            run(m, bad)
    run(m, O.Begin(), O.Insert(ID[2], {}), O.CreateIndex((("a",),), False))
    with pytest.raises(TransactionError):
        run(m, O.Begin())
    with pytest.raises(TransactionError):
        run(m, O.Checkpoint())
    run(m, O.Rollback())
    assert list(m.records) == [ID[1]] and not m.indexes
    run(m, O.Begin(), O.Delete(ID[1]), O.Reopen())          # close rolls back
    assert list(m.records) == [ID[1]] and not m.in_transaction
    run(m, O.Begin(), O.Delete(ID[1]), O.Commit())
    assert not m.records


def test_check_reports_one_index_entry_per_record():
    m = filled({"a": 1}, {})
    run(m, O.CreateIndex((("a",),), False))
    assert run(m, O.Check()) == {"records": 2, "indexes": {"ix_a": 2}}


# ---------------------------------------------------------------- against the engine

def test_model_agrees_with_blazedb_on_random_streams():
    """The ops target's own loop, 300 random streams: a standing cross-check."""
    import random

    from fuzz.targets import ops

    rnd = random.Random(1125)
    for _ in range(300):
        ops.test_one_input(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 200))))
