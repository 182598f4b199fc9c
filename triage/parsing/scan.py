"""Find every report in a crash output and parse the primary one.

One pass over the (bounded) lines collects anchors: lines matching
triage.frames.CRASH_LINES, each checked only after a cheap literal
pre-filter. A text may hold several reports (a recoverable UBSan error
before the ASan report that killed the process, a Python exception and
libFuzzer's "fuzz target exited", two workers' output interleaved); the
primary one is the first present in this order (_primary below):

  asan             the first AddressSanitizer report (memory errors are never noise)
  lsan             the first LeakSanitizer report
  atheris          the first ` === Uncaught Python exception: ===`
  timeout          ` === Timeout`, `ALARM:` or `ERROR: libFuzzer: timeout`
  oom              `ERROR: libFuzzer: out-of-memory`
  deadly-signal    `ERROR: libFuzzer: deadly signal`
  python-fatal     `Fatal Python error:` (faulthandler)
  traceback        the last plain `Traceback (most recent call last):`
  ubsan            the first `runtime error:` (ranked low: with halt_on_error=0 it is a
                   warning and the run goes on to the crash that matters)
  libfuzzer-other  any other `ERROR: libFuzzer:` line
  slow-unit        `Slowest unit:`
  (none)           kind "unknown", crash type "unknown"

The artifact path is the first `Test unit written to` at or after the
primary report's first line, else the last one before it. Parsing never
raises: a parser bug on hostile input yields kind "unknown" (and the
exception's name in the message) rather than losing the artifact.
"""
from __future__ import annotations

import re
from dataclasses import replace

from triage.frames import CRASH_LINES
from triage.parsing import libfuzzer, python, sanitizers
from triage.parsing.model import CrashReport
from triage.parsing.text import decode, raw_text, scan_lines

MAX_MESSAGE = 1000

# anchor name -> literal that every matching line contains (pre-filter)
_LITERALS = {
    "asan": "AddressSanitizer:",
    "lsan": "LeakSanitizer:",
    "ubsan": "runtime error:",
    "libfuzzer": "ERROR: libFuzzer:",
    "alarm": "ALARM:",
    "atheris-timeout": "=== Timeout:",
    "atheris-exception": "=== Uncaught Python exception",
    "traceback": "Traceback (most recent call last)",
    "python-fatal": "Fatal Python error:",
    "python-current-thread": "(most recent call first)",
    "slow-unit": "Slowest unit:",
    "artifact": "Test unit written to",
}
_PREFILTER = re.compile("|".join(re.escape(v) for v in set(_LITERALS.values())))
# Anchors that begin a report (a report's parser stops at the next one).
_STARTS = ("asan", "lsan", "ubsan", "libfuzzer", "alarm", "atheris-timeout", "atheris-exception", "python-fatal",
           "slow-unit")


def _anchors(lines: list[str]) -> dict[str, list[tuple[int, re.Match[str]]]]:
    found: dict[str, list[tuple[int, re.Match[str]]]] = {name: [] for name in _LITERALS}
    for i, line in enumerate(lines):
        if _PREFILTER.search(line) is None:
            continue
        for name, literal in _LITERALS.items():
            if literal in line:
                m = CRASH_LINES[name].search(line)
                if m is not None:
                    found[name].append((i, m))
    return found


def _next_start(found, after: int, n: int, exclude: tuple[str, ...] = ()) -> int:
    best = n
    for name in _STARTS:
        if name in exclude:
            continue
        for i, _ in found[name]:
            if i > after:
                best = min(best, i)
                break
    return best


def _libfuzzer(found, word: str):
    return next(((i, m) for i, m in found["libfuzzer"] if m["what"].startswith(word)), None)


def _primary(lines: list[str], found) -> tuple[CrashReport, int] | None:
    n = len(lines)
    if found["asan"]:
        i, m = found["asan"][0]
        return sanitizers.parse_asan(lines, i, m["what"], n), i
    if found["lsan"]:
        i, m = found["lsan"][0]
        return sanitizers.parse_lsan(lines, i, m["what"], n), i
    if found["atheris-exception"]:
        i, _ = found["atheris-exception"][0]
        stop = _next_start(found, i, n, exclude=("ubsan",))
        return python.parse_atheris_exception(lines, i, stop), i
    timeout = _timeout(lines, found)
    if timeout is not None:
        return timeout
    oom = _libfuzzer(found, "out-of-memory")
    if oom is not None:
        return libfuzzer.parse_oom(lines, oom[0], n), oom[0]
    deadly = _libfuzzer(found, "deadly signal")
    if deadly is not None:
        return libfuzzer.parse_deadly_signal(lines, deadly[0], n), deadly[0]
    if found["python-fatal"]:
        i, m = found["python-fatal"][0]
        return python.parse_python_fatal(lines, i, m["what"], n), i
    if found["traceback"]:
        i, _ = found["traceback"][-1]
        return python.parse_traceback(lines, i, n), i
    if found["ubsan"]:
        i, m = found["ubsan"][0]
        return sanitizers.parse_ubsan(lines, i, m, n), i
    if found["libfuzzer"]:
        i, m = found["libfuzzer"][0]
        return libfuzzer.parse_other(lines, i, m["what"], n), i
    if found["slow-unit"]:
        i, _ = found["slow-unit"][0]
        return libfuzzer.parse_slow_unit(lines, i), i
    return None


def _timeout(lines: list[str], found) -> tuple[CrashReport, int] | None:
    error = _libfuzzer(found, "timeout")
    starts = [i for i, _ in found["atheris-timeout"][:1] + found["alarm"][:1]] + ([error[0]] if error else [])
    if not starts:
        return None
    start = min(starts)
    # Atheris prints its Python dump right after " === Timeout"; take the first
    # dump at or after the start (or just before an ALARM line when cut there).
    dump = next((i for i, _ in found["python-current-thread"] if i >= start - 12), None)
    message = lines[error[0]].strip() if error else lines[start].strip()
    alarm = found["alarm"][0][0] if found["alarm"] else None
    if alarm is not None:
        message = lines[alarm].strip()
    report = libfuzzer.parse_timeout(lines, start, len(lines), error_line=error[0] if error else None,
                                     python_dump=dump, message=message)
    return report, start


def _artifact(found, start: int) -> str | None:
    after = [m for i, m in found["artifact"] if i >= start]
    before = [m for i, m in found["artifact"] if i < start]
    m = after[0] if after else (before[-1] if before else None)
    return m["path"].strip().strip("'\"") if m is not None else None


def _last_line(lines: list[str]) -> str:
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def parse_report(data: str | bytes | bytearray | memoryview | None) -> CrashReport:
    """Parse what a fuzzer or a reproduction printed. Never raises; see module doc."""
    try:
        text = decode(data)
    except Exception as exc:  # noqa: BLE001 (an unreadable object is still a result)
        return CrashReport("unknown", "unknown", f"unreadable crash output ({type(exc).__name__})")
    raw = raw_text(text)
    try:
        lines = scan_lines(text)
        found = _anchors(lines)
        primary = _primary(lines, found)
        if primary is None:
            return CrashReport("unknown", "unknown", _last_line(lines)[:MAX_MESSAGE],
                               artifact_path=_artifact(found, 0), raw=raw)
        report, start = primary
        return replace(report, message=report.message[:MAX_MESSAGE], artifact_path=_artifact(found, start),
                       raw=raw)
    except Exception as exc:  # noqa: BLE001 (a parser bug must not lose the artifact)
        return CrashReport("unknown", "unknown", f"crash output could not be parsed ({type(exc).__name__})",
                           raw=raw)
