"""What a parse produces. Both classes are frozen: reports are dedup keys' input.

Frame: one stack frame, Python or native. `index` is the position in the
stack it belongs to, 0 = innermost (for a merged stack, the position in the
merged tuple). `function`, `file`, `line`, `module` are None when the output
did not say. `raw` is the line it came from, verbatim (untrusted).

CrashReport: one crash as printed by Atheris/libFuzzer/a sanitizer/CPython.
`frames` is the crash stack innermost first; when a report carries both a
native stack and a Python stack (a timeout: libFuzzer's native stack and
Atheris' Python dump) the native frames come first, then the Python ones,
because native code runs inside the Python frames that called it.
`raw` is the text parsed (see triage.parsing.text.RAW_LIMIT for how a huge
input is shortened). Every text field is untrusted: escape it when shown.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

KINDS = ("python-exception", "oracle-mismatch", "asan", "ubsan", "timeout", "oom", "leak",
         "deadly-signal", "slow-unit", "unknown")

Language = Literal["python", "native"]


@dataclass(frozen=True)
class Frame:
    index: int
    function: str | None
    file: str | None
    line: int | None
    module: str | None
    language: Language
    raw: str


@dataclass(frozen=True)
class CrashReport:
    kind: str
    crash_type: str
    message: str
    frames: tuple[Frame, ...] = ()
    extra_stacks: dict[str, tuple[Frame, ...]] = field(default_factory=dict)
    artifact_path: str | None = None
    raw: str = ""

    def __hash__(self) -> int:  # extra_stacks is a dict: hash the rest
        return hash((self.kind, self.crash_type, self.message, self.frames, self.artifact_path))
