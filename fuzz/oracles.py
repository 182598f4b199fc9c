"""Oracle failures: the one exception a fuzz target raises for a logic bug.

A fuzz target raises `OracleMismatch` when BlazeDB gives an answer that
differs from what an oracle expects (the reference model, a full scan, a
query partition, the state before a reopen, ...). It is deliberately not a
BlazeError: nothing in the engine may raise or catch it.

Message format (triage buckets on the first line, so it carries no values):

    [<kind>] op #<index> <OpName>: <expected> != <actual>
      op: <repr of the op, truncated>
      expected: <repr, truncated>
      actual: <repr, truncated>

`kind` is one of KINDS; `index` is the op's position in the decoded op list
(-1 for a check after the last op); <OpName> is the op's class name, or the
step of a byte-level target (`decode`, `encode`, `index_key`, `open`, ...).
"""
from __future__ import annotations

KINDS = {
    "result": "an op's result differs from the reference model",
    "error": "the engine raised a different error class than the model (or none, or one where none was due)",
    "index-vs-scan": "an indexed query differs from the same query forced to a full scan",
    "partition": "TLP: where(p), where(~p) do not split the whole collection",
    "reopen": "the database differs after close and reopen",
    "final-state": "the records after the last op differ from the model",
    "check": "check() reported corruption",
    "roundtrip": "decode(encode(x)) != x",
    "recovery": "after a crash and recovery, committed data is lost or uncommitted data is present",
    "corrupt-open": "a damaged file opened or failed in an undocumented way",
}

_MAX_REPR = 1500


def _short(x) -> str:
    text = x if isinstance(x, str) else repr(x)
    return text if len(text) <= _MAX_REPR else text[:_MAX_REPR] + f"... ({len(text)} chars)"


class OracleMismatch(Exception):
    """BlazeDB's answer disagrees with an oracle. See the module docstring for the message."""

    def __init__(self, kind: str, index: int, op, expected, actual, detail: str = ""):
        if kind not in KINDS:
            raise ValueError(f"unknown oracle kind {kind!r}")
        self.kind = kind
        self.index = index
        self.op = op
        self.expected = expected
        self.actual = actual
        self.detail = detail
        # An op object (ops, crash, stateful) or, for the byte-level targets, the
        # name of the step that failed ("decode", "open", ...).
        name = op if isinstance(op, str) else type(op).__name__ if op is not None else "end"
        head = f"[{kind}] op #{index} {name}: {KINDS[kind]}"
        if detail:
            head += f" ({detail})"
        super().__init__(
            f"{head}\n  op: {_short(op)}\n  expected: {_short(expected)}\n  actual: {_short(actual)}")

    def __reduce__(self):  # picklable across processes (triage, multiprocessing)
        return (type(self), (self.kind, self.index, self.op, self.expected, self.actual, self.detail))


def error_name(cls) -> str:
    return "no error" if cls is None else cls.__name__
