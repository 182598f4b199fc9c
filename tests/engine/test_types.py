"""engine.types: the Vector value type and the MISSING sentinel."""
from __future__ import annotations

import array
import copy
import math
import pickle
import struct
from fractions import Fraction

import pytest

from engine.errors import InvalidRecordError
from engine.types import MISSING, MissingType, Vector


def test_vector_is_built_from_any_iterable_of_real_numbers():
    v = Vector(x for x in [1, 2.5, Fraction(1, 4), -0.0])
    assert v.tolist() == [1.0, 2.5, 0.25, -0.0]
    assert all(type(x) is float for x in v)
    assert Vector(array.array("d", [1.5])) == Vector([1.5]) == Vector(Vector([1.5]))
    assert len(Vector()) == 0


def test_vector_keeps_full_precision_and_special_values_bit_for_bit():
    values = [0.1, 1 / 3, 5e-324, 1.7976931348623157e308, -0.0, math.inf, -math.inf]
    v = Vector(values)
    assert [struct.pack("<d", x) for x in v] == [struct.pack("<d", x) for x in values]
    nan = struct.unpack("<d", b"\x01\x00\x00\x00\x00\x00\xf8\x7f")[0]
    assert Vector([nan]).tobytes() == struct.pack("<d", nan)


@pytest.mark.parametrize("bad, fragment", [
    ([True], "bool"), ([1, "2"], "element 1: str"), ([None], "NoneType"), ([1j], "complex"),
    ([2**53 + 1], "int 9007199254740993 is not exactly representable"),
    ([2**1024], "int of 1025 bits is not exactly"), ([10**5000], "not exactly representable"),
])
def test_vector_refuses_non_numbers_and_ints_it_would_round(bad, fragment):
    with pytest.raises(InvalidRecordError, match=fragment):
        Vector(bad)


def test_vector_is_an_immutable_sequence():
    v = Vector([1, 2, 3, 4])
    assert v[0] == 1.0 and v[-1] == 4.0 and v[1:3] == Vector([2, 3]) and v[::-2] == Vector([4, 2])
    assert 3 in v and 3.0 in v and "3" not in v and True not in v
    assert list(reversed(v)) == [4.0, 3.0, 2.0, 1.0] and v.index(3) == 2 and v.count(1) == 1
    with pytest.raises(IndexError):
        v[4]
    with pytest.raises(TypeError):
        v[0] = 5              # type: ignore[index]
    with pytest.raises(AttributeError):
        v._data = b""         # type: ignore[misc]


def test_vector_equality_and_hash_follow_blazedb_number_semantics():
    assert Vector([-0.0]) == Vector([0.0]) and hash(Vector([-0.0])) == hash(Vector([0.0]))
    nan_a = math.nan
    nan_b = struct.unpack("<d", b"\x01\x00\x00\x00\x00\x00\xf8\xff")[0]
    assert Vector([nan_a, 1]) == Vector([nan_b, 1])
    assert hash(Vector([nan_a, 1])) == hash(Vector([nan_b, 1]))
    assert Vector([1, 2]) != Vector([1, 2, 3]) and Vector([1]) != Vector([2])
    assert Vector([1, 2]) != [1.0, 2.0] and Vector([1, 2]) != (1.0, 2.0)
    assert len({Vector([1]), Vector([1.0]), Vector([2])}) == 2


def test_vector_repr_is_exact():
    v = Vector([0.1, 1 / 3, -0.0])
    assert repr(v) == "Vector([0.1, 0.3333333333333333, -0.0])"
    assert eval(repr(v)) == v


def test_vector_bytes_pickle_and_copy():
    v = Vector([1.5, -2.0])
    assert v.tobytes() == struct.pack("<2d", 1.5, -2.0)
    assert Vector.frombytes(v.tobytes()) == v
    assert pickle.loads(pickle.dumps(v)) == v and copy.deepcopy(v) == v
    with pytest.raises(InvalidRecordError, match="multiple of 8"):
        Vector.frombytes(b"123")


def test_missing_is_a_falsy_singleton_that_survives_pickling():
    assert MissingType() is MISSING and not MISSING and repr(MISSING) == "MISSING"
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING and copy.copy(MISSING) is MISSING
