"""Uncaught Python exceptions and oracle mismatches.

Atheris' form (tests/triage/fixtures/atheris_*.txt):

     === Uncaught Python exception: ===
    CorruptRecordError: unknown field tag 0x42 at offset 0
    Traceback (most recent call last):
      File "/work/main/fuzz/targets/codec.py", line 24, in test_one_input
        …
    CorruptRecordError: unknown field tag 0x42 at offset 0
    ==PID== ERROR: libFuzzer: fuzz target exited

The plain form is CPython's own; with chained exceptions ("The above
exception was the direct cause …", "During handling …") the last traceback
is the one that propagated. Crash type: the unqualified class name (Atheris
prints `CorruptRecordError`, CPython `engine.api.CorruptRecordError`: one
bug, one type).

fuzz.oracles.OracleMismatch (a logic bug, kind "oracle-mismatch"): its first
message line is `[<kind>] op #<index> <OpName>: <description>`; the crash
type is "OracleMismatch: <kind>". `oracle_op(report)` gives <OpName>, which
triage.signature uses as the logic bug's location alongside the frames.

A faulthandler dump (`Fatal Python error: Segmentation fault` + `Current
thread … (most recent call first):`) is kind "deadly-signal".
"""
from __future__ import annotations

import re

from triage.frames import ORACLE_EXCEPTIONS
from triage.parsing.model import CrashReport, Frame
from triage.parsing.stacks import read_python_dump, read_traceback

_EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<msg>.*))?$")
_ORACLE_HEAD = re.compile(r"^\[(?P<kind>[\w-]+)\]\s+op\s+#(?P<index>-?\d+)\s+(?P<op>[\w.]+)")
_ORACLE_KIND = re.compile(r"^\[(?P<kind>[\w-]+)\]|\bkind[=:]\s*['\"]?(?P<kind2>[\w-]+)")

FATAL_SIGNALS = {
    "Segmentation fault": "SEGV",
    "Aborted": "abort",
    "Floating point exception": "floating-point-exception",
    "Bus error": "SEGV",
    "Illegal instruction": "illegal-instruction",
}


def _exception(line: str | None) -> tuple[str, str]:
    """(type as printed, message) of an exception line."""
    if line is None:
        return "", ""
    m = _EXCEPTION.match(line.strip())
    if m is None:
        return "", line.strip()
    return m["type"], (m["msg"] or "").strip()


def _report(type_name: str, message_line: str, frames: tuple[Frame, ...]) -> CrashReport:
    short = type_name.rsplit(".", 1)[-1] or "UnknownException"
    _, msg = _exception(message_line)
    if short in ORACLE_EXCEPTIONS:
        k = _ORACLE_KIND.search(msg)
        kind = (k["kind"] or k["kind2"]) if k else "unspecified"
        return CrashReport("oracle-mismatch", f"{short}: {kind}", message_line.strip(), frames)
    return CrashReport("python-exception", short, message_line.strip(), frames)


def _last_traceback(lines: list[str], start: int, stop: int):
    """(frames, exception line index) of the last traceback in lines[start:stop]."""
    frames: tuple[Frame, ...] = ()
    exc_at = None
    i = start
    while i < stop:
        if lines[i].lstrip().startswith("Traceback (most recent call last):"):
            f, exc, after = read_traceback(lines, i, stop)
            frames, exc_at = f, exc
            i = max(after, i + 1)
        else:
            i += 1
    return frames, exc_at


def parse_atheris_exception(lines: list[str], start: int, stop: int) -> CrashReport:
    stop = min(stop, len(lines))
    first = next((j for j in range(start + 1, stop) if lines[j].strip()), None)
    frames, exc_at = _last_traceback(lines, start + 1, stop)
    line = lines[exc_at] if exc_at is not None else (lines[first] if first is not None else "")
    type_name, _ = _exception(line)
    return _report(type_name, line, frames)


def parse_traceback(lines: list[str], start: int, stop: int) -> CrashReport:
    frames, exc_at = read_traceback(lines, start, stop)[:2]
    line = lines[exc_at] if exc_at is not None else ""
    type_name, _ = _exception(line)
    return _report(type_name, line, frames)


def parse_python_fatal(lines: list[str], start: int, what: str, stop: int) -> CrashReport:
    frames: tuple[Frame, ...] = ()
    for j in range(start + 1, min(stop, start + 8, len(lines))):
        if lines[j].startswith("Current thread"):
            frames, _ = read_python_dump(lines, j, stop)
            break
    what = what.strip()
    crash_type = FATAL_SIGNALS.get(what, re.sub(r"[^a-z]+", "-", what.lower()).strip("-")[:80] or "fatal-error")
    return CrashReport("deadly-signal", crash_type, lines[start].strip(), frames)


def oracle_op(report: CrashReport) -> str | None:
    """The op class named by an OracleMismatch message ("Fetch"), None if absent."""
    if report.kind != "oracle-mismatch":
        return None
    _, msg = _exception(report.message)
    m = _ORACLE_HEAD.match(msg)
    return m["op"] if m else None
