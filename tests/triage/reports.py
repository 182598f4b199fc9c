"""Crash reports in the shapes the fuzzers print (see shared/NATIVE_FUZZING.md), made to order.

`report(bug, variant)` gives the report of distinct bug number `bug`; different
`variant`s of one bug differ only in what a signature must ignore (line
numbers, addresses, PIDs, the input bytes), so they belong in one bucket.
"""
from __future__ import annotations

import json
from pathlib import Path

PY_BUGS = [
    ("KeyError", "'missing'", ["engine/query.py:_eval_path", "engine/query.py:evaluate", "engine/collection.py:find"]),
    ("fuzz.oracles.OracleMismatch", "fetch_all differs from the model", ["fuzz/oracles.py:check_equal", "engine/collection.py:fetch_all", "engine/pager.py:read_page"]),
    ("ValueError", "bad vector", ["engine/types.py:Vector.__init__", "engine/codec.py:decode_value", "engine/codec.py:decode"]),
    ("engine.errors.TransactionError", "nested begin", ["engine/txn.py:begin", "engine/db.py:transaction", "engine/db.py:__enter__"]),
    ("AssertionError", "", ["engine/btree.py:split", "engine/btree.py:insert", "engine/collection.py:insert"]),
]
ASAN_BUGS = [
    ("heap-buffer-overflow", "WRITE", ["codec_put_varint", "codec_encode_value", "codec_encode"]),
    ("heap-use-after-free", "READ", ["bt_cursor_next", "bt_scan", "store_scan_next"]),
    ("heap-buffer-overflow", "READ", ["pager_read_page", "bt_search", "store_get"]),
]
BUG_COUNT = len(PY_BUGS) + len(ASAN_BUGS)


def python_report(bug: int, variant: int) -> str:
    exc, message, frames = PY_BUGS[bug]
    lines = ["", " === Uncaught Python exception: ===", f"{exc}: {message}",
             "Traceback (most recent call last):",
             f'  File "/work/main/fuzz/targets/ops.py", line {40 + variant}, in test_one_input',
             "    run(ops)"]
    for depth, frame in enumerate(reversed(frames)):
        file, function = frame.split(":")
        lines += [f'  File "/work/main/{file}", line {100 + 7 * depth + variant}, in {function}',
                  "    something()"]
    lines += [f"{exc}: {message}", "",
              f"=={1000 + variant}== ERROR: libFuzzer: fuzz target exited",
              "SUMMARY: libFuzzer: fuzz target exited",
              f"MS: 1 ChangeByte-; base unit: {variant:040x}",
              f"0x{variant:02x},0x0a,", "artifact_prefix='crashes/ops/'; Test unit written to "
              f"crashes/ops/crash-{variant:040x}", "Base64: AAo="]
    return "\n".join(lines) + "\n"


def asan_report(bug: int, variant: int) -> str:
    kind, access, frames = ASAN_BUGS[bug]
    pid = 4000 + variant
    lines = ["=" * 65,
             f"=={pid}==ERROR: AddressSanitizer: {kind} on address 0x60200000{variant:04x} "
             f"at pc 0x7f00{variant:08x} bp 0x7ffd sp 0x7ffd",
             f"{access} of size {1 + variant % 4} at 0x60200000{variant:04x} thread T0"]
    for depth, function in enumerate(frames):
        lines.append(f"    #{depth} 0x7f12{depth:08x} in {function} "
                     f"/work/main/engine/csrc/codec/codec.c:{200 + depth * 13 + variant}:5")
    lines += ["    #3 0x55d1000000 in _PyEval_EvalFrameDefault /usr/src/python/ceval.c:4760:7",
              "", f"SUMMARY: AddressSanitizer: {kind} /work/main/engine/csrc/codec/codec.c:200 in {frames[0]}",
              f"=={pid}==ABORTING", "MS: 2 ShuffleBytes-InsertByte-;", "Base64: AAo="]
    return "\n".join(lines) + "\n"


def report(bug: int, variant: int = 0) -> str:
    if bug < len(PY_BUGS):
        return python_report(bug, variant)
    return asan_report(bug - len(PY_BUGS), variant)


def write_artifact(directory: Path, bug: int, variant: int, *, target: str = "ops",
                   payload: bytes | None = None, kind: str = "crash") -> Path:
    """An artifact with a sidecar holding bug `bug`'s report; content unique per (bug, variant)."""
    directory.mkdir(parents=True, exist_ok=True)
    data = payload if payload is not None else f"bug={bug};variant={variant};".encode() * 3
    import hashlib
    sha1 = hashlib.sha1(data).hexdigest()
    path = directory / f"{kind}-{sha1}"
    path.write_bytes(data)
    (directory / f"{kind}-{sha1}.json").write_text(json.dumps({
        "target": target, "kind": kind, "build_id": "test-build", "build_flavor": "asan",
        "time": f"2026-11-25T12:{variant % 60:02d}:00Z", "argv": ["fuzz.run"],
        "report": report(bug, variant), "sha1": sha1, "size": len(data)}))
    return path
