"""Test fixture, not a BlazeDB target: drives the fixture `_codec` (fixture_csrc/).

Under the planted build a tag-0x7F entry longer than 8 bytes overflows a heap
buffer (an ASan report); inputs starting with b"BUG!" raise a Python
exception standing in for an oracle mismatch.
"""
from engine._native import codec


class FixtureMismatch(AssertionError):
    """Stands in for fuzz.oracles.OracleMismatch in the runner's tests."""


def test_one_input(data: bytes) -> None:
    if data[:4] == b"BUG!":
        raise FixtureMismatch("fixture oracle: input starts with BUG!")
    try:
        codec.parse(data)
    except ValueError:
        pass  # the documented rejection of long 0x7F entries
