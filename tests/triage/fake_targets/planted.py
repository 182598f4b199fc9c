"""A fake target with a planted bug that needs two specific ops among many.

Input: pairs of bytes (opcode, key); opcode % 3 picks put / get / delete.
Bug: a `delete 42` after a `put 42` "loses" the key and a later check fails
(like the planted B+tree bug: a delete that leaves a key ending in 0x2A).
"""
OPS = ("put", "get", "delete")


def decode_input(data: bytes) -> list:
    return [(OPS[data[i] % 3], data[i + 1]) for i in range(0, len(data) - 1, 2)]


def encode_input(ops) -> bytes:
    return b"".join(bytes([OPS.index(name), key]) for name, key in ops)


def describe_input(data: bytes) -> str:
    return "\n".join(f"db.{name}({key})" for name, key in decode_input(data))


class PlantedBug(Exception):
    pass


def _check_deleted(model, store, key):
    if key in store and key not in model:
        raise PlantedBug(f"key {key} still present after delete")


def test_one_input(data: bytes) -> None:
    model, store = set(), set()
    for name, key in decode_input(data):
        if name == "put":
            model.add(key)
            store.add(key)
        elif name == "delete":
            model.discard(key)
            if key != 42:  # the planted bug: deleting 42 does nothing
                store.discard(key)
            _check_deleted(model, store, key)
