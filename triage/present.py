"""How a bucket is shown to people: its stack, its reproducer as readable Python, its repro command.

Crash text is untrusted: this module returns plain text; the terminal output
prints it as is (no markup interpretation), and the HTML report escapes it.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from triage.models import Testcase
from triage.frames import is_project_frame
from triage.parse import Frame, parse_report
from triage.queries import BucketDetail, detail
from triage.reproduce import DEFAULT_COMMAND, RUNNER_BUILD
from triage.store import Store

HEX_PREVIEW_BYTES = 512
STACK_LINES = 25
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass
class Reproducer:
    text: str          # readable Python from the target's describe_input, or a hex dump
    readable: bool     # False when it is the hex dump
    note: str = ""


def display_frame(frame: Frame) -> str:
    """One frame as `function  file:line [language]`; a frame known only by
    its module (an unsymbolized native frame) shows the module."""
    if frame.function is None and frame.file is None:
        return f"{frame.module or frame.raw.strip()}  [{frame.language}]"
    where = f"{frame.file}:{frame.line}" if frame.file and frame.line else (frame.file or "")
    return f"{frame.function or '?'}  {where} [{frame.language}]"


def stack_lines(testcase: Testcase, limit: int | None = STACK_LINES) -> list[str]:
    """The representative report's frames, re-parsed from its stored text.

    Frames that belong to the project (those a signature may use) are marked
    `*`; after `limit` frames the rest is summarized (harness and interpreter)."""
    report = parse_report(testcase.report_text or "")     # never raises
    frames = list(report.frames)
    shown = frames if limit is None else frames[:limit]
    lines = [f"{'*' if is_project_frame(f) else ' '} #{i:<2} {display_frame(f)}"
             for i, f in enumerate(shown)]
    if len(frames) > len(shown):
        lines.append(f"  ... {len(frames) - len(shown)} more frames (full report: the HTML report)")
    return lines or ["(no frames)"]


def signature_text(bucket) -> str:
    """One line: `crash type @ frame < frame < frame`."""
    frames = [str(f) for f in bucket.frames]
    return bucket.crash_type + (" @ " + " < ".join(frames) if frames else "")


def describe_reproducer(target: str, data: bytes) -> Reproducer:
    """The target's describe_input(data) (CONTRACTS.md §4), else a hex dump."""
    from triage.minimize import load_target
    try:
        module = load_target(target)
        describe = module.describe_input
    except Exception as exc:  # no such target here, or an engine that does not import
        return Reproducer(hexdump(data), False, f"target {target!r} has no describe_input "
                                                f"here ({type(exc).__name__}: {exc})")
    try:
        return Reproducer(str(describe(data)), True)
    except Exception as exc:
        return Reproducer(hexdump(data), False, f"describe_input failed: {type(exc).__name__}: {exc}")


def hexdump(data: bytes) -> str:
    shown = data[:HEX_PREVIEW_BYTES]
    lines = [f"{i:08x}  {shown[i:i + 16].hex(' ')}" for i in range(0, len(shown), 16)]
    if len(data) > len(shown):
        lines.append(f"... {len(data) - len(shown)} more bytes")
    return "\n".join(lines)


def repro_command(store: Store, testcase: Testcase) -> str:
    """The exact command that re-runs the (minimized if any) reproducer on its build."""
    suffix = ".min" if testcase.minimized_size is not None else ""
    path = store.testcase_path(testcase.sha256, suffix).resolve()
    argv = [part.format(python="python", target=testcase.target, file=str(path))
            for part in DEFAULT_COMMAND]
    build = RUNNER_BUILD.get(testcase.build_flavor or "")
    if build:
        argv += ["--build", build]
    return shlex.join(argv)


def ensure_reproducer_file(store: Store, testcase: Testcase) -> None:
    """Recreate the content-addressed files from the database if they went missing."""
    from triage.ingest import ensure_file
    ensure_file(store, testcase.sha256, testcase.data)
    if testcase.minimized_data is not None:
        ensure_file(store, testcase.sha256, testcase.minimized_data, ".min")


def reproducer_data(testcase: Testcase) -> bytes:
    return testcase.minimized_data if testcase.minimized_data is not None else testcase.data


def bucket_text(store: Store, bucket_id: int) -> str:
    info: BucketDetail = store.read(lambda s: detail(s, bucket_id))
    bucket, summary, testcase = info.summary.bucket, info.summary, info.testcase
    ensure_reproducer_file(store, testcase)
    lines = [f"bucket #{bucket.id}  [{bucket.status}]  severity {bucket.severity}  kind {bucket.kind}",
             f"crash type:  {bucket.crash_type}",
             f"signature:   {signature_text(bucket)}",
             f"digest:      {bucket.signature_digest}"]
    if bucket.title:
        lines.append(f"message:     {bucket.title}")
    lines += [f"testcases:   {summary.count} (targets: {', '.join(summary.targets)})",
              f"first seen:  {summary.first_seen:%Y-%m-%d %H:%M:%S %Z}",
              f"last seen:   {summary.last_seen:%Y-%m-%d %H:%M:%S %Z}",
              f"reliability: {summary.reliability}"]
    if bucket.fixed_build_id:
        lines.append(f"fixed in:    {bucket.fixed_build_id}")
    lines += ["", f"stack (testcase {testcase.id}, report from {testcase.report_source}; "
                  f"* = project frame):"]
    lines += ["  " + line for line in stack_lines(testcase)]
    size = f"{testcase.size} bytes"
    if testcase.minimized_size is not None:
        size += f", minimized to {testcase.minimized_size} bytes"
        if testcase.original_ops is not None:
            size += f" ({testcase.original_ops} -> {testcase.minimized_ops} ops)"
    readable = describe_reproducer(testcase.target, reproducer_data(testcase))
    lines += ["", f"reproducer ({size}):"]
    if readable.note:
        lines.append(f"  ({readable.note})")
    lines += ["  " + line for line in readable.text.splitlines()]
    lines += ["", "reproduce:", "  " + repro_command(store, testcase)]
    if info.related:
        lines += ["", "related buckets (similar stacks; not merged):"]
        lines += [f"  #{other}  {score:.2f}  {crash_type}" for other, score, crash_type in info.related]
    lines += ["", "history:"]
    lines += [f"  {event.at:%Y-%m-%d %H:%M:%S}  {event.event:<15} {event.detail}  ({event.actor})"
              for event in info.history]
    return terminal_safe("\n".join(lines))


def terminal_safe(text: str) -> str:
    """Escape control characters (ANSI sequences in crash text must not drive the terminal)."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
