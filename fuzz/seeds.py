"""Regenerates the committed seed corpora and dictionaries under corpus/.

    python -m fuzz.seeds [--root DIR]

Deterministic: the same sources give byte-identical files. Seeds are small,
meaningful op lists made with fuzz.opstream.encode (ops, crash), encoded
records and generated-record inputs (codec), real database files written by
those op lists (file), and fixed choice buffers (stateful). Each seed file is
named after what it exercises. Dictionaries (libFuzzer format) hold the
multi-byte tokens of each input grammar.

Seeds avoid ids ending in byte 0x2A on purpose: the planted-bug self-test
(fuzz.run --build planted) must find that bug by mutation, not by replaying a
seed.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import math
import random
import uuid
from pathlib import Path

from fuzz import opstream as O
from fuzz import values as V
from fuzz.values import Vec

ROOT = Path(__file__).resolve().parent.parent
ID = V.ID_TABLE            # ID[b] ends with byte b; never use ID[0x2A] here
D = _dt.datetime


def _rid(i: int) -> uuid.UUID:
    assert i != 0x2A, "seed ids must not end in 0x2A (planted-bug self-test)"
    return ID[i]


# The eleven types over three records (a record holds at most MAX_FIELDS fields).
ALL_TYPES = {"s": "héllo", "n": 42, "x": 2.5, "t": True, "name": None}
ALL_TYPES_2 = {"a": D(2024, 2, 29, 12, 0, tzinfo=V.UTC), "b": uuid.UUID(int=7),
               "c": b"\x00\xff", "tags": ["red", 3, 1.0], "meta": {"a": 1, "b": [None, False]}}
ALL_TYPES_VEC = {"x": Vec((0.5, -0.0, V.NAN)), "n": -2**63, "s": ""}


def ops_seeds() -> dict[str, list]:
    r = [_rid(i) for i in range(1, 12)]
    return {
        "crud": [
            O.Insert(r[0], {"a": 1, "s": "x"}), O.Insert(r[1], {"a": 2, "tags": ["p", "q"]}),
            O.Fetch(0), O.Update(0, {"a": 5, "n": 1.5}), O.Replace(1, {"s": "y"}),
            O.Upsert(r[2], {"a": 3}), O.Upsert(0, {"b": True}), O.Delete(1), O.Fetch(1),
            O.Delete(1), O.Fetch(uuid.UUID(int=1)), O.Check(),
        ],
        "all-types": [
            O.Insert(r[0], ALL_TYPES), O.Insert(r[1], ALL_TYPES_VEC), O.Insert(r[2], ALL_TYPES_2),
            O.Query(O.Exists(("meta", "a")), ((("s",), False),), None, None),
            O.Query(None, ((("x",), True), (("n",), False)), None, None),
            O.Fetch(0), O.Fetch(1), O.Reopen(), O.Fetch(2),
        ],
        "index-unique": [
            O.Insert(r[0], {"a": 1, "b": "u"}), O.Insert(r[1], {"a": 1.0, "b": "v"}),
            O.CreateIndex((("a",),), True), O.DeleteAll(O.Cmp(("b",), "==", "v")),
            O.CreateIndex((("a",),), True), O.Insert(r[2], {"a": 1}), O.Insert(r[3], {"b": "w"}),
            O.Query(O.Cmp(("a",), "==", 1), (), None, None), O.DropIndex((("a",),)),
            O.Insert(r[2], {"a": 1}), O.Check(),
        ],
        "index-compound": [
            O.CreateIndex((("a",), ("b",)), False),
            O.InsertMany(((r[0], {"a": 1, "b": "x"}), (r[1], {"a": 1, "b": "y"}),
                          (r[2], {"a": 2}), (r[3], {"a": 0.5, "b": "x"}))),
            O.Query(O.And(O.Cmp(("a",), "==", 1), O.Cmp(("b",), ">=", "x")), ((("b",), True),), 5, None),
            O.Query(O.Between(("a",), 0, 1), (), None, 1), O.Count(O.In(("a",), (1, 2))),
            O.Query(O.Cmp(("a",), "==", 1), (), 1, None, "count"), O.Query(None, ((("a",), False),), 2, None, "first"),
            O.Update(2, {"a": 1}), O.Delete(0), O.Query(O.Cmp(("a",), "==", 1), (), None, None),
        ],
        "transactions": [
            O.Begin(), O.Insert(r[0], {"a": 1}), O.Rollback(), O.Fetch(0),
            O.Begin(), O.Insert(r[1], {"a": 2}), O.CreateIndex((("a",),), False), O.Commit(),
            O.Begin(), O.Delete(1), O.Reopen(), O.Fetch(1), O.Commit(), O.Begin(), O.Begin(),
            O.Checkpoint(), O.Rollback(),
        ],
        "queries": [
            O.InsertMany(((r[0], {"a": 1, "s": "abc", "tags": ["x", 2]}),
                          (r[1], {"a": 2.5, "s": "b", "meta": {"a": None}}),
                          (r[2], {"a": "1", "tags": [], "s": None}),
                          (r[3], {"a": V.NAN, "meta": {"a": [1]}}))),
            O.Query(O.Cmp(("a",), "<", 2), ((("a",), False),), None, None),
            O.Query(O.Not(O.Cmp(("a",), "!=", 1)), (), None, None),
            O.Query(O.Contains(("s",), "b"), ((("s",), True),), 2, 0, "first"),
            O.Query(O.Contains(("tags",), 2), (), None, None, "exists"),
            O.Query(O.Cmp(("id",), "==", _rid(2)), (), None, None),
            O.Query(O.Exists(("a",)), ((("a",), True),), 2, 1, "count"),
            O.Query(None, ((("s",), False),), None, None, "all", (("s",), ("meta", "a"))),
            O.Query(O.Or(O.Missing(("meta", "a")), O.NotIn(("a",), (1, "1"))), ((("meta", "a"), True),), 3, 1),
            O.Query(O.Cmp(("tags", "0"), "==", "x"), (), None, None),
            O.Count(O.Exists(("meta",))), O.Count(None),
        ],
        "aggregates": [
            O.InsertMany(((r[0], {"a": 1, "s": "g"}), (r[1], {"a": 2**62, "s": "g"}),
                          (r[2], {"a": 0.1, "s": "h"}), (r[3], {"a": 2**62, "s": 1}))),
            O.Aggregate("sum", ("a",), None, ()), O.Aggregate("avg", ("a",), None, (("s",),)),
            O.Aggregate("min", ("a",), None, (("s",),)), O.Aggregate("max", ("s",), None, ()),
            O.Aggregate("count", ("s",), O.Cmp(("a",), ">", 0), ()),
            O.Aggregate("count_all", ("a",), None, (("s",), ("a",))),
            O.Aggregate("sum", ("a",), O.Exists(("s",)), (("s",),), O.Cmp(("_agg",), ">", 1)),
        ],
        "churn": [
            *(O.Insert(r[i], {"n": i, "s": "v" * i}) for i in range(8)),
            O.CreateIndex((("n",),), False),
            *(O.Delete(i) for i in (1, 3, 5, 7)),
            O.Checkpoint(), O.Query(O.Cmp(("n",), ">=", 2), (), None, None), O.Reopen(), O.Check(),
        ],
        # Every inserted record is deleted again: deletes of many different keys.
        "churn-all": [
            *(O.Insert(_rid(i), {"n": i}) for i in range(60, 80)),
            *(O.Delete(i) for i in range(20)),
            O.Count(None),
        ],
        "churn-all-batched": [
            O.InsertMany(tuple((_rid(i), {"a": i}) for i in range(140, 144))),
            O.InsertMany(tuple((_rid(i), {"a": i}) for i in range(150, 154))),
            O.Begin(), *(O.Delete(i) for i in range(8)), O.Commit(),
            *(O.Insert(_rid(i), {}) for i in range(160, 170)), *(O.Delete(i) for i in range(8, 18)),
            O.Fetch(0),
        ],
        # Updates of an indexed field delete and re-insert index entries.
        "index-churn": [
            O.CreateIndex((("a",),), False),
            *(O.Insert(_rid(i), {"a": i}) for i in range(100, 110)),
            *(O.Update(i, {"a": -i}) for i in range(10)),
            *(O.Delete(i) for i in range(10)),
            O.Query(O.Cmp(("a",), "<", 0), (), None, None),
        ],
        "invalid": [
            O.Insert(r[0], {"a": 2**63}), O.Insert(r[1], {"é" * 200: 1}),
            O.Query(O.Between(("a",), 1, "z"), (), None, None), O.Query(O.Cmp(("a",), "==", 2**63), (), None, None),
            O.Update(uuid.UUID(int=5), {"a": 1}), O.Replace(0, {"id": uuid.UUID(int=9)}),
            O.DropIndex((("zz",),)), O.Commit(), O.Rollback(),
        ],
    }


def codec_seeds() -> dict[str, bytes]:
    from engine._native import codec
    from fuzz import driver
    out = {
        "record-all-types": codec.encode(driver.to_engine({**ALL_TYPES, **ALL_TYPES_2})),
        "record-vector": codec.encode(driver.to_engine(ALL_TYPES_VEC)),
        "record-empty": codec.encode({}),
        "record-nested": codec.encode({"a": [[{"b": [1, [2, {"c": None}]]}]]}),
        "record-long-string": codec.encode({"s": "z" * 300, "d": bytes(range(256))}),
        "record-dates": codec.encode({"lo": V.DATE_MIN, "hi": V.DATE_MAX, "e": V.EPOCH}),
    }
    rec = bytearray()
    O.write_record(rec, {"a": 1, "b": [1.5, "x"], "c": {"d": V.NAN}, "t": Vec((1.0,))})
    out["generated-record"] = bytes([0x00]) + bytes(rec)
    for name, (a, b) in {"numbers": (2**63 - 1, 2.0**63), "nan-inf": (V.NAN, -math.inf),
                         "zeros": (-0.0, 0), "strings": ("ab", "a\x00"),
                         "arrays": ([1, "a"], [1]), "dicts": ({"a": 1}, {"a": 1, "b": None})}.items():
        key = bytearray((0x01, 0))
        V.write_value(key, a, 1)
        V.write_value(key, b, 1)
        out["index-key-" + name] = bytes(key)
    out["index-key-missing"] = bytes((0x01, 1, V.T_NULL))
    return out


def file_seeds() -> dict[str, bytes]:
    from engine._native import store
    from engine.db import BlazeDB
    from fuzz import driver
    from fuzz.targets import file as file_target
    out = {}
    for name in ("crud", "index-compound", "churn"):
        fs = store.MemFS()
        db = BlazeDB("seed.blazedb", vfs=fs)
        driver_ops = [op for op in ops_seeds()[name] if type(op) is not O.Reopen]
        ids = O.IdSpace()
        for op in driver_ops:
            try:
                driver.execute(db, op, ids)
            except Exception:  # noqa: BLE001, S110 - seeds include ops that fail on purpose
                pass
            ids.note(op)
        wal = fs.read_file("seed.blazedb-wal") if "seed.blazedb-wal" in fs.files() else b""
        out[f"{name}-with-wal"] = file_target.encode_input(fs.read_file("seed.blazedb"), wal)
        db.checkpoint()
        db.close()
        out[f"{name}-checkpointed"] = file_target.encode_input(fs.read_file("seed.blazedb"))
    # One seed keeps its checksums as they are (the top bit of the header word):
    # mutations of it exercise the checksum checks themselves.
    out["crud-checkpointed-raw-checksums"] = file_target.encode_input(
        file_target.split_input(out["crud-checkpointed"])[0], reseal=False)
    out["empty"] = file_target.encode_input(b"")
    return out


def crash_seeds() -> dict[str, bytes]:
    from fuzz.targets import crash
    seeds = ops_seeds()
    return {
        "sync-fail-crud": crash.encode_input((0, 2, 0), seeds["crud"]),
        "torn-write-churn": crash.encode_input((1, 5, 100), seeds["churn"]),
        "power-loss-transactions": crash.encode_input((2, 9, 0), seeds["transactions"]),
        "enospc-write-index": crash.encode_input((3, 3, 5), seeds["index-unique"]),
        "eio-read-queries": crash.encode_input((3, 6, 2), seeds["queries"]),
    }


def stateful_seeds() -> dict[str, bytes]:
    rnd = random.Random(20261125)
    return {f"buffer-{i}": bytes(rnd.getrandbits(8) for _ in range(64 * (i + 1))) for i in range(4)}


# ---------------------------------------------------------------- dictionaries

def _escape(token: bytes) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else f"\\x{b:02X}" for b in token)


def _ops_tokens() -> dict[str, bytes]:
    tokens = {}
    for kind in O.OP_KINDS:
        tokens["op_" + kind.__name__] = bytes([O.OP_TABLE.index(kind)])
    samples = {"int64_max": 2**63 - 1, "int_big": 2**63 + 0, "float_nan": V.NAN, "float_neg_zero": -0.0,
               "two63_float": 2.0**63, "str_ab": "ab", "date_epoch": V.EPOCH, "uuid_7": uuid.UUID(int=7),
               "vec": Vec((1.0, 2.0)), "list": [1, "a"], "dict": {"a": 1}}
    for name, v in samples.items():
        buf = bytearray()
        try:
            V.write_value(buf, v, 1)
        except ValueError:
            continue
        tokens["value_" + name] = bytes(buf)
    for name, op in {"insert_a1": O.Insert(ID[1], {"a": 1}), "delete_ref0": O.Delete(0),
                     "query_eq": O.Query(O.Cmp(("a",), "==", 1), (), None, None),
                     "index_unique_a": O.CreateIndex((("a",),), True)}.items():
        tokens[name] = O.encode([op])
    return tokens


def ops_dict() -> str:
    lines = ["# libFuzzer dictionary for the op-stream grammar (fuzz/opstream.py); generated by fuzz/seeds.py"]
    lines += [f'{name}="{_escape(tok)}"' for name, tok in _ops_tokens().items()]
    return "\n".join(lines) + "\n"


def codec_dict() -> str:
    toks = {"header": b"BZ\x01", "tag_int": b"\x03", "tag_double": b"\x04", "tag_string": b"\x05",
            "tag_array": b"\x09", "tag_dict": b"\x0A", "tag_vector": b"\x0B", "varint_max": b"\xff" * 9 + b"\x01",
            "double_nan": b"\x00\x00\x00\x00\x00\x00\xf8\x7f", "double_neg_zero": b"\x00" * 7 + b"\x80",
            "uuid_zero": b"\x08" + bytes(16), "key_a": b"\x01a"}
    lines = ["# libFuzzer dictionary for engine._codec records (engine/doc/record_format.md)"]
    lines += [f'{name}="{_escape(tok)}"' for name, tok in toks.items()]
    return "\n".join(lines) + "\n"


def file_dict() -> str:
    toks = {"db_magic": b"BLAZEDB\x00", "free_magic": (0x45455246).to_bytes(4, "little"),
            "wal_magic": (0x4C575A42).to_bytes(4, "little"), "page_4096": (4096).to_bytes(4, "little"),
            "record_header": b"BZ\x01", "tree_records": b"records", "tree_catalog": b"catalog"}
    lines = ["# libFuzzer dictionary for database files (engine/doc/file_format.md, wal_format.md)"]
    lines += [f'{name}="{_escape(tok)}"' for name, tok in toks.items()]
    return "\n".join(lines) + "\n"


def generate(root: Path = ROOT, refresh_wal_seeds: bool = False) -> list[Path]:
    """Write every seed and dictionary; returns their paths. File seeds with a
    WAL are only written when missing (or with refresh_wal_seeds): a WAL header
    holds random salts, so rewriting them would change bytes on every run."""
    corpus = root / "corpus"
    written = []
    sets = {
        "ops": {name: O.encode(ops) for name, ops in ops_seeds().items()},
        "codec": codec_seeds(),
        "file": file_seeds(),
        "crash": crash_seeds(),
        "stateful": stateful_seeds(),
    }
    for target, seeds in sets.items():
        d = corpus / target
        d.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            path = d / name
            if not (name.endswith("-with-wal") and path.exists() and not refresh_wal_seeds):
                path.write_bytes(data)
            written.append(path)
    for target, text in {"ops": ops_dict(), "crash": ops_dict(), "codec": codec_dict(),
                         "file": file_dict()}.items():
        path = corpus / f"{target}.dict"
        path.write_text(text)
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.seeds", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    parser.add_argument("--refresh-wal-seeds", action="store_true",
                        help="also rewrite the file target's WAL seeds (their salts are random)")
    args = parser.parse_args(argv)
    for path in generate(args.root, args.refresh_wal_seeds):
        print(path.relative_to(args.root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
