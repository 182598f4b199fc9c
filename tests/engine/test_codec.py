"""The record codec `engine._codec`: round trips, limits, canonical form, corrupt input, index keys.

The format is specified in engine/doc/record_format.md; the value order that
index keys must reproduce in engine/doc/semantics.md. The reference order
used below (`ref_key`) is written from that page alone, independently of the C.
"""
from __future__ import annotations

import datetime as dt
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import sysconfig
import uuid
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine._native import codec
from engine.errors import CorruptRecordError, InvalidRecordError, RecordTooLargeError
from engine.types import MISSING, Vector

UTC = dt.UTC
encode, decode, index_key = codec.encode, codec.decode, codec.index_key


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def expected(v):
    """What decode() must return for an encoded value (the documented Python mapping)."""
    if isinstance(v, dict):
        return {k: expected(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [expected(x) for x in v]
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, dt.datetime):
        return v.astimezone(UTC)
    return v


def same(a, b) -> bool:
    """Exact structural equality: same types, floats bit for bit, dates with tzinfo=UTC."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return bits(a) == bits(b)
    if isinstance(a, Vector):
        return a.tobytes() == b.tobytes()
    if isinstance(a, dt.datetime):
        return a == b and a.tzinfo is UTC and b.tzinfo is UTC
    return a == b


def roundtrip(record):
    data = encode(record)
    back = decode(data)
    assert same(back, expected(record)), (record, back)
    assert list(back) == sorted(back)    # keys come back in code point order
    assert encode(back) == data          # canonical: the decoded record re-encodes identically
    return data


# ---------------------------------------------------------------- round trips

EDGE_VALUES = [
    None, True, False,
    0, 1, -1, 63, 64, -64, -65, 2**31, 2**53 + 1, 2**63 - 1, -2**63,
    0.0, -0.0, 1.5, math.inf, -math.inf, math.nan, 5e-324, -5e-324, 1.7976931348623157e308,
    struct.unpack("<d", b"\x01\x00\x00\x00\x00\x00\xf8\x7f")[0],      # NaN with a payload
    struct.unpack("<d", b"\x00\x00\x00\x00\x00\x00\xf8\xff")[0],      # negative NaN
    "", "a", "héllo wörld", "日本語", "\U0001F600 emoji", "nul\x00inside", "x" * 1000,
    b"", b"\x00", bytes(range(256)),
    dt.datetime(1970, 1, 1, tzinfo=UTC),
    dt.datetime(1, 1, 1, tzinfo=UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    dt.datetime(2024, 2, 29, 12, 30, 45, 123456, tzinfo=UTC),
    uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), uuid.UUID("12345678-1234-5678-1234-567812345678"),
    Vector([]), Vector([1.0, -0.0, math.inf, math.nan, 2**53, 1e-300]),
    [], {}, [[]], {"": {}}, [None, 1, "a", [2.5, {"k": b"v"}]],
]


@pytest.mark.parametrize("value", EDGE_VALUES, ids=lambda v: type(v).__name__)
def test_every_type_and_edge_value_round_trips_exactly(value):
    roundtrip({"v": value})
    roundtrip({"nested": {"list": [value, value]}})


def test_empty_record_is_the_header_and_a_zero_count():
    assert encode({}) == b"BZ\x01\x00"
    assert decode(b"BZ\x01\x00") == {}


def test_the_documented_bytes_of_a_small_record():
    record = {"b": True, "a": -1, "s": "hi", "x": [None, 1.0]}
    assert encode(record) == (
        b"BZ\x01" b"\x04"
        b"\x01a" b"\x03\x01"                     # int -1 -> zigzag 1
        b"\x01b" b"\x02"                         # true
        b"\x01s" b"\x05\x02hi"                   # string, length 2
        b"\x01x" b"\x09\x02" b"\x00" b"\x04" + struct.pack("<d", 1.0))


def test_accepted_python_forms_decode_to_their_canonical_type():
    record = {"t": (1, 2), "ba": bytearray(b"ab"), "mv": memoryview(b"cd"),
              "strided": memoryview(b"abcdef")[::2]}
    assert decode(encode(record)) == {"t": [1, 2], "ba": b"ab", "mv": b"cd", "strided": b"ace"}


def test_aware_datetimes_in_any_zone_are_stored_as_their_utc_instant():
    tz = dt.timezone(dt.timedelta(hours=-3, minutes=-30))
    local = dt.datetime(2020, 6, 1, 20, 0, 0, 1, tzinfo=tz)
    back = decode(encode({"d": local}))["d"]
    assert back == local and back.tzinfo is UTC
    assert back == dt.datetime(2020, 6, 1, 23, 30, 0, 1, tzinfo=UTC)
    assert encode({"d": local}) == encode({"d": back})


def test_bool_is_not_an_int():
    back = decode(encode({"t": True, "one": 1, "f": False, "zero": 0}))
    assert type(back["t"]) is bool and type(back["one"]) is int
    assert encode({"a": True}) != encode({"a": 1})


def test_deep_nesting_up_to_the_limit_round_trips():
    def nest(n):     # n nested containers
        v = []
        for i in range(n - 1):
            v = [v] if i % 2 else {"k": v}
        return v
    roundtrip({"a": nest(codec.MAX_DEPTH - 1)})   # + the record itself = MAX_DEPTH


def test_key_order_is_code_point_order_whatever_the_insertion_order():
    keys = ["b", "a", "", "ab", "é", "z", "\U0001F600", "B", "a\x00"]
    forward = {k: i for i, k in enumerate(keys)}
    backward = {k: forward[k] for k in reversed(keys)}
    assert encode(forward) == encode(backward)
    assert list(decode(encode(forward))) == sorted(keys)


@pytest.mark.parametrize("n", [2, 24, 25, 300])       # insertion sort and qsort alike
def test_any_number_of_keys_in_any_order_encode_identically(n):
    keys = [f"k{i:03d}" for i in range(n)]
    shuffled = keys[:]
    random.Random(n).shuffle(shuffled)
    data = encode({k: i for i, k in enumerate(shuffled)})
    assert list(decode(data)) == keys
    assert data == encode(dict(sorted(decode(data).items(), reverse=True)))


def test_equal_records_encode_identically_and_different_ones_differently():
    assert encode({"a": 1, "b": [1, 2]}) == encode({"b": (1, 2), "a": 1})
    distinct = [{"a": 1}, {"a": 1.0}, {"a": True}, {"a": "1"}, {"a": b"1"}, {"a": [1]},
                {"a": 0.0}, {"a": -0.0}, {"a": None}, {"a": {}}, {"a": []}, {"a": Vector([1])}]
    assert len({encode(r) for r in distinct}) == len(distinct)


# ---------------------------------------------------------------- invalid records

@pytest.mark.parametrize("record, error, fragments", [
    ([1], InvalidRecordError, ["record must be a dict", "list"]),
    ({"a": 2**63}, InvalidRecordError, ["field a", "signed 64-bit", "9223372036854775808"]),
    ({"a": -2**63 - 1}, InvalidRecordError, ["field a", "signed 64-bit"]),
    ({"a": 2**1000}, InvalidRecordError, ["field a", "1001 bits"]),
    ({"a": {"b": [0, {1: "x"}]}}, InvalidRecordError, ["field a.b[1]", "key 1", "int"]),
    ({"addr": {"tags": [1, 2, 3, dt.datetime(2020, 1, 1)]}}, InvalidRecordError,
     ["field addr.tags[3]", "naive"]),
    ({"a": dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))}, InvalidRecordError,
     ["field a", "outside the storable range"]),
    ({"a": dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone(-dt.timedelta(hours=1)))},
     InvalidRecordError, ["field a", "outside the storable range"]),
    ({"a": dt.date(2020, 1, 1)}, InvalidRecordError, ["field a", "type datetime.date"]),
    ({"s": {1, 2}}, InvalidRecordError, ["field s", "type set"]),
    ({"s": object()}, InvalidRecordError, ["field s", "type object"]),
    ({"s": 1 + 2j}, InvalidRecordError, ["field s", "type complex"]),
    ({"m": MISSING}, InvalidRecordError, ["field m", "MISSING"]),
    ({"s": "ok\ud800"}, InvalidRecordError, ["field s", "surrogate U+D800", "index 2"]),
    ({"k\udfff": 1}, InvalidRecordError, ["record", "field name", "U+DFFF"]),
    ({"a.b": {"": [1 << 64]}}, InvalidRecordError, ["field ['a.b']['']", "signed 64-bit"]),
])
def test_invalid_values_are_refused_with_the_field_path(record, error, fragments):
    with pytest.raises(error) as info:
        encode(record)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_a_tzinfo_without_an_offset_makes_a_naive_datetime():
    class NoOffset(dt.tzinfo):
        def utcoffset(self, d):
            return None
    with pytest.raises(InvalidRecordError, match="naive"):
        encode({"d": dt.datetime(2020, 1, 1, tzinfo=NoOffset())})


# ---------------------------------------------------------------- limits

def test_max_depth_is_enforced_on_encode():
    value = []
    for _ in range(codec.MAX_DEPTH - 1):
        value = [value]
    with pytest.raises(RecordTooLargeError, match=f"MAX_DEPTH = {codec.MAX_DEPTH}"):
        encode({"a": value})


def test_self_referencing_containers_hit_the_depth_limit():
    loop: list = []
    loop.append(loop)
    with pytest.raises(RecordTooLargeError, match="MAX_DEPTH"):
        encode({"loop": loop})


def test_max_field_name_is_counted_in_utf8_bytes():
    limit = codec.MAX_FIELD_NAME
    roundtrip({"k" * limit: 1})
    with pytest.raises(RecordTooLargeError, match=f"{limit + 1} UTF-8 bytes exceeds MAX_FIELD_NAME"):
        encode({"k" * (limit + 1): 1})
    with pytest.raises(RecordTooLargeError, match="MAX_FIELD_NAME"):
        encode({"é" * (limit // 2 + 1): 1})       # 2 bytes each


def test_max_array_len_applies_to_arrays_and_vectors():
    limit = codec.MAX_ARRAY_LEN
    assert len(decode(encode({"a": [None] * limit}))["a"]) == limit
    with pytest.raises(RecordTooLargeError, match=r"field a\.b: array of 1048577 elements"):
        encode({"a": {"b": [None] * (limit + 1)}})
    assert len(decode(encode({"v": Vector.frombytes(bytes(8 * limit))}))["v"]) == limit
    with pytest.raises(RecordTooLargeError, match="vector of 1048577 elements exceeds MAX_ARRAY_LEN"):
        encode({"v": Vector.frombytes(bytes(8 * (limit + 1)))})


def test_max_record_size_is_the_encoded_size_exactly():
    limit = codec.MAX_RECORD_SIZE
    overhead = len(encode({"d": b"x" * (1 << 21)})) - (1 << 21)   # 4-byte length varint
    fits = encode({"d": bytes(limit - overhead)})
    assert len(fits) == limit and decode(fits)["d"] == bytes(limit - overhead)
    with pytest.raises(RecordTooLargeError, match=f"field d: .*MAX_RECORD_SIZE = {limit}"):
        encode({"d": bytes(limit - overhead + 1)})
    with pytest.raises(CorruptRecordError, match="MAX_RECORD_SIZE"):
        decode(fits + b"\x00")


# ---------------------------------------------------------------- corrupt input

REAL_RECORDS = [
    {"name": "alice", "age": 42, "tags": ["a", "b"], "pos": Vector([1.5, -2.0]),
     "addr": {"city": "Zürich", "zip": b"8000", "n": None},
     "when": dt.datetime(2021, 3, 4, 5, 6, 7, 8, tzinfo=UTC), "id": uuid.UUID(int=7),
     "ok": True, "ratio": -0.25},
    {"deep": [[[{"x": [1, [2, [3]]]}]]], "neg": -2**63, "big": 2**63 - 1},
    {"": "", "e": [], "d": {}, "f": 1e300},
]


@pytest.mark.parametrize("record", REAL_RECORDS)
def test_every_truncation_is_reported_as_corrupt(record):
    data = encode(record)
    for n in range(len(data)):
        with pytest.raises(CorruptRecordError):
            decode(data[:n])


@pytest.mark.parametrize("record", REAL_RECORDS)
def test_every_single_bit_flip_is_corrupt_or_another_canonical_record(record):
    data = encode(record)
    for i in range(len(data)):
        for bit in range(8):
            mutated = bytearray(data)
            mutated[i] ^= 1 << bit
            check_mutant(bytes(mutated))


def check_mutant(data: bytes):
    """Decoding arbitrary bytes either fails cleanly or yields a record that re-encodes to them."""
    try:
        record = decode(data)
    except CorruptRecordError as exc:
        assert "corrupt record" in str(exc) and "at byte" in str(exc)
        return
    assert encode(record) == data


def test_random_mutations_never_crash_and_keep_decoding_canonical():
    rng = random.Random(1234)
    seeds = [encode(r) for r in REAL_RECORDS]
    for _ in range(6000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(4)
            pos = rng.randrange(len(data) + 1)
            if op == 0 and pos < len(data):
                data[pos] = rng.randrange(256)
            elif op == 1:
                data[pos:pos] = bytes([rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)])])
            elif op == 2 and pos < len(data):
                del data[pos]
            else:
                data[pos:pos] = data[rng.randrange(len(data)):][:rng.randint(1, 8)]
        check_mutant(bytes(data))


def test_random_bytes_after_a_valid_header_never_crash():
    rng = random.Random(99)
    for _ in range(3000):
        check_mutant(b"BZ\x01" + bytes(rng.randrange(256) for _ in range(rng.randint(0, 40))))


@pytest.mark.parametrize("data, fragment", [
    (b"", "shorter than the 3-byte header"),
    (b"XZ\x01\x00", "bad magic"),
    (b"BZ\x02\x00", "unknown format version 2"),
    (b"BZ\x01\x00\x00", "1 trailing bytes"),
    (b"BZ\x01\x01\x01a\x3f", "unknown type tag 0x3f"),
    (b"BZ\x01\x01\x01a\x03\x80\x00", "not minimally encoded"),
    (b"BZ\x01\x01\x01a\x03" + b"\xff" * 9 + b"\x02", "overflows 64 bits"),
    (b"BZ\x01\x02\x01b\x00\x01a\x00", "field a: field names are not in ascending order"),
    (b"BZ\x01\x02\x01a\x00\x01a\x00", "field a: duplicate field name"),
    (b"BZ\x01\x02\x02ab\x00\x01a\x00", "not in ascending order"),
    (b"BZ\x01\x01\x01a\x05\x02\xc3\x28", "field a: string is not valid UTF-8"),
    (b"BZ\x01\x01\x01a\x05\x03\xed\xa0\x80", "not valid UTF-8"),          # encoded surrogate
    (b"BZ\x01\x01\x01a\x05\x02\xc0\xaf", "not valid UTF-8"),              # overlong '/'
    (b"BZ\x01\x01\x02\xff\xfe\x00", "field name is not valid UTF-8"),
    (b"BZ\x01\x01\x01a\x05\x05ab", "string length 5 needs at least 5 bytes, 2 remain"),
    (b"BZ\x01\x01\x01a\x09\xff\xff\xff\x7f", "exceeds MAX_ARRAY_LEN"),
    (b"BZ\x01\x01\x01a\x09\x05\x00", "array length 5 needs at least 5 bytes"),
    (b"BZ\x01\x01\x01a\x0b\x02" + bytes(15), "vector length 2 needs at least 16 bytes"),
    (b"BZ\x01\xff\xff\xff\xff\x0f", "field count"),
    (b"BZ\x01\x01\x01a\x04\x00\x00", "a double needs 8 bytes"),
    (b"BZ\x01\x01\x01a\x08" + bytes(15), "a uuid needs 16 bytes"),
    (b"BZ\x01\x01\x01a\x07" + b"\xff" * 8 + b"\x7f", "outside 0001-01-01"),
    (b"BZ\x01\x01\x01a\x09\x02\x00\x09\x01\x3f", "field a[1][0]: unknown type tag"),
])
def test_malformed_bytes_raise_corrupt_record_error_saying_what_and_where(data, fragment):
    with pytest.raises(CorruptRecordError) as info:
        decode(data)
    assert fragment in str(info.value)


def test_decode_depth_is_bounded():
    def nested(n):   # record + n nested arrays
        return b"BZ\x01\x01\x01a" + b"\x09\x01" * (n - 1) + b"\x09\x00"
    assert decode(nested(codec.MAX_DEPTH - 1))
    with pytest.raises(CorruptRecordError, match="MAX_DEPTH"):
        decode(nested(codec.MAX_DEPTH))
    with pytest.raises(CorruptRecordError, match="MAX_DEPTH"):
        decode(nested(100000))


def test_decode_accepts_bytes_like_and_rejects_other_types():
    data = encode({"a": 1})
    assert decode(bytearray(data)) == decode(memoryview(data)) == {"a": 1}
    with pytest.raises(TypeError, match="bytes"):
        decode("BZ\x01\x00")


PLANTED_TRIGGER = {"Zap!": "Zap! a string", "data": b"Zap!\x00"}   # see decode.c, planted_bug


def test_the_planted_bug_is_absent_from_normal_builds():
    assert codec.PLANTED_BUGS == 0
    assert decode(encode(PLANTED_TRIGGER)) == PLANTED_TRIGGER


CLANG = "clang-19"
ASAN_RUNTIME = Path("/usr/lib/llvm-19/lib/clang/19/lib/linux/libclang_rt.asan-x86_64.so")


@pytest.mark.fuzzbuild
@pytest.mark.slow
@pytest.mark.skipif(shutil.which(CLANG) is None or not ASAN_RUNTIME.exists(),
                    reason="needs clang-19 and its ASan runtime (libclang-rt-19-dev)")
def test_the_planted_build_overflows_the_heap_on_the_trigger(tmp_path):
    """-DBLAZEDB_PLANT_BUGS plants a heap-buffer-overflow WRITE that ASan reports in the codec."""
    import engine
    csrc = Path(engine.__file__).parent / "csrc" / "codec"
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    subprocess.run([CLANG, "-shared", "-fPIC", "-std=c11", "-g", "-O1", "-Wall", "-Wextra", "-Werror",
                    "-fsanitize=address", "-shared-libasan", "-DBLAZEDB_PLANT_BUGS",
                    f"-I{sysconfig.get_paths()['include']}", f"-I{csrc}",
                    *map(str, sorted(csrc.glob("*.c"))), "-o", str(tmp_path / f"_codec{suffix}")],
                   check=True, capture_output=True, timeout=120)
    shutil.copy(Path(codec.__file__).parent / f"_store{suffix}", tmp_path)
    script = ("from engine._native import codec\n"
              "assert codec.PLANTED_BUGS == 1\n"
              "assert codec.decode(codec.encode({'s': 'Zip! harmless'}))\n"
              "print('decoding the trigger', flush=True)\n"
              f"codec.decode({encode(PLANTED_TRIGGER)!r})\n")
    env = dict(os.environ, LD_PRELOAD=str(ASAN_RUNTIME), ASAN_OPTIONS="detect_leaks=0",
               BLAZEDB_NATIVE_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", script], check=False, env=env, capture_output=True,
                          text=True, timeout=120)
    assert "decoding the trigger" in proc.stdout, proc.stderr[-2000:]
    assert proc.returncode != 0
    assert "AddressSanitizer: heap-buffer-overflow" in proc.stderr
    assert "WRITE of size 1" in proc.stderr and "planted_bug" in proc.stderr


# ---------------------------------------------------------------- property: round trip

ZONES = st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)),
                         dt.timezone(-dt.timedelta(hours=8)), dt.timezone(dt.timedelta(microseconds=1))])


def records():
    leaves = st.one_of(
        st.none(), st.booleans(),
        st.integers(-2**63, 2**63 - 1),
        st.sampled_from([2**63 - 1, -2**63, 2**53 + 1, -2**53 - 1, 0]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20), st.binary(max_size=20),
        st.datetimes(timezones=st.just(UTC)),
        st.datetimes(dt.datetime(2, 1, 1), dt.datetime(9998, 12, 31), timezones=ZONES),
        st.uuids(),
        st.lists(st.floats(), max_size=5).map(Vector),
    )
    values = st.recursive(leaves, lambda kids: st.one_of(
        st.lists(kids, max_size=5), st.tuples(kids, kids),
        st.dictionaries(st.text(max_size=8), kids, max_size=5)), max_leaves=25)
    return st.dictionaries(st.text(max_size=12), values, max_size=8)


@pytest.mark.property
@given(records())
def test_property_decode_inverts_encode(record):
    roundtrip(record)


@pytest.mark.property
@given(records(), st.randoms(use_true_random=False))
def test_property_mutated_encodings_decode_canonically_or_fail_cleanly(record, rnd):
    data = bytearray(encode(record))
    for _ in range(3):
        data[rnd.randrange(len(data))] = rnd.randrange(256)
    check_mutant(bytes(data))


# ---------------------------------------------------------------- index keys

def num_key(x):
    if isinstance(x, float) and math.isnan(x):
        return (0, 0)
    return (1, x if isinstance(x, float) and math.isinf(x) else Fraction(x))


def ref_key(v):
    """The total order of engine/doc/semantics.md §1-2, in plain Python."""
    if v is MISSING:
        return (0,)
    if v is None:
        return (1,)
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, (int, float)):
        return (3, num_key(v))
    if isinstance(v, str):
        return (4, v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return (5, bytes(v))
    if isinstance(v, dt.datetime):
        return (6, v)
    if isinstance(v, uuid.UUID):
        return (7, v.bytes)
    if isinstance(v, Vector):
        return (8, tuple(num_key(x) for x in v))
    if isinstance(v, (list, tuple)):
        return (9, tuple(ref_key(x) for x in v))
    if isinstance(v, dict):
        return (10, tuple((k, ref_key(x)) for k, x in sorted(v.items())))
    raise AssertionError(v)


def assert_same_order(a: tuple, b: tuple):
    ka, kb = index_key(a), index_key(b)
    ra, rb = tuple(map(ref_key, a)), tuple(map(ref_key, b))
    assert (ka < kb) == (ra < rb) and (ka == kb) == (ra == rb), (a, b, ka, kb)


NUMBERS = [math.nan, -math.inf, -2**63, -2**63 + 1, -9.223372036854776e18, -2**53 - 1,
           -9007199254740992.0, -1.5, -1, -5e-324, -0.0, 0, 0.0, 5e-324, 1, 1.0, 1.5,
           2**53, 2**53 + 1, 9007199254740992.0, 9007199254740994.0, 2**62 + 1,
           2**63 - 1025, 2**63 - 1024, 9.223372036854775e18, 2**63 - 1,
           9.223372036854776e18, 1e300, math.inf]


def test_numbers_order_by_exact_value_across_int_and_float():
    for a in NUMBERS:
        for b in NUMBERS:
            assert_same_order((a,), (b,))
    assert index_key((2**63 - 1,)) < index_key((9.223372036854776e18,))
    assert index_key((2**53 + 1,)) > index_key((9007199254740992.0,))
    assert index_key((1,)) == index_key((1.0,))
    assert index_key((-0.0,)) == index_key((0.0,)) == index_key((0,))
    nan2 = struct.unpack("<d", b"\x01\x00\x00\x00\x00\x00\xf8\xff")[0]
    assert index_key((math.nan,)) == index_key((nan2,)) < index_key((-math.inf,))


def test_class_order_is_the_documented_total_order():
    ladder = [MISSING, None, False, True, math.nan, -math.inf, 0, math.inf, "", "a", b"",
              b"\x00", dt.datetime(1, 1, 1, tzinfo=UTC), dt.datetime(9999, 1, 1, tzinfo=UTC),
              uuid.UUID(int=0), uuid.UUID(int=1), Vector([]), Vector([math.nan]), Vector([0]),
              [], [None], [[]], {}, {"": None}, {"a": None}]
    keys = [index_key((v,)) for v in ladder]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_strings_and_data_sort_by_code_point_and_byte_with_shorter_first():
    strings = ["", "\x00", "\x00\x00", "\x01", "a", "a\x00", "a\x00b", "a\x01", "ab", "b",
               "\x7f", "é", "\uffff", "\U00010000"]
    assert sorted(strings, key=lambda s: index_key((s,))) == sorted(strings)
    for a in strings:
        for b in strings:
            assert_same_order((a, 1), (b, 0))            # the next element never bleeds in
            assert_same_order((a.encode(), 1), (b.encode(), 0))


def test_equal_instants_in_different_zones_share_a_key():
    utc = dt.datetime(2020, 1, 1, 12, tzinfo=UTC)
    paris = utc.astimezone(dt.timezone(dt.timedelta(hours=1)))
    assert index_key((utc,)) == index_key((paris,))
    assert index_key((dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),)) < index_key((
        dt.datetime(1970, 1, 1, tzinfo=UTC),))


def test_keys_concatenate_and_no_value_key_prefixes_another():
    values = [MISSING, None, 1, -2.5, "ab", b"\x00", [1, "x"], {"a": [None]}, Vector([1.0]),
              uuid.UUID(int=5), dt.datetime(2000, 1, 1, tzinfo=UTC)]
    for a in values:
        for b in values:
            assert index_key((a, b)) == index_key((a,)) + index_key((b,))
            ka, kb = index_key((a,)), index_key((b,))
            assert ka == kb or not kb.startswith(ka)
    assert index_key(()) == b""
    assert index_key([1, "a"]) == index_key((1, "a"))


def test_equal_containers_share_a_key_whatever_their_python_form():
    assert index_key(([1, 2],)) == index_key(((1.0, 2),))
    assert index_key(({"b": 1, "a": 2},)) == index_key(({"a": 2.0, "b": 1},))
    assert index_key((b"ab",)) == index_key((bytearray(b"ab"),)) == index_key((memoryview(b"ab"),))
    assert index_key((Vector([-0.0]),)) == index_key((Vector([0.0]),))


@pytest.mark.parametrize("values, error, fragment", [
    ((2**64,), InvalidRecordError, "signed 64-bit"),
    ((1, [MISSING]), InvalidRecordError, "value [1][0]: MISSING may only be a whole"),
    (({"a": {1: 2}},), InvalidRecordError, "value [0].a: dictionary key 1"),
    ((dt.datetime(2020, 1, 1),), InvalidRecordError, "naive"),
    (({1, 2},), InvalidRecordError, "type set cannot be indexed"),
    (("\ud800",), InvalidRecordError, "surrogate"),
])
def test_index_key_refuses_what_cannot_be_stored(values, error, fragment):
    with pytest.raises(error) as info:
        index_key(values)
    assert fragment in str(info.value)


def test_index_key_takes_a_tuple():
    with pytest.raises(TypeError, match="tuple"):
        index_key("abc")


def index_values():
    small_text = st.text(alphabet="ab\x00é", max_size=3)
    leaves = st.one_of(
        st.none(), st.booleans(),
        st.sampled_from(NUMBERS),
        st.integers(-2**63, 2**63 - 1),
        st.integers(-3, 3),
        st.floats(allow_nan=True, allow_infinity=True),
        small_text, small_text.map(lambda s: s.encode()),
        st.datetimes(timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=2))]),
                     min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9998, 1, 1)),
        st.sampled_from([uuid.UUID(int=0), uuid.UUID(int=1), uuid.UUID(int=2**127)]),
        st.lists(st.sampled_from([math.nan, -1.0, 0.0, -0.0, 1, 2.5]), max_size=3).map(Vector),
    )
    return st.recursive(leaves, lambda kids: st.one_of(
        st.lists(kids, max_size=3),
        st.dictionaries(small_text, kids, max_size=3)), max_leaves=8)


@pytest.mark.property
@given(st.lists(st.tuples(index_values(), index_values()), min_size=2, max_size=12),
       st.lists(st.just(MISSING), max_size=1))
def test_property_index_key_order_equals_the_reference_order(pairs, missing):
    tuples = [tuple(missing) + p if i % 3 == 0 else p for i, p in enumerate(pairs)]
    for a in tuples:
        for b in tuples:
            assert_same_order(a, b)


@pytest.mark.property
@given(index_values(), index_values())
def test_property_single_values_compare_like_the_reference(a, b):
    assert_same_order((a,), (b,))
    assert_same_order((a, b), (b, a))
