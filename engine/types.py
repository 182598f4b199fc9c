"""The Python side of BlazeDB's field types: `Vector`, the `MISSING` sentinel and the mapping.

A record is a `dict` from field name (`str`) to value. The eleven field types
and the Python values that stand for them (the C codec `engine._codec`
enforces this table; see engine/doc/record_format.md for the bytes):

| BlazeDB type | accepted on write                          | returned on read             |
|--------------|--------------------------------------------|------------------------------|
| string       | `str` (no lone surrogates)                 | `str`                        |
| int          | `int` in [-2**63, 2**63-1] (not `bool`)    | `int`                        |
| double       | `float` (NaN payload, ±inf, -0.0 kept)     | `float`                      |
| bool         | `bool`                                     | `bool`                       |
| date         | timezone-aware `datetime.datetime`, UTC     | `datetime` with              |
|              | instant in years 1..9999, microseconds     | `tzinfo=datetime.timezone.utc` |
| uuid         | `uuid.UUID`                                | `uuid.UUID`                  |
| data         | `bytes`, `bytearray`, `memoryview`         | `bytes`                      |
| array        | `list`, `tuple`                            | `list`                       |
| dictionary   | `dict` with `str` keys                     | `dict` (keys in code-point order) |
| vector       | `Vector`                                   | `Vector`                     |
| null         | `None`                                     | `None`                       |

Anything else (a naive datetime, a set, an int beyond 64 bits, a non-str key)
raises `InvalidRecordError`; a value beyond a documented limit raises
`RecordTooLargeError` (both name the field path, e.g. `address.tags[3]`).

`MISSING` stands for an absent field in index keys and queries; it is never
stored. This module imports nothing from the C core: `engine._codec` imports
it at load time to recognise `Vector` and `MISSING`.
"""
from __future__ import annotations

import math
import numbers
import struct
from collections.abc import Iterable, Sequence
from typing import Self

from engine.errors import InvalidRecordError

__all__ = ["MISSING", "MissingType", "Vector"]

_DOUBLE = struct.Struct("<d")


def _as_float64(x: object, position: int) -> float:
    """One vector element as a float64, refusing anything that would be rounded or guessed."""
    if type(x) is float:
        return x
    if isinstance(x, bool):
        raise InvalidRecordError(f"Vector element {position}: bool {x!r} is not a number "
                                 "(BlazeDB keeps bool and numbers apart)")
    if isinstance(x, numbers.Integral):
        n = int(x)
        try:
            f = float(n)
        except OverflowError:
            f = math.inf
        if math.isinf(f) or int(f) != n:
            shown = n if n.bit_length() <= 128 else f"of {n.bit_length()} bits"
            raise InvalidRecordError(f"Vector element {position}: int {shown} is not exactly "
                                     "representable as a float64")
        return f
    if isinstance(x, numbers.Real):
        return float(x)
    raise InvalidRecordError(f"Vector element {position}: {type(x).__name__} {x!r:.60} "
                             "is not a real number")


def _num_eq(a: float, b: float) -> bool:
    """BlazeDB number equality: -0.0 == 0.0 and every NaN equals every NaN."""
    return a == b or (math.isnan(a) and math.isnan(b))


class Vector(Sequence):
    """An immutable sequence of float64 values (BlazeDB's vector type).

    `Vector([1, 2.5, math.nan])` accepts any iterable of real numbers; ints must
    be exactly representable as float64 and bools are refused. Values are kept
    bit for bit (full precision, NaN payloads, -0.0). Equality and hashing
    follow BlazeDB's number semantics elementwise (-0.0 == 0.0, NaN == NaN), so
    a vector equals itself after a round trip through the database. A Vector
    never equals a list or tuple: they are different BlazeDB types.
    """

    __slots__ = ("_data", "_hash")   # _data: little-endian float64s; set by C too

    def __init__(self, values: Iterable[float] = ()) -> None:
        if isinstance(values, Vector):
            data = values._data
        elif type(values) in (list, tuple) and all(type(x) is float for x in values):
            data = struct.pack(f"<{len(values)}d", *values)     # the common case, no checks needed
        else:
            floats = [_as_float64(x, i) for i, x in enumerate(values)]
            data = struct.pack(f"<{len(floats)}d", *floats)
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_hash", None)

    @classmethod
    def frombytes(cls, data: bytes | bytearray | memoryview) -> Vector:
        """The vector whose elements are the little-endian float64s in `data`."""
        data = bytes(data)
        if len(data) % 8:
            raise InvalidRecordError(f"Vector.frombytes: {len(data)} bytes is not a "
                                     "multiple of 8 (one float64 each)")
        vec = cls.__new__(cls)
        object.__setattr__(vec, "_data", data)
        object.__setattr__(vec, "_hash", None)
        return vec

    def tobytes(self) -> bytes:
        """The elements as little-endian float64s (the codec's storage form)."""
        return self._data

    def tolist(self) -> list[float]:
        return list(struct.unpack(f"<{len(self._data) >> 3}d", self._data))

    def __len__(self) -> int:
        return len(self._data) >> 3

    def __getitem__(self, index):
        if isinstance(index, slice):
            picked = range(*index.indices(len(self._data) >> 3))
            if picked.step == 1:
                return Vector.frombytes(self._data[8 * picked.start:8 * picked.stop])
            return Vector.frombytes(b"".join(self._data[8 * i:8 * i + 8] for i in picked))
        n = len(self._data) >> 3
        i = index.__index__()
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"Vector index {index} out of range for length {n}")
        return _DOUBLE.unpack_from(self._data, 8 * i)[0]

    def __iter__(self):
        return iter(self.tolist())

    def __reversed__(self):
        return reversed(self.tolist())

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        return any(_num_eq(x, value) for x in self.tolist())

    def __eq__(self, other: object):
        if not isinstance(other, Vector):
            return NotImplemented
        if self._data == other._data:
            return True
        if len(self._data) != len(other._data):
            return False
        return all(_num_eq(a, b) for a, b in zip(self.tolist(), other.tolist()))

    def __ne__(self, other: object):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            # Normalise so that equal vectors hash alike: -0.0 -> 0.0, every NaN -> one key.
            h = hash(("Vector",) + tuple(None if math.isnan(x) else x + 0.0 for x in self.tolist()))
            object.__setattr__(self, "_hash", h)
        return h

    def __repr__(self) -> str:
        return f"Vector([{', '.join(map(repr, self.tolist()))}])"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Vector is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Vector is immutable")

    def __reduce__(self):
        return (Vector.frombytes, (self._data,))


class MissingType:
    """The type of `MISSING`: an absent field (in index keys and queries). Never stored."""

    __slots__ = ()
    _instance: MissingType | None = None

    def __new__(cls) -> Self:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"


MISSING = MissingType()
