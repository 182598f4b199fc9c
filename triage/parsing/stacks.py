"""Stack frames and stacks, native and Python.

Native frame lines (sanitizer common format `    #%n %p in %f %S`):

    #0 0x7f81bea8be09 in bz_node_copy_keys /work/main/engine/csrc/store/btree.c:8:44
    #33 0x7f81c205aa86 in fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned long) (/x/asan_fuzzer.so+0x5aa86) (BuildId: 88e1…)
    #3 0x7fc16a85a04f  (/lib/x86_64-linux-gnu/libc.so.6+0x3c04f) (BuildId: 93ac…)
    #5 0x4f5a2c in python3.11

The location is the last token (`file:line[:col]`) or a trailing
`(module[+0xoffset])`; the function is everything between `in ` and it (C++
names contain spaces). A function's `+0x…` offset is dropped.

Python frame lines, traceback (`, in`) and faulthandler/Atheris dump (` in`):

      File "/work/main/engine/api.py", line 24, in _read_field
      File "/work/main/engine/api.py", line 36 in _next_page

A sanitizer stack is a run of frame lines numbered 0, 1, 2, …; a line of
another worker wedged in between (interleaved output) is skipped when the
expected frame follows within MAX_FOREIGN lines. Stacks are capped at
MAX_FRAMES frames (deep recursion prints thousands).
"""
from __future__ import annotations

import re
from dataclasses import replace

from triage.parsing.model import Frame

MAX_FRAMES = 256
MAX_FOREIGN = 2

_NATIVE = re.compile(r"^\s*#(?P<idx>\d{1,6})\s+(?:(?P<pc>0x[0-9a-fA-F]+)\b\s*)?(?P<rest>.*)$")
_BUILD_ID = re.compile(r"\s*\(BuildId: [0-9a-fA-F]+\)\s*$")
_MODULE = re.compile(r"\s*\((?P<module>(?:/|<)[^()]*?|[^()\s]+?\+0x[0-9a-fA-F]+?)\)\s*$")
_MODULE_OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")
_LOCATION = re.compile(r"^(?P<file>\S+?):(?P<line>\d+)(?::\d+)?$")
_SOURCE_PATH = re.compile(r"^\S*/\S+\.(?:c|cc|cpp|cxx|h|hh|hpp|inc|py)$")
_FUNC_OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")

_PYTHON = re.compile(r'^\s*File "(?P<file>.*)", line (?P<line>\d+|\?+)(?:,? in (?P<func>.*?))?\s*$')


def parse_native_frame(line: str) -> Frame | None:
    """One sanitizer frame line, or None if `line` is not one."""
    m = _NATIVE.match(line)
    if m is None or (m["pc"] is None and not m["rest"].startswith("in ")):
        return None
    rest = _BUILD_ID.sub("", m["rest"]).strip()
    module = file = None
    line_no = None
    mod = _MODULE.search(rest)
    if mod is not None:
        module = _MODULE_OFFSET.sub("", mod["module"]) or None
        rest = rest[: mod.start()].strip()
    function = None
    if rest.startswith("in "):
        rest = rest[3:].strip()
        head, _, last = rest.rpartition(" ")
        loc = _LOCATION.match(last)
        if loc is not None and module is None:
            file, line_no = loc["file"], int(loc["line"])
            rest = head.strip()
        elif _SOURCE_PATH.match(last) and head and module is None:
            file = last
            rest = head.strip()
        function = _FUNC_OFFSET.sub("", rest) or None
    elif rest:
        return None  # "#1 0x… something" that is no frame we know
    return Frame(int(m["idx"]), function, file, line_no, module, "native", line)


def parse_python_frame(line: str) -> Frame | None:
    m = _PYTHON.match(line)
    if m is None:
        return None
    line_no = int(m["line"]) if m["line"].isdigit() else None
    return Frame(0, m["func"] or None, m["file"], line_no, None, "python", line)


def renumber(frames) -> tuple[Frame, ...]:
    """Frames re-indexed by position (0 = innermost)."""
    return tuple(f if f.index == i else replace(f, index=i) for i, f in enumerate(frames))


def read_native_stack(lines: list[str], start: int, *, max_gap: int = 8,
                      stop: int | None = None) -> tuple[tuple[Frame, ...], int]:
    """The sanitizer stack beginning at or after lines[start].

    Up to `max_gap` other lines may precede frame #0 (0: it must be lines[start]).
    Returns (frames, index of the first line after the stack); no stack gives
    ((), start).
    """
    end = len(lines) if stop is None else min(stop, len(lines))
    i = start
    first = None
    while i < end and i <= start + max_gap:
        f = parse_native_frame(lines[i])
        if f is not None and f.index == 0:
            first = f
            break
        i += 1
    if first is None:
        return (), start
    frames = [first]
    i += 1
    foreign = 0
    while i < end and len(frames) < MAX_FRAMES:
        f = parse_native_frame(lines[i])
        if f is not None and f.index == len(frames):
            frames.append(f)
            foreign = 0
        elif foreign < MAX_FOREIGN and _expected_follows(lines, i + 1, end, len(frames)):
            foreign += 1
        else:
            break
        i += 1
    while i < end and parse_native_frame(lines[i]) is not None:  # frames past MAX_FRAMES
        i += 1
    return tuple(frames), i


def _expected_follows(lines: list[str], i: int, end: int, index: int) -> bool:
    for j in range(i, min(i + MAX_FOREIGN, end)):
        f = parse_native_frame(lines[j])
        if f is not None and f.index == index:
            return True
    return False


def read_traceback(lines: list[str], start: int, stop: int | None = None
                   ) -> tuple[tuple[Frame, ...], int | None, int]:
    """A `Traceback (most recent call last):` block at lines[start].

    Returns (frames innermost first, index of the exception line or None when
    the block is cut short, index after the block).
    """
    end = len(lines) if stop is None else min(stop, len(lines))
    frames: list[Frame] = []
    i = start + 1
    while i < end:
        line = lines[i]
        if not line.strip():
            i += 1
            if i < end and lines[i][:1].isspace():
                continue        # a blank source line inside the block
            break
        if not line[:1].isspace():
            return renumber(reversed(frames[-MAX_FRAMES:])), i, i + 1
        f = parse_python_frame(line)
        if f is not None:
            frames.append(f)
        i += 1
    return renumber(reversed(frames[-MAX_FRAMES:])), None, i


def read_python_dump(lines: list[str], start: int, stop: int | None = None
                     ) -> tuple[tuple[Frame, ...], int]:
    """A faulthandler-style dump (`Current thread … (most recent call first):` at lines[start])."""
    end = len(lines) if stop is None else min(stop, len(lines))
    frames: list[Frame] = []
    i = start + 1
    while i < end and len(frames) < MAX_FRAMES:
        f = parse_python_frame(lines[i])
        if f is None:
            break
        frames.append(f)
        i += 1
    return renumber(frames), i
