"""Test fixture, not a BlazeDB target: it fails only on one input that its own
custom mutator makes and byte mutations practically never do (the input is
compared by hash, so no comparison hint leads there). A run finds it only when
the harness installed the custom mutator, which also hands every other call
to libFuzzer's own (byte_mutate)."""
import hashlib

MAGIC = b"made by the custom mutator"
_MAGIC_HASH = hashlib.sha256(MAGIC).digest()


class CustomMutatorUsed(Exception):
    pass


def test_one_input(data: bytes) -> None:
    if hashlib.sha256(data).digest() == _MAGIC_HASH:
        raise CustomMutatorUsed("the harness installed custom_mutator")


def custom_mutator(data: bytes, max_size: int, seed: int, byte_mutate) -> bytes:
    if seed % 50 == 0 and len(MAGIC) <= max_size:
        return MAGIC
    return byte_mutate(data, max_size)
