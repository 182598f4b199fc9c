"""Severity of a crash: "high", "medium" or "low" (issue 5, step 4).

Decided from the parsed report alone, so the same bucket always gets the
same severity. The scale asks one question: could a user of BlazeDB lose or
corrupt data, or could a crafted file or input take over the process?

high
  - native memory writes out of bounds: any ASan "… WRITE" (heap/stack/
    global-buffer-overflow WRITE, SEGV WRITE, use-after-* WRITE);
  - use-after-free and its kin, READ or WRITE (heap-use-after-free,
    stack-use-after-return, stack-use-after-scope, use-after-poison):
    the memory read may already belong to someone else's write;
  - double-free, bad-free, alloc-dealloc-mismatch: the allocator's own
    state is corrupted;
  - oracle mismatches that lose or corrupt stored data: "recovery"
    (committed data lost after a crash, or uncommitted data present),
    "reopen" (data differs after close/reopen), "check" (check() finds
    corruption) and "roundtrip" (a record does not decode to what was
    encoded: it is stored wrong).
medium
  - native out-of-bounds READs (heap/stack/global/container/dynamic-stack
    overflow READ), SEGV READ, null-deref, stack-overflow, any other ASan
    report: a crash a crafted input can trigger, an information leak at worst;
  - UBSan checks that usually mean a memory error the sanitizer did not
    catch: index-out-of-bounds, null-pointer-use, pointer-overflow,
    nonnull-argument, object-size, function-type-mismatch;
  - deadly signals (abort/assert in the C core, SIGFPE, …): the host
    application dies;
  - oracle mismatches that give a silently wrong answer: "result",
    "final-state", "index-vs-scan", "partition", "corrupt-open", "error"
    (the engine raised where the model did not, so a write was refused, or
    did not raise where it should: the planted "delete leaves the key"
    bug of the ops target shows up as this kind), and any kind this table
    does not know yet;
  - SystemError: the C extension broke the C-API contract (e.g. returned
    NULL without an exception).
low
  - plain Python exceptions (an undocumented error class escaping the API);
  - other UBSan checks (integer overflow, shifts, misalignment, …);
  - timeouts, out-of-memory, leaks, slow units, and unparsed output
    ("unknown": nothing known to rank).
"""
from __future__ import annotations

from triage.parsing.model import CrashReport

HIGH, MEDIUM, LOW = "high", "medium", "low"
SEVERITIES = (HIGH, MEDIUM, LOW)

_HIGH_ASAN_TYPES = frozenset({"double-free", "bad-free", "alloc-dealloc-mismatch"})
_USE_AFTER = ("heap-use-after-free", "stack-use-after-return", "stack-use-after-scope", "use-after-poison")
_MEDIUM_UBSAN = frozenset({"index-out-of-bounds", "null-pointer-use", "pointer-overflow", "nonnull-argument",
                           "object-size", "function-type-mismatch"})
ORACLE_SEVERITY = {
    "recovery": HIGH, "reopen": HIGH, "check": HIGH, "roundtrip": HIGH, "lost-commit": HIGH,
    "result": MEDIUM, "final-state": MEDIUM, "index-vs-scan": MEDIUM, "partition": MEDIUM,
    "corrupt-open": MEDIUM, "error": MEDIUM,
}
_MEDIUM_EXCEPTIONS = frozenset({"SystemError"})


def _asan(crash_type: str) -> str:
    bug, _, access = crash_type.partition(" ")
    if access == "WRITE" or bug in _HIGH_ASAN_TYPES or bug.startswith(_USE_AFTER):
        return HIGH
    return MEDIUM


def severity_of(report: CrashReport) -> str:
    kind = report.kind
    if kind == "asan":
        return _asan(report.crash_type)
    if kind == "oracle-mismatch":
        oracle_kind = report.crash_type.partition(":")[2].strip()
        return ORACLE_SEVERITY.get(oracle_kind, MEDIUM)
    if kind == "ubsan":
        return MEDIUM if report.crash_type in _MEDIUM_UBSAN else LOW
    if kind == "deadly-signal":
        return MEDIUM
    if kind == "python-exception":
        return MEDIUM if report.crash_type in _MEDIUM_EXCEPTIONS else LOW
    return LOW
