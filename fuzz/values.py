"""The value grammar of op streams: BlazeDB values <-> a compact byte form.

Fuzz inputs are bytes; this module turns a few bytes into one BlazeDB value of
any of the eleven types (nested up to MAX_NESTING) and back. The reading side
is total (every byte string decodes; a short input reads as if padded with
zero bytes) and the writing side is its exact inverse on the grammar's values:
read(write(v)) == v. Values outside the grammar (lone surrogates, ints beyond
the tables and int64, nesting deeper than MAX_NESTING, containers longer than
their length byte allows) make write() raise ValueError.

Byte format (one type byte, then a payload):

    type % 12: 0 null | 1 false | 2 true | 3 int | 4 double | 5 string |
               6 data | 7 date | 8 uuid | 9 array | 10 dictionary | 11 vector
    int:     s < 0xE0: s - 0x70 | s < 0xF0: INT_TABLE[s - 0xE0] |
             else 8 bytes little-endian two's complement
    double:  s < 0xE0: (s - 0x70) / 4 | s < 0xF0: FLOAT_TABLE[s - 0xE0] |
             else 8 bytes IEEE-754 little-endian (every NaN reads as NAN)
    length:  L < 0xF0: L % (SHORT + 1) | else the next byte is the length (0..255)
    string:  length, then per character c: c < 0x80: chr(c) |
             c < 0xF0: EXTRA_CHARS[(c - 0x80) % len] | else 3 bytes code point
             (mod 0x110000; surrogates read as U+FFFD)
    data:    length, raw bytes
    date:    s < 0xF0: DATE_TABLE[s % len] | else 8 bytes: microseconds after
             DATE_MIN, modulo the span of representable dates (UTC)
    uuid:    s < 0xFF: ID_TABLE[s] | 0xFF then 16 raw bytes
    array:   length byte % (MAX_LEN + 1), elements
    dictionary: length byte % (MAX_LEN + 1), then (field name, value) pairs;
             a repeated name keeps the later value
    vector:  length byte % (MAX_LEN + 1), doubles
    field name: n < 0xF0: FIELD_NAMES[n % len] | 0xF0 then a string
    path segment: the same with PATH_NAMES (adds "id" and positions "0", "1")

At nesting depth MAX_NESTING an array, dictionary or vector type byte reads
as null, so recursion stays bounded on any input.

Small tables (ids, field names, ints around 0) make independent draws collide
often, which is what lets queries, fetches and unique indexes hit the records
a stream inserted. ID_TABLE[b] ends with the byte b: ids ending in any byte,
0x2A included, are one byte away.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import math
import struct
import uuid

NAN = float("nan")  # the one NaN object decoding yields, so op lists compare equal

MAX_NESTING = 4
MAX_LEN = 5          # elements of an array / dictionary / vector
MAX_STR = 255
SHORT = 8            # lengths up to SHORT take one byte; longer ones two

UTC = _dt.UTC
EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)
DATE_MIN = _dt.datetime(1, 1, 1, tzinfo=UTC)
DATE_MAX = _dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _micros(d: _dt.datetime) -> int:
    delta = d - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


DATE_MIN_US = _micros(DATE_MIN)
DATE_SPAN = _micros(DATE_MAX) - DATE_MIN_US + 1

INT_TABLE = (
    2**31 - 1, -2**31, 2**32, 2**53, 2**53 + 1, -(2**53) - 1, 2**62,
    2**63 - 1, -2**63, 2**63 - 2, 10**15, -10**15, 1000, -1000,
    2**63, -2**63 - 1,   # out of int64: BlazeDB must refuse them (InvalidRecordError)
)
FLOAT_TABLE = (
    NAN, math.inf, -math.inf, -0.0, 0.1, 1e308, 5e-324, 2.0**53, 2.0**63,
    -2.0**63, 2.0**64, 1e15 + 0.5, 1 / 3, 2.2250738585072014e-308, -1.5e300, 2.0**53 + 2,
)
EXTRA_CHARS = (
    "é", "ß", "Ω", "€", "中", "😀", "\u0301", "\uffff", "\U0010ffff", "\u00a0",
    "Z", "z", "ǅ", "İ", "\u200b", "\x7f",
)
FIELD_NAMES = ("a", "b", "c", "n", "s", "t", "x", "name", "tags", "meta", "Z", "é")
# Path segments also name the record id (the planner's id lookups) and array positions.
PATH_NAMES = FIELD_NAMES + ("id", "0", "1")
DATE_TABLE = tuple(
    EPOCH + _dt.timedelta(microseconds=us) for us in (0, 1, -1, 86_400_000_000)
) + (
    _dt.datetime(2000, 1, 1, tzinfo=UTC), _dt.datetime(2024, 2, 29, 12, 34, 56, 789000, tzinfo=UTC),
    DATE_MIN, DATE_MAX, _dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    _dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
)


def _table_id(b: int) -> uuid.UUID:
    return uuid.UUID(bytes=hashlib.blake2b(bytes([b]), digest_size=15).digest() + bytes([b]))


ID_TABLE = tuple(_table_id(b) for b in range(255))
_ID_CODE = {u: i for i, u in enumerate(ID_TABLE)}
_FIELD_CODE = {n: i for i, n in enumerate(FIELD_NAMES)}
_PATH_CODE = {n: i for i, n in enumerate(PATH_NAMES)}
_CHAR_CODE = {c: 0x80 + i for i, c in enumerate(EXTRA_CHARS)}
_INT_CODE = {v: 0xE0 + i for i, v in enumerate(INT_TABLE)}
_FLOAT_BITS_CODE = {struct.pack("<d", v): 0xE0 + i for i, v in enumerate(FLOAT_TABLE) if v == v}
_DATE_CODE = {d: i for i, d in enumerate(DATE_TABLE)}

T_NULL, T_FALSE, T_TRUE, T_INT, T_DOUBLE, T_STRING, T_DATA, T_DATE, T_UUID, T_ARRAY, T_DICT, T_VECTOR = range(12)


class Vec(tuple):
    """A vector value (float64s) inside an op list; engine.types.Vector at the engine boundary."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Vec({list(self)!r})"

    def __eq__(self, other):
        return isinstance(other, Vec) and tuple.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = tuple.__hash__


class Reader:
    """Reads a byte string front to back; past the end every byte reads as 0.

    Speed (decoding is on every fuzz execution's path): the bytes are kept
    with a run of zero bytes appended, so the readers below index them
    directly, without a per-byte bounds check or method call. The internal
    readers are functions `_x(data, pos, ...) -> (value, new pos)` over that
    padded buffer; `run(fn, ...)` calls one and, in the rare case it reads
    beyond the padding (IndexError), appends more zeros and runs it again from
    the same position, which is exactly "past the end every byte reads as 0".
    """

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes):
        data = bytes(data)
        self.end = len(data)
        self.data = data + _PAD
        self.pos = 0

    def done(self) -> bool:
        return self.pos >= self.end

    def u8(self) -> int:
        return self.run(_u8)

    def take(self, n: int) -> bytes:
        return self.run(_take, n)

    def run(self, fn, *args):
        """`fn(data, pos, *args) -> (value, pos)` at the current position; advances past it."""
        while True:
            try:
                value, self.pos = fn(self.data, self.pos, *args)
                return value
            except IndexError:
                # Read past the zero padding: pad more (doubling) and re-read.
                # Reads are bounded by the grammar, so this ends; the cap
                # stops an IndexError that is a bug from looping forever.
                if len(self.data) > _MAX_PADDED + self.end:
                    raise
                self.data += bytes(len(self.data) + len(_PAD) + 1)


_PAD = bytes(1024)
_MAX_PADDED = 1 << 24


def _u8(d: bytes, p: int):
    return d[p], p + 1


def _take(d: bytes, p: int, n: int):
    q = p + n
    chunk = d[p:q]
    if len(chunk) < n:
        raise IndexError("read past the padding")
    return chunk, q


# ---------------------------------------------------------------- reading
# Public readers take a Reader; each `_name(d, p, ...)` twin is the fast core.

def read_value(r: Reader, depth: int = 0):
    return r.run(_value, depth)


def read_fields(r: Reader, n: int, depth: int) -> dict:
    return r.run(_fields, n, depth)


def read_int(r: Reader) -> int:
    return r.run(_int)


def read_double(r: Reader) -> float:
    return r.run(_double)


def read_length(r: Reader) -> int:
    return r.run(_length)


def read_string(r: Reader) -> str:
    return r.run(_string)


def read_date(r: Reader) -> _dt.datetime:
    return r.run(_date)


def read_uuid(r: Reader) -> uuid.UUID:
    return r.run(_uuid)


def read_name(r: Reader, table: tuple = FIELD_NAMES) -> str:
    return r.run(_name, table)


def read_path_segment(r: Reader) -> str:
    return r.run(_name, PATH_NAMES)


_SCALARS = (None, False, True)


def _value(d: bytes, p: int, depth: int):
    t = d[p] % 12
    p += 1
    if t < T_INT:
        return _SCALARS[t], p
    if t == T_INT:
        return _int(d, p)
    if t == T_DOUBLE:
        return _double(d, p)
    if t == T_STRING:
        return _string(d, p)
    if t == T_DATA:
        n, p = _length(d, p)
        return _take(d, p, n)
    if t == T_DATE:
        return _date(d, p)
    if t == T_UUID:
        return _uuid(d, p)
    if depth >= MAX_NESTING:
        return None, p
    n = d[p] % (MAX_LEN + 1)
    p += 1
    if t == T_ARRAY:
        out = []
        for _ in range(n):
            v, p = _value(d, p, depth + 1)
            out.append(v)
        return out, p
    if t == T_DICT:
        return _fields(d, p, n, depth + 1)
    out = []
    for _ in range(n):
        v, p = _double(d, p)
        out.append(v)
    return Vec(out), p


def _fields(d: bytes, p: int, n: int, depth: int):
    out = {}
    for _ in range(n):
        b = d[p]
        if b < 0xF0:
            name = FIELD_NAMES[b % _N_FIELD_NAMES]
            p += 1
        else:
            name, p = _string(d, p + 1)
        out.pop(name, None)  # a repeated name keeps the later value, in the later position
        out[name], p = _value(d, p, depth)
    return out, p


_N_FIELD_NAMES = len(FIELD_NAMES)
_INT_BYTE = tuple(range(-0x70, 0xE0 - 0x70)) + INT_TABLE
_DOUBLE_BYTE = tuple((s - 0x70) / 4 for s in range(0xE0)) + FLOAT_TABLE


def _int(d: bytes, p: int):
    s = d[p]
    if s < 0xF0:
        return _INT_BYTE[s], p + 1
    b, p = _take(d, p + 1, 8)
    return int.from_bytes(b, "little", signed=True), p


def _double(d: bytes, p: int):
    s = d[p]
    if s < 0xF0:
        return _DOUBLE_BYTE[s], p + 1
    b, p = _take(d, p + 1, 8)
    v = _unpack_double(b)[0]
    return (NAN if v != v else v), p


_unpack_double = struct.Struct("<d").unpack


def _length(d: bytes, p: int):
    n = d[p]
    return (n % (SHORT + 1), p + 1) if n < 0xF0 else (d[p + 1], p + 2)


_CHAR_BYTE = tuple(chr(c) for c in range(0x80)) + tuple(
    EXTRA_CHARS[(c - 0x80) % len(EXTRA_CHARS)] for c in range(0x80, 0xF0))


def _string(d: bytes, p: int):
    n, p = _length(d, p)
    chars = []
    for _ in range(n):
        c = d[p]
        if c < 0xF0:
            chars.append(_CHAR_BYTE[c])
            p += 1
        else:
            cp = int.from_bytes(d[p + 1:p + 4], "little") % 0x110000
            d[p + 3]  # IndexError (more padding) if the 3 bytes ran past it
            chars.append("\ufffd" if 0xD800 <= cp < 0xE000 else chr(cp))
            p += 4
    return "".join(chars), p


def _date(d: bytes, p: int):
    s = d[p]
    if s < 0xF0:
        return DATE_TABLE[s % len(DATE_TABLE)], p + 1
    b, p = _take(d, p + 1, 8)
    us = DATE_MIN_US + int.from_bytes(b, "little") % DATE_SPAN
    return EPOCH + _dt.timedelta(microseconds=us), p


def _uuid(d: bytes, p: int):
    s = d[p]
    if s < 0xFF:
        return ID_TABLE[s], p + 1
    b, p = _take(d, p + 1, 16)
    return uuid.UUID(bytes=b), p


def _name(d: bytes, p: int, table: tuple = FIELD_NAMES):
    n = d[p]
    return (table[n % len(table)], p + 1) if n < 0xF0 else _string(d, p + 1)


# ---------------------------------------------------------------- writing

def write_value(out: bytearray, v, depth: int = 0) -> None:
    if v is None:
        out.append(T_NULL)
    elif v is False:
        out.append(T_FALSE)
    elif v is True:
        out.append(T_TRUE)
    elif type(v) is int:
        out.append(T_INT)
        write_int(out, v)
    elif type(v) is float:
        out.append(T_DOUBLE)
        write_double(out, v)
    elif type(v) is str:
        out.append(T_STRING)
        write_string(out, v)
    elif type(v) is bytes:
        if len(v) > 255:
            raise ValueError(f"data value of {len(v)} bytes is outside the op grammar (max 255)")
        out.append(T_DATA)
        write_length(out, len(v))
        out += v
    elif isinstance(v, _dt.datetime):
        out.append(T_DATE)
        write_date(out, v)
    elif isinstance(v, uuid.UUID):
        out.append(T_UUID)
        write_uuid(out, v)
    elif isinstance(v, (list, dict, Vec)):
        if depth >= MAX_NESTING:
            raise ValueError(f"nesting deeper than {MAX_NESTING} is outside the op grammar")
        if len(v) > MAX_LEN:
            raise ValueError(f"container of {len(v)} elements is outside the op grammar (max {MAX_LEN})")
        if isinstance(v, Vec):
            out += bytes((T_VECTOR, len(v)))
            for x in v:
                write_double(out, float(x))
        elif isinstance(v, list):
            out += bytes((T_ARRAY, len(v)))
            for x in v:
                write_value(out, x, depth + 1)
        else:
            out += bytes((T_DICT, len(v)))
            write_fields(out, v, depth + 1)
    else:
        raise ValueError(f"{type(v).__name__} value {v!r} is outside the op grammar")


def write_fields(out: bytearray, fields: dict, depth: int) -> None:
    for name, value in fields.items():
        write_name(out, name)
        write_value(out, value, depth)


def write_int(out: bytearray, v: int) -> None:
    if -0x70 <= v < 0xE0 - 0x70:
        out.append(v + 0x70)
    elif v in _INT_CODE:
        out.append(_INT_CODE[v])
    elif -2**63 <= v < 2**63:
        out.append(0xF0)
        out += v.to_bytes(8, "little", signed=True)
    else:
        raise ValueError(f"int {v} is outside the op grammar")


def write_double(out: bytearray, v: float) -> None:
    if v != v:
        out.append(0xE0)  # FLOAT_TABLE[0] is NaN
        return
    bits = struct.pack("<d", v)
    q = v * 4
    if math.isfinite(q) and q == int(q) and -0x70 <= q < 0xE0 - 0x70 \
            and not (v == 0 and math.copysign(1, v) < 0):
        out.append(int(q) + 0x70)
        return
    if bits in _FLOAT_BITS_CODE:
        out.append(_FLOAT_BITS_CODE[bits])
        return
    out.append(0xF0)
    out += bits


def write_length(out: bytearray, n: int) -> None:
    if n <= SHORT:
        out.append(n)
    else:
        out += bytes((0xF0, n))


def write_string(out: bytearray, s: str) -> None:
    if len(s) > MAX_STR:
        raise ValueError(f"string of {len(s)} characters is outside the op grammar (max {MAX_STR})")
    write_length(out, len(s))
    for ch in s:
        cp = ord(ch)
        if cp < 0x80:
            out.append(cp)
        elif ch in _CHAR_CODE:
            out.append(_CHAR_CODE[ch])
        elif 0xD800 <= cp < 0xE000:
            raise ValueError(f"lone surrogate U+{cp:04X} is outside the op grammar")
        else:
            out.append(0xF0)
            out += cp.to_bytes(3, "little")


def write_date(out: bytearray, d: _dt.datetime) -> None:
    if d.tzinfo is None:
        raise ValueError("naive datetime is outside the op grammar (dates are UTC-aware)")
    if d in _DATE_CODE and d.tzinfo is UTC:
        out.append(_DATE_CODE[d])
        return
    if d.tzinfo is not UTC:
        raise ValueError("only UTC datetimes are in the op grammar")
    out.append(0xF0)
    out += (_micros(d) - DATE_MIN_US).to_bytes(8, "little")


def write_uuid(out: bytearray, u: uuid.UUID) -> None:
    code = _ID_CODE.get(u)
    if code is not None:
        out.append(code)
    else:
        out.append(0xFF)
        out += u.bytes


def write_path_segment(out: bytearray, name: str) -> None:
    write_name(out, name, _PATH_CODE)


def write_name(out: bytearray, name: str, codes: dict = _FIELD_CODE) -> None:
    code = codes.get(name)
    if code is not None:
        out.append(code)
    else:
        out.append(0xF0)
        write_string(out, name)
