"""AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer reports.

ASan (what clang-19's runtime prints; tests/triage/fixtures/asan_*.txt):

    ==PID==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x… at pc 0x… bp 0x… sp 0x…
    WRITE of size 1 at 0x… thread T0            (SEGV: "The signal is caused by a READ memory access.")
        #0 0x… in f file:line:col                (the crash stack)
    0x… is located 0 bytes after 7-byte region […)
    freed by thread T0 here:                     (extra stack "freed")
    previously allocated by thread T0 here:      (extra stack "allocated"; also "allocated by …")
    SUMMARY: AddressSanitizer: heap-buffer-overflow file:line:col in f
    ==PID==ABORTING

Crash type: the bug type of the SUMMARY line (else derived from the header)
plus the access, READ or WRITE, when the report gives one:
"heap-buffer-overflow WRITE", "heap-use-after-free READ", "double-free",
"SEGV READ", "null-deref READ" (a SEGV in the zero page, below 0x1000).
ABRT/FPE/ILL are deadly signals, not memory errors: kind "deadly-signal"
with triage.frames.ASAN_SIGNALS' names. The access size is in the message
only: one bug overflows by different sizes on different inputs.

LSan: "Direct leak of N byte(s) in M object(s) allocated from:" blocks; the
report's stack is the first direct leak whose stack has a project frame
(CPython leaks at start-up come first), crash type "direct-leak" or
"indirect-leak".

UBSan: "file:line:col: runtime error: message", then a stack when
print_stacktrace=1. Crash type: the check name (triage.frames.UBSAN_CHECKS).
Without a stack the frame is the reported location (function unknown).
"""
from __future__ import annotations

import re

from triage.frames import ASAN_SIGNALS, is_project_frame, ubsan_check
from triage.parsing.model import CrashReport, Frame
from triage.parsing.stacks import read_native_stack

# How far after a header the access line and the sections may be.
ACCESS_WINDOW = 8
REPORT_WINDOW = 4000

_ACCESS = re.compile(r"^\s*(?P<access>READ|WRITE) of size (?P<size>\d+) at ")
_SIGNAL_ACCESS = re.compile(r"The signal is caused by a (?P<access>READ|WRITE|UNKNOWN) memory access")
_ADDRESS = re.compile(r"on unknown address (?:0x)?(?P<addr>[0-9a-fA-F]+)")
_SECTION = re.compile(r"^\s*(?P<what>freed|previously allocated|allocated|Thread \S+ created)"
                      r" by (?:thread \S+|main thread)(?: \([^)]*\))? here:")
_END = re.compile(r"^==\d+==\s*ABORTING|^SUMMARY: ")
_SUMMARY = re.compile(r"^SUMMARY: AddressSanitizer: (?P<type>[\w-]+)")
_HEADER_TYPES = (
    ("attempting double-free", "double-free"),
    ("attempting free on address which was not malloc", "bad-free"),
    ("requested allocation size", "allocation-size-too-big"),
    ("calloc parameters overflow", "calloc-overflow"),
    ("reallocarray parameters overflow", "reallocarray-overflow"),
    ("attempting to call malloc_usable_size", "bad-malloc_usable_size"),
)
NULL_PAGE = 0x1000


def _asan_bug_type(what: str, summary: str | None) -> str:
    if summary:
        return summary
    for prefix, name in _HEADER_TYPES:
        if what.startswith(prefix):
            return name
    token = what.split(" ", 1)[0].rstrip(":")
    return token or "unknown-crash"


def parse_asan(lines: list[str], start: int, what: str, stop: int) -> CrashReport:
    stop = min(stop, start + REPORT_WINDOW, len(lines))
    end = stop
    summary = None
    for j in range(start + 1, stop):
        if _END.match(lines[j]):
            s = _SUMMARY.match(lines[j])
            if s is not None:
                summary = s["type"]
            end = j
            break
    access = size = None
    for j in range(start + 1, min(start + 1 + ACCESS_WINDOW, end)):
        m = _ACCESS.match(lines[j]) or _SIGNAL_ACCESS.search(lines[j])
        if m is not None:
            access = m["access"]
            size = m.groupdict().get("size")
            access_line = lines[j].strip()
            break
    bug = _asan_bug_type(what, summary)
    frames, after = read_native_stack(lines, start + 1, stop=end)
    extra = _sections(lines, after, end)
    message = "AddressSanitizer: " + what.strip()
    if access is not None and size is not None:
        message += " | " + access_line
    if bug in ASAN_SIGNALS:
        return CrashReport("deadly-signal", ASAN_SIGNALS[bug], message, frames, extra)
    if bug in ("SEGV", "BUS"):
        addr = _ADDRESS.search(what)
        if addr is not None and int(addr["addr"], 16) < NULL_PAGE:
            bug = "null-deref"
    crash_type = f"{bug} {access}" if access in ("READ", "WRITE") else bug
    return CrashReport("asan", crash_type, message, frames, extra)


def _sections(lines: list[str], start: int, end: int) -> dict[str, tuple[Frame, ...]]:
    extra: dict[str, tuple[Frame, ...]] = {}
    j = start
    while j < end:
        m = _SECTION.match(lines[j])
        if m is None:
            j += 1
            continue
        what = m["what"]
        name = "allocated" if what.endswith("allocated") else "freed" if what == "freed" else "thread-created"
        frames, after = read_native_stack(lines, j + 1, max_gap=0, stop=end)
        if name not in extra and frames:
            extra[name] = frames
        j = max(after, j + 1)
    return extra


MAX_LEAK_BLOCKS = 1000   # CPython under LSan prints hundreds of start-up leaks
_LEAK = re.compile(r"^(?P<kind>Direct|Indirect) leak of (?P<bytes>\d+) byte\(s\) in (?P<objects>\d+) object\(s\) allocated from:")


def parse_lsan(lines: list[str], start: int, what: str, stop: int) -> CrashReport:
    stop = min(stop, len(lines))
    blocks: list[tuple[str, str, tuple[Frame, ...]]] = []
    j = start + 1
    while j < stop and len(blocks) < MAX_LEAK_BLOCKS:
        m = _LEAK.match(lines[j])
        if m is not None:
            frames, after = read_native_stack(lines, j + 1, max_gap=0, stop=stop)
            blocks.append((m["kind"].lower(), lines[j].strip(), frames))
            if blocks[-1][0] == "direct" and any(map(is_project_frame, frames)):
                break           # the one we want; the rest cannot change the choice
            j = max(after, j + 1)
            continue
        if lines[j].startswith("SUMMARY: "):
            break
        j += 1
    if not blocks:
        return CrashReport("leak", "memory-leak", "LeakSanitizer: " + what.strip())
    chosen = next((b for b in blocks if b[0] == "direct" and any(map(is_project_frame, b[2]))), None) \
        or next((b for b in blocks if any(map(is_project_frame, b[2]))), None) \
        or next((b for b in blocks if b[0] == "direct"), blocks[0])
    kind, header, frames = chosen
    return CrashReport("leak", f"{kind}-leak", f"LeakSanitizer: {what.strip()} | {header}", frames)


def parse_ubsan(lines: list[str], start: int, match: re.Match[str], stop: int) -> CrashReport:
    what = match["what"].strip()
    frames, _ = read_native_stack(lines, start + 1, max_gap=0, stop=stop)
    if not frames:
        loc = match["loc"] or None
        line_no = int(match["line"]) if match["line"] else None
        if loc in ("<unknown>", ""):
            loc = None
        frames = (Frame(0, None, loc, line_no, None, "native", lines[start]),)
    return CrashReport("ubsan", ubsan_check(what), lines[start].strip(), frames)
