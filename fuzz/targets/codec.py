"""Fuzz target `codec`: engine._codec's decoder, encoder and index keys.

The first byte picks the mode (documented here; seeds in corpus/codec/):

  0x00  generated record: the rest is a record in the op grammar
        (fuzz/values.py). encode() must raise exactly the error the model
        predicts (fuzz/model.record_error) or give bytes that decode to the
        same record, strictly (types, float bits, dates, vectors), and
        re-encode to the same bytes.
  0x01  index keys: a flag byte (bit 0: a is MISSING, bit 1: b is MISSING)
        then values a and b. index_key must order (a,) and (b,) as the total
        order of semantics.md does, give equal values equal bytes, be
        prefix-free between unequal values, and concatenate:
        index_key((a, b)) == index_key((a,)) + index_key((b,)).
  else  raw bytes as an encoded record (the real format starts with "BZ"):
        decode() returns a dict or raises CorruptRecordError, nothing else;
        when it decodes, encode(decode(data)) == data (the format is
        canonical, engine/doc/record_format.md).
"""
from __future__ import annotations

from engine._native import codec as _codec
from engine.errors import BlazeError, CorruptRecordError
from engine.types import MISSING as ENGINE_MISSING
from fuzz import driver
from fuzz import opstream as O
from fuzz import values as V
from fuzz.model import record_error
from fuzz.oracles import OracleMismatch
from fuzz.semantics_ref import MISSING, okey, strict_equal

MODE_RECORD = 0x00
MODE_INDEX_KEY = 0x01

_decode = _codec.decode
_encode = _codec.encode
_index_key = _codec.index_key


def _raw(data: bytes) -> None:
    try:
        record = _decode(data)
    except CorruptRecordError:
        return
    except BlazeError as exc:
        raise OracleMismatch("roundtrip", 0, "decode", "a dict or CorruptRecordError",
                             f"{type(exc).__name__}: {exc}")
    if type(record) is not dict:
        raise OracleMismatch("roundtrip", 0, "decode", "a dict", type(record).__name__)
    again = _encode(record)
    if again != data:
        raise OracleMismatch("roundtrip", 0, "encode", data.hex(), again.hex(),
                             "encode(decode(data)) != data: a successful decode must be canonical")


def _generated_record(data: bytes) -> None:
    record = O.read_record(V.Reader(data))
    want_err = record_error(record)
    try:
        encoded = _encode(driver.to_engine(record))
    except BlazeError as exc:
        if type(exc) is not want_err:
            raise OracleMismatch("roundtrip", 0, "encode", want_err.__name__ if want_err else "no error",
                                 f"{type(exc).__name__}: {exc}", f"encode({record!r:.300})")
        return
    if want_err is not None:
        raise OracleMismatch("roundtrip", 0, "encode", want_err.__name__, "no error", f"encode({record!r:.300})")
    back = driver.from_engine(_decode(encoded))
    if not strict_equal(record, back):
        raise OracleMismatch("roundtrip", 0, "decode", record, back, "decode(encode(record)) != record")
    if _encode(_decode(encoded)) != encoded:
        raise OracleMismatch("roundtrip", 0, "encode", encoded.hex(), _encode(_decode(encoded)).hex(),
                             "encode(decode(encode(record))) != encode(record)")


def _sign(x, y) -> int:
    return (x > y) - (x < y)


def _index_keys(data: bytes) -> None:
    r = V.Reader(data)
    flags = r.u8()
    a = MISSING if flags & 1 else V.read_value(r, 1)
    b = MISSING if flags & 2 else V.read_value(r, 1)
    if record_error({"a": a, "b": b}) is not None:  # not storable: no key exists for it
        return
    ea = ENGINE_MISSING if a is MISSING else driver.to_engine(a)
    eb = ENGINE_MISSING if b is MISSING else driver.to_engine(b)
    ka, kb = _index_key((ea,)), _index_key((eb,))
    what = f"index_key(({a!r},)) vs index_key(({b!r},))"
    want = _sign(okey(a), okey(b))
    if _sign(ka, kb) != want:
        raise OracleMismatch("roundtrip", 0, "index_key", f"order {want}",
                             f"order {_sign(ka, kb)}: {ka.hex()} vs {kb.hex()}",
                             f"keys must sort as the total order: {what:.300}")
    if ka != kb and (ka.startswith(kb) or kb.startswith(ka)):
        raise OracleMismatch("roundtrip", 0, "index_key", "prefix-free keys", f"{ka.hex()} vs {kb.hex()}",
                             f"{what:.300}")
    both = _index_key((ea, eb))
    if both != ka + kb:
        raise OracleMismatch("roundtrip", 0, "index_key", (ka + kb).hex(), both.hex(),
                             f"index_key((a, b)) != index_key((a,)) + index_key((b,)): {what:.300}")


def test_one_input(data: bytes) -> None:
    if not data:
        _raw(data)
    elif data[0] == MODE_RECORD:
        _generated_record(data[1:])
    elif data[0] == MODE_INDEX_KEY:
        _index_keys(data[1:])
    else:
        _raw(data)


_IMPORTS = ("import datetime\nimport math\nfrom uuid import UUID\n\n"
            "from engine._native import codec\nfrom engine.errors import CorruptRecordError\n"
            "from engine.types import Vector\n\n")


def describe_input(data: bytes) -> str:
    """Readable Python of what this input checks."""
    if data[:1] == bytes([MODE_RECORD]):
        record = O.read_record(V.Reader(data[1:]))
        return (_IMPORTS + f"record = {driver.py_value(record)}\n"
                "assert codec.decode(codec.encode(record)) == record\n")
    if data[:1] == bytes([MODE_INDEX_KEY]):
        r = V.Reader(data[1:])
        flags = r.u8()
        a = "MISSING" if flags & 1 else driver.py_value(V.read_value(r, 1))
        b = "MISSING" if flags & 2 else driver.py_value(V.read_value(r, 1))
        return (_IMPORTS + "from engine.types import MISSING\n"
                f"a, b = {a}, {b}\n"
                "assert codec.index_key((a, b)) == codec.index_key((a,)) + codec.index_key((b,))\n")
    return (_IMPORTS + f"data = bytes.fromhex({data.hex()!r})\n"
            "try:\n    record = codec.decode(data)\nexcept CorruptRecordError:\n    pass\n"
            "else:\n    assert codec.encode(record) == data\n")
