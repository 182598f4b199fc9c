"""libFuzzer's own findings (tests/triage/fixtures/libfuzzer_*.txt).

    ==PID== ERROR: libFuzzer: deadly signal            + native stack
    ==PID== ERROR: libFuzzer: timeout after 4 seconds  + native stack (the alarm path)
    ALARM: working on the last Unit for 4 seconds      (also the only timeout line in a sidecar report)
    ==PID== ERROR: libFuzzer: out-of-memory (malloc(3221225473))   + native stack of the malloc hook
    ==PID== ERROR: libFuzzer: out-of-memory (used: 700Mb; limit: 600Mb)   + heap profile
    Slowest unit: 1 s:                                 (-report_slow_units; no stack)

Under Atheris a timeout is preceded by ` === Timeout: Ns elapsed, timeout=Ns ===`
and a Python dump (`Current thread … (most recent call first):`); those
Python frames follow the native ones in the report's stack.

Crash types: "timeout", "out-of-memory", "slow-unit"; a deadly signal is
"abort" when abort() is on the stack (the name ASan's ABRT report gets too),
else "deadly-signal". Any other `ERROR: libFuzzer:` line ("fuzz target
exited" without a Python exception, "fuzz target overwrites its const
input", …) is kind "unknown" with the line, in dashes, as crash type.
"""
from __future__ import annotations

import re

from triage.parsing.model import CrashReport, Frame
from triage.parsing.stacks import read_native_stack, read_python_dump, renumber

_ABORT_FUNCTIONS = frozenset({"abort", "__GI_abort", "raise", "__assert_fail", "__assert_fail_base"})
_NON_WORD = re.compile(r"[^a-z]+")


def _merge(native: tuple[Frame, ...], python: tuple[Frame, ...]) -> tuple[Frame, ...]:
    return renumber(native + python)


def parse_deadly_signal(lines: list[str], start: int, stop: int) -> CrashReport:
    frames, _ = read_native_stack(lines, start + 1, stop=stop)
    aborted = any(f.function in _ABORT_FUNCTIONS for f in frames)
    return CrashReport("deadly-signal", "abort" if aborted else "deadly-signal", lines[start].strip(), frames)


def parse_timeout(lines: list[str], start: int, stop: int, *, error_line: int | None,
                  python_dump: int | None, message: str) -> CrashReport:
    native: tuple[Frame, ...] = ()
    if error_line is not None:
        native, _ = read_native_stack(lines, error_line + 1, stop=stop)
    python: tuple[Frame, ...] = ()
    if python_dump is not None:
        python, _ = read_python_dump(lines, python_dump, stop=stop)
    return CrashReport("timeout", "timeout", message, _merge(native, python))


def parse_oom(lines: list[str], start: int, stop: int) -> CrashReport:
    frames: tuple[Frame, ...] = ()
    if "malloc(" in lines[start]:
        frames, _ = read_native_stack(lines, start + 1, stop=stop)
    return CrashReport("oom", "out-of-memory", lines[start].strip(), frames)


def parse_slow_unit(lines: list[str], start: int) -> CrashReport:
    return CrashReport("slow-unit", "slow-unit", lines[start].strip())


def parse_other(lines: list[str], start: int, what: str, stop: int) -> CrashReport:
    frames, _ = read_native_stack(lines, start + 1, stop=stop)
    crash_type = _NON_WORD.sub("-", what.lower()).strip("-")[:80] or "libfuzzer-error"
    return CrashReport("unknown", crash_type, lines[start].strip(), frames)
