"""Untrusted crash output -> bounded text and lines.

Bounds (a 100 MB log must parse in well under a second):
- decoding: bytes are UTF-8 with undecodable bytes replaced (never an error);
- SCAN_LIMIT: only the first SCAN_HEAD and the last SCAN_LIMIT - SCAN_HEAD
  characters are scanned (a crash report sits at the end of a long fuzzing
  log; the head keeps the start of a report printed early);
- MAX_LINE_SCAN (triage.frames): regexes see at most that much of a line;
- RAW_LIMIT: CrashReport.raw keeps the text whole up to RAW_LIMIT characters,
  beyond that its head and tail around a one-line marker saying how much was cut.
ANSI escape sequences (colour, cursor moves) and other C0 control characters
but tab are removed before scanning; CR LF and lone CR end lines.
"""
from __future__ import annotations

import re

from triage.frames import MAX_LINE_SCAN

SCAN_LIMIT = 4 * 1024 * 1024
SCAN_HEAD = 512 * 1024
RAW_LIMIT = 8 * 1024 * 1024

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _cut(text: str, limit: int, head: int) -> str:
    if len(text) <= limit:
        return text
    tail = limit - head
    omitted = len(text) - limit
    return f"{text[:head]}\n[... {omitted} characters omitted ...]\n{text[-tail:]}"


def decode(data: str | bytes | bytearray | memoryview | None) -> str:
    """Any input as text; bytes are decoded as UTF-8 with replacement."""
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    # Slice before decoding: a 100 MB artifact costs no more than RAW_LIMIT.
    raw = bytes(data)
    if len(raw) > RAW_LIMIT + 8:
        head = RAW_LIMIT // 2
        raw = raw[:head] + f"\n[... {len(raw) - RAW_LIMIT} bytes omitted ...]\n".encode() + raw[-(RAW_LIMIT - head):]
    return raw.decode("utf-8", errors="replace")


def raw_text(text: str) -> str:
    if len(text) <= RAW_LIMIT + 1024:   # slack: decode() already cut bytes input, marker included
        return text
    return _cut(text, RAW_LIMIT, RAW_LIMIT // 2)


def scan_lines(text: str) -> list[str]:
    """The lines the parser looks at: bounded, ANSI-free, each at most MAX_LINE_SCAN long."""
    window = _cut(text, SCAN_LIMIT, SCAN_HEAD)
    window = _CONTROL.sub("", _ANSI.sub("", window))
    return [line[:MAX_LINE_SCAN] for line in window.splitlines()]
