"""Test fixture: a failure reachable only with Python comparison tracing.

The first 8 bytes must equal one 64-bit constant and the next 4 one byte
string; guessing them is hopeless (2**-96), but Atheris reports both
comparisons to libFuzzer (an integer compare and a memcmp), whose mutators
then write the operands into the input.
"""


class ComparisonsSolved(AssertionError):
    """The failure behind both comparisons."""


MAGIC = 0x5EED_F00D_CAFE_B0BA


def test_one_input(data: bytes) -> None:
    if len(data) < 12:
        return
    if int.from_bytes(data[:8], "little") == MAGIC and data[8:12] == b"Blz!":
        raise ComparisonsSolved("both traced comparisons were solved")
