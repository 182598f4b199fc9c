"""Test fixture: an input that reaches a new branch keeps memory, as Python code
often does (a cache, an interned name), so libFuzzer sees more mallocs than
frees. It records in $BLAZEFUZZ_TEST_REPEATS each call that repeats such an
input straight away: libFuzzer's leak check runs that input a second time."""
import os

_KEPT = {}          # branch -> the input that first reached it (kept: more mallocs than frees)
_last = None


def test_one_input(data: bytes) -> None:
    global _last
    if len(data) >= 8 and data == _last:
        with open(os.environ["BLAZEFUZZ_TEST_REPEATS"], "a") as out:
            out.write(data.hex() + "\n")
    _last = None
    if len(data) < 8:
        return
    branch = data[0] % 4        # four branches of their own, reached at random
    if branch == 0:
        branch = "zero"
    elif branch == 1:
        branch = "one"
    elif branch == 2:
        branch = "two"
    else:
        branch = "three"
    if branch not in _KEPT:
        _KEPT[branch] = bytearray(4096) + data      # a malloc never freed
        _last = data
