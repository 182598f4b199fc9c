"""Crash signatures: the dedup key of a bucket (issue 5, step 3).

A signature is the crash type plus the top `depth` (default 3) frames that
belong to the project, innermost first, after triage.frames drops the
harness, Atheris, CPython, sanitizer, libFuzzer and libc frames. A frame is
written `function (file basename)`, or `function (module basename)` when
only the module is known, never with a line, column, address or offset, so
the same bug has the same signature whatever the checkout path
(/work/main vs /tmp/ci-check), PID, ASLR or build. Native names lose what
the compiler adds and the bug does not change: `+0x…` offsets, C++
parameter lists, GCC's `.cold`/`.part.N`/`.isra.N`/`.constprop.N` clones.

Two kinds get an adjusted frame choice:
- timeout: the `depth` project frames nearest the harness (the outermost
  ones), skipping the fuzzing code's own frames (triage.frames.DRIVER_RULES:
  every hang of a target runs through the same driver loop). A hang is
  caught wherever the loop happens to be when the alarm fires, so the
  innermost frame varies from run to run; the callers of the loop do not.
  A hang fewer than `depth` calls below the API entry point can still get
  two signatures; similarity() links them (>= 0.6).
- oracle-mismatch: the op the oracle names (`op Fetch`) comes first, then
  the frames: a logic bug is located by its oracle kind (in the crash type),
  the op and the code that checked it.

key() is the stable text form (crash type, then one frame per line) and the
dedup key; digest() its SHA-256; Signature.from_key(key) reads it back. `similarity()` scores two crashes 0..1 for
the fuzzy "related buckets" pass: it only links, never merges.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from triage.frames import is_driver_frame, project_frames
from triage.parsing.model import CrashReport, Frame
from triage.parsing.python import oracle_op

DEFAULT_DEPTH = 3
SIMILARITY_DEPTH = 8

_OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")
_CLONE = re.compile(r"\.(?:cold|part|isra|constprop|llvm|lto_priv|localalias)(?:\.\d+)*(?=$|\.)")
_CXX_PARAMS = re.compile(r"(?<!operator)\(.*$")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Signature:
    crash_type: str
    frames: tuple[str, ...]

    def key(self) -> str:
        return "\n".join((self.crash_type,) + self.frames)

    @classmethod
    def from_key(cls, key: str) -> Signature:
        """The signature a stored key() came from (to compare stored buckets)."""
        crash_type, *frames = key.split("\n")
        return cls(crash_type, tuple(frames))

    def digest(self) -> str:
        return hashlib.sha256(self.key().encode("utf-8", errors="replace")).hexdigest()

    def __str__(self) -> str:
        return self.crash_type + (" @ " + " < ".join(self.frames) if self.frames else "")


def _basename(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def function_name(frame: Frame) -> str | None:
    name = frame.function
    if name is None:
        return None
    if frame.language == "native":
        name = _OFFSET.sub("", name)
        name = _CLONE.sub("", name)
        name = _CXX_PARAMS.sub("", name).strip() or name
    return name


def frame_text(frame: Frame) -> str:
    """`function (basename)`: one signature element."""
    name = function_name(frame)
    where = frame.file or (_OFFSET.sub("", frame.module) if frame.module else None)
    base = _basename(where) if where else None
    if name and base:
        text = f"{name} ({base})"
    else:
        text = name or (f"({base})" if base else "?")
    return _UNSAFE.sub("", text)


def _chosen_frames(report: CrashReport, depth: int) -> tuple[Frame, ...]:
    frames = project_frames(report.frames)
    if depth <= 0:
        return ()
    if report.kind == "timeout":
        engine = tuple(f for f in frames if not is_driver_frame(f)) or frames
        return engine[-depth:]
    return frames[:depth]


def signature_of(report: CrashReport, depth: int = DEFAULT_DEPTH) -> Signature:
    texts = tuple(frame_text(f) for f in _chosen_frames(report, depth))
    op = oracle_op(report)
    if op is not None:
        texts = (f"op {op}",) + texts
    return Signature(_UNSAFE.sub("", report.crash_type) or "unknown", texts)


def _as_signature(x: CrashReport | Signature) -> Signature:
    return x if isinstance(x, Signature) else signature_of(x, SIMILARITY_DEPTH)


def _family(crash_type: str) -> str:
    return re.split(r"[ :]", crash_type, maxsplit=1)[0]


def _lcs(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def similarity(a: CrashReport | Signature, b: CrashReport | Signature) -> float:
    """0..1: how much two crashes agree (1.0: same signature).

    0.3 for the crash type (0.15 when only its family agrees: "heap-buffer-overflow
    READ" vs "… WRITE"), 0.7 for the frames: their longest common subsequence over
    the longer list. Reports are compared on SIMILARITY_DEPTH frames, Signatures
    on what they hold. Symmetric.
    """
    sa, sb = _as_signature(a), _as_signature(b)
    if sa.key() == sb.key():
        return 1.0
    if sa.crash_type == sb.crash_type:
        type_score = 1.0
    elif _family(sa.crash_type) == _family(sb.crash_type):
        type_score = 0.5
    else:
        type_score = 0.0
    longest = max(len(sa.frames), len(sb.frames))
    frame_score = _lcs(sa.frames, sb.frames) / longest if longest else (1.0 if type_score == 1.0 else 0.0)
    return round(0.3 * type_score + 0.7 * frame_score, 6)
