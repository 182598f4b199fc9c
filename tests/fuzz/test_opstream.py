"""Op streams (fuzz/opstream.py, fuzz/values.py): a total decoder with an exact inverse."""
from __future__ import annotations

import datetime as dt
import math
import random
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz import op_strategies as S
from fuzz import opstream as O
from fuzz import values as V
from fuzz.values import Vec

pytestmark = pytest.mark.property


@given(S.op_lists)
def test_decode_inverts_encode(ops):
    assert O.decode(O.encode(ops)) == ops


@given(st.binary(max_size=600))
def test_decode_is_total_and_canonical_on_any_bytes(data):
    ops = O.decode(data)
    assert len(ops) <= O.MAX_OPS
    again = O.decode(O.encode(ops))
    assert again == ops
    assert O.encode(again) == O.encode(ops)


@given(st.binary(max_size=300))
def test_decode_is_deterministic(data):
    assert O.decode(data) == O.decode(bytes(data))


@given(S.op_lists)
def test_msgpack_round_trip(ops):
    assert O.from_msgpack(O.to_msgpack(ops)) == ops


def test_empty_input_is_the_empty_stream():
    assert O.decode(b"") == []
    assert O.encode([]) == b""


def test_short_input_reads_as_zero_padded():
    # One Insert tag and nothing else: the id byte and field count read as 0.
    tag = O.OP_TABLE.index(O.Insert)
    assert O.decode(bytes([tag])) == [O.Insert(V.ID_TABLE[0], {})]


def test_stream_length_is_capped():
    tag = O.OP_TABLE.index(O.Begin)
    assert len(O.decode(bytes([tag]) * 1000)) == O.MAX_OPS
    with pytest.raises(ValueError, match="at most"):
        O.encode([O.Begin()] * (O.MAX_OPS + 1))


def test_every_op_kind_has_codes_and_round_trips():
    assert set(O.OP_TABLE) == set(O.OP_KINDS)
    rnd = random.Random(4)
    seen = set()
    for _ in range(3000):
        ops = O.decode(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 80))))
        seen.update(type(op) for op in ops)
    assert seen == set(O.OP_KINDS)


@pytest.mark.parametrize("value", [
    None, True, False, 0, -112, 111, 2**63 - 1, -2**63, 2**63, -2**63 - 1, 12345678901,
    0.0, -0.0, 0.25, 1e-300, math.inf, -math.inf, V.NAN, 2.0**63,
    "", "héllo 😀", "\x00", "x" * 255, b"", b"\x00\xff" * 100,
    dt.datetime(1, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 2, 29, 1, 2, 3, 4, tzinfo=dt.UTC),
    uuid.UUID(int=0), V.ID_TABLE[0x2A], Vec(()), Vec((1.0, V.NAN, -0.0)),
    [1, [2, [3]]], {"a": {"b": None}, "": 1, "a.b": 2},
])
def test_value_grammar_round_trips(value):
    out = bytearray()
    V.write_value(out, value, 1)
    back = V.read_value(V.Reader(bytes(out)), 1)
    assert back == value or (value != value and back is V.NAN)
    assert type(back) is type(value)
    if type(value) is float:
        assert math.copysign(1, back) == math.copysign(1, value)


@pytest.mark.parametrize("value, message", [
    ("\ud800", "surrogate"),
    (2**64, "outside the op grammar"),
    (dt.datetime(2000, 1, 1), "naive"),
    ([1] * (V.MAX_LEN + 1), "elements"),
    ([[[[[1]]]]], "nesting"),
    ({1, 2}, "outside the op grammar"),
])
def test_encode_rejects_values_outside_the_grammar(value, message):
    with pytest.raises(ValueError, match=message):
        O.encode([O.Insert(V.ID_TABLE[1], {"a": value})])


def test_nesting_is_bounded_on_any_input():
    # Container type bytes forever: depth stops at MAX_NESTING (null), no recursion error.
    data = bytes([O.OP_TABLE.index(O.Insert), 1, 1, 0]) + bytes([V.T_ARRAY, 1]) * 5000
    [op] = O.decode(data)[:1]
    depth, v = 1, op.record["a"]
    while isinstance(v, list) and v:
        depth, v = depth + 1, v[0]
    assert depth <= V.MAX_NESTING


def test_table_ids_end_with_their_code():
    assert all(u.bytes[-1] == b for b, u in enumerate(V.ID_TABLE))
    assert len(set(V.ID_TABLE)) == len(V.ID_TABLE)


def test_refs_resolve_to_ids_seen_so_far_in_first_seen_order():
    a, b, c = V.ID_TABLE[1], V.ID_TABLE[2], uuid.UUID(int=99)
    ids = O.IdSpace()
    assert ids.resolve(0) == V.ID_TABLE[0]          # nothing seen yet: a table id
    for op in (O.Insert(a, {}), O.InsertMany(((b, {}), (a, {}))), O.Upsert(c, {})):
        ids.note(op)
    assert ids.seen == [a, b, c]
    assert [ids.resolve(i) for i in range(4)] == [a, b, c, a]
    assert ids.resolve(c) == c


def test_from_msgpack_rejects_other_data():
    import msgpack
    for bad in (b"", b"\xc1", msgpack.packb([1, 2]), msgpack.packb({"format": "other"}),
                msgpack.packb({"format": O.MSGPACK_FORMAT, "version": 99, "ops": []}),
                msgpack.packb({"format": O.MSGPACK_FORMAT, "version": 1, "ops": [1]})):
        with pytest.raises(ValueError):
            O.from_msgpack(bad)


def test_to_python_is_a_runnable_replay(tmp_path):
    ops = [
        O.Insert(V.ID_TABLE[1], {"a": 1, "x": math.nan, "v": Vec((math.inf,)), "d": V.EPOCH}),
        O.CreateIndex((("a",),), True), O.Insert(V.ID_TABLE[2], {"a": 1.0}),
        O.Query(O.Or(O.Cmp(("a",), ">=", 1), O.Not(O.Exists(("x",)))), ((("a",), True),), 3, None),
        O.Aggregate("sum", ("a",), None, (("a",),)), O.Begin(), O.Delete(0), O.Reopen(),
        O.Fetch(0), O.Check(),
    ]
    script = O.to_python(ops)
    assert "db.insert" in script and "UUID(" in script and "math.nan" in script
    namespace: dict = {}
    exec(compile(script, "replay.py", "exec"), namespace)  # noqa: S102 - our own generated code
    assert namespace["db"].closed


def test_replay_returns_one_outcome_per_op():
    from engine._native import store
    from engine.db import BlazeDB
    from engine.errors import RecordNotFound

    fs = store.MemFS()
    ops = [O.Insert(V.ID_TABLE[1], {"a": 1}), O.Fetch(0), O.Delete(0), O.Reopen(), O.Fetch(0), O.Count(None)]
    outcomes = O.replay(ops, lambda: BlazeDB("r.blazedb", vfs=fs))
    assert outcomes[0] == V.ID_TABLE[1]
    assert outcomes[1]["a"] == 1
    assert outcomes[2] is True
    assert isinstance(outcomes[4], RecordNotFound)
    assert outcomes[5] == 0


@settings(max_examples=20)
@given(S.op_lists)
def test_to_python_compiles_for_any_stream(ops):
    compile(O.to_python(ops), "replay.py", "exec")


@given(st.binary(max_size=600))
def test_decode_does_not_depend_on_the_readers_padding(data):
    """The reader pads the input with zeros and re-reads when it runs past the
    padding; with no padding at all (the re-read path on every overrun) the
    result must be the same."""
    expected = O.decode(data)
    saved = V._PAD
    try:
        V._PAD = b""
        assert O.decode(data) == expected
    finally:
        V._PAD = saved


@given(st.binary(max_size=300), st.integers(1, 200))
def test_trailing_zeros_decode_as_the_zeros_the_reader_pads_with(data, zeros):
    """Past the end every byte reads as 0: appending zeros changes nothing but
    possibly more ops decoded from those zeros, after the same leading ops."""
    short, padded = O.decode(data), O.decode(data + bytes(zeros))
    assert padded[:len(short)] == short or len(short) == O.MAX_OPS


def test_decode_spans_are_decodes_ops_each_with_the_bytes_it_read():
    rnd = random.Random(17)
    for _ in range(300):
        data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 200)))
        spans = O.decode_spans(data)
        assert [op for op, _, _ in spans] == O.decode(data)
        assert all(end > start for _, start, end in spans)
        assert [s for _, s, _ in spans[1:]] == [e for _, _, e in spans[:-1]]   # back to back
        for op, start, end in spans:
            assert O.decode(data[start:end].ljust(end - start, b"\0")) == [op]
