"""Structure-aware mutation of op streams (a libFuzzer custom mutator).

Why: libFuzzer's byte mutations favour the bytes 0x00 and 0xFF and runs of
one byte, and in an op stream a tag byte is an op. In a corpus grown by byte
mutations alone, Insert (tag 0x00) was 37% of the ops and Check (0xFF) 16.5%,
against 15.6% and 2.3% of the tag table, while Query had 4.5% (11.7%) and
Begin/Commit/Rollback 6.5% (10.9%): transactions and queries, where the
planner and the log are exercised, got about half of their share.

How: `mutate` hands one call in BYTE_SHARE to libFuzzer's own mutator
(`byte_mutate`, atheris.Mutate under the fuzzer: byte edits, comparison
hints, the dictionary); each other call makes one edit at op boundaries
(opstream.decode_spans), splicing bytes:

  insert   a new op at a random boundary; its kind drawn with the tag
           table's weights (opstream._WEIGHTS), its fields decoded from
           random bytes (decode is total: any bytes make an op of that kind)
  replace  one op by a new op of the same kind
  delete   one op
  copy     one op's bytes to another boundary (decoding is context-free)
  bracket  a run of ops inside Begin ... Commit or Rollback

The other ops keep their bytes as they were (comparison hints libFuzzer put
in them included), and the format does not change: a mutant is an ordinary
op stream, so artifacts, corpora and reproducers mean what they always meant.
Every choice comes from `seed`, so a fixed -seed repeats a run. A mutant
longer than max_size is cut at the last op boundary that fits.

Off by default (`python -m fuzz.run --mutator structure` turns it on). In
an 8-minute A/B run here (coverage-only build, -seed=11, both at once, one
core each), it reached cov 2,325 / ft 14,321 in 161,770 runs, against cov
2,338 / ft 14,450 in 176,738 runs for byte mutations alone. A structural
edit costs about 160 us (decode_spans), so exec/s fell 9%, and the corpus'
Check share fell from 16.5% to 6.3%, but Insert stayed at 38% and Query
gained less than a point. Coverage is blind to what it aims at (which ops
meet which state), so longer runs judged by findings should decide the
default. Under a preloaded libFuzzer it needs fuzz/csrc/mutator_shim.c.
"""
from __future__ import annotations

import random

from fuzz import opstream as O

BYTE_SHARE = 0.5
EDITS = ("insert", "replace", "delete", "copy", "bracket")
EDIT_WEIGHTS = (35, 20, 20, 10, 15)
FIELD_BYTES = 24          # random bytes after a new op's tag: enough for most ops' fields

_KINDS = tuple(kind for kind, _ in O._WEIGHTS)
_KIND_WEIGHTS = tuple(w for _, w in O._WEIGHTS)
_CODES = {kind: bytes(code for code, k in enumerate(O.OP_TABLE) if k is kind) for kind in _KINDS}
_BEGIN, _COMMIT, _ROLLBACK = (O.encode((k(),)) for k in (O.Begin, O.Commit, O.Rollback))


def new_op(rng: random.Random, kind=None) -> bytes:
    """The bytes of one random op; of `kind`, or of a kind drawn with the tag table's weights."""
    if kind is None:
        kind = rng.choices(_KINDS, _KIND_WEIGHTS)[0]
    return O.encode((O.decode(bytes((rng.choice(_CODES[kind]),)) + rng.randbytes(FIELD_BYTES))[0],))


def edit(data: bytes, rng: random.Random) -> bytes:
    """One structural edit of an op stream's bytes."""
    spans = O.decode_spans(data)
    if spans:                     # what decode read: zero padding made real, ignored bytes dropped
        data = data[:spans[-1][2]].ljust(spans[-1][2], b"\0")
    cuts = [start for _, start, _ in spans] + [len(data)]
    kind = rng.choices(EDITS, EDIT_WEIGHTS)[0] if spans else "insert"
    if kind == "insert":
        at = rng.choice(cuts)
        return data[:at] + new_op(rng) + data[at:]
    if kind == "bracket":
        a, b = sorted(rng.sample(cuts, 2))
        return data[:a] + _BEGIN + data[a:b] + (_COMMIT if rng.random() < 0.7 else _ROLLBACK) + data[b:]
    op, start, end = rng.choice(spans)
    if kind == "replace":
        return data[:start] + new_op(rng, type(op)) + data[end:]
    if kind == "delete":
        return data[:start] + data[end:]
    at = rng.choice(cuts)                       # copy
    return data[:at] + data[start:end] + data[at:]


def cut(data: bytes, max_size: int) -> bytes:
    """`data` up to its last op boundary within max_size bytes (all of it if it fits)."""
    if len(data) <= max_size:
        return data
    return data[:max((end for _, _, end in O.decode_spans(data) if end <= max_size), default=0)]


def mutate(data: bytes, max_size: int, seed: int, byte_mutate=None) -> bytes:
    """libFuzzer's LLVMFuzzerCustomMutator for op streams: a mutant of `data`
    of at most max_size bytes. `byte_mutate(data, max_size)` is libFuzzer's
    own mutator (None: structural edits only)."""
    rng = random.Random(seed)
    if byte_mutate is not None and rng.random() < BYTE_SHARE:
        return byte_mutate(data, max_size)
    return cut(edit(data, rng), max_size)
