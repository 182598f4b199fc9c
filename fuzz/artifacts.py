"""libFuzzer artifacts and their JSON sidecars (docs/CONTRACTS.md §5).

libFuzzer names a finding `<kind>-<sha1 of the input>` under -artifact_prefix
(kinds: crash, timeout, oom, leak, slow-unit) and announces it with

    artifact_prefix='crashes/ops/'; Test unit written to crashes/ops/crash-<sha1>
    Base64: <the input>

Beside each artifact the runner writes `<artifact>.json`:

    {"target": str, "kind": "crash"|"timeout"|"oom"|"leak"|"slow-unit",
     "build_id": str, "build_flavor": "asan"|"coverage"|"planted-asan",
     "time": ISO-8601 UTC, "argv": [str], "report": str, "sha1": str, "size": int}

`report` is what the fuzzer printed about this finding (from the line after
the last status line up to the Base64 line): untrusted text. The sidecar is
written to a temporary name and renamed, so a reader sees all of it or none;
readers must still cope with a missing or malformed one (older runs, other tools).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from collections import deque
from pathlib import Path

KINDS = ("crash", "timeout", "oom", "leak", "slow-unit")
# Kinds that are findings (exit code 1); a slow unit is only a note.
FINDING_KINDS = ("crash", "timeout", "oom", "leak")
NAME_RE = re.compile(r"^(?P<kind>crash|timeout|oom|leak|slow-unit)-(?P<sha1>[0-9a-f]{40})$")
WRITTEN_RE = re.compile(r"Test unit written to (?P<path>\S.*?)\s*$")
SIDECAR_SUFFIX = ".json"
MAX_REPORT_LINES = 4000       # a runaway target printing megabytes keeps only the tail


def artifact_kind(path: Path | str) -> str | None:
    """The kind of a libFuzzer artifact name, None for anything else (sidecars too)."""
    m = NAME_RE.match(Path(path).name)
    return m["kind"] if m else None


def sidecar_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + SIDECAR_SUFFIX)


def write_sidecar(artifact: Path, *, target: str, build_id: str, build_flavor: str,
                  argv: list[str], report: str, kind: str | None = None,
                  time: str | None = None) -> Path:
    data = artifact.read_bytes()
    record = {
        "target": target,
        "kind": kind or artifact_kind(artifact) or "crash",
        "build_id": build_id,
        "build_flavor": build_flavor,
        "time": time or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "argv": [str(a) for a in argv],
        "report": report,
        "sha1": hashlib.sha1(data).hexdigest(),
        "size": len(data),
    }
    out = sidecar_path(artifact)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    return out


def read_sidecar(artifact: Path) -> dict | None:
    """The sidecar of an artifact, or None when it is missing or not a JSON object."""
    try:
        record = json.loads(sidecar_path(artifact).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def list_artifacts(directory: Path) -> list[Path]:
    """libFuzzer artifacts in a directory, oldest first."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.is_file() and artifact_kind(p)]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


class ReportCollector:
    """Cuts one fuzzer's output stream into per-artifact reports.

    Feed it every output line (status lines included). It remembers the lines
    since the last status line; when `Test unit written to X` arrives, the
    report is those lines up to and including the following `Base64:` line
    (or up to `flush()` when the stream ends first).
    """

    def __init__(self, cwd: Path):
        self.cwd = cwd
        self._lines: deque[str] = deque(maxlen=MAX_REPORT_LINES)
        self._pending: Path | None = None

    def feed(self, line: str, is_status: bool) -> tuple[Path, str] | None:
        if self._pending is not None:
            self._lines.append(line)
            if line.startswith("Base64:"):
                return self._emit()
            return None
        if is_status:
            self._lines.clear()
            return None
        self._lines.append(line)
        m = WRITTEN_RE.search(line)
        if m:
            path = Path(m["path"])
            self._pending = path if path.is_absolute() else self.cwd / path
        return None

    def flush(self) -> tuple[Path, str] | None:
        return self._emit() if self._pending is not None else None

    def _emit(self) -> tuple[Path, str]:
        path, report = self._pending, "\n".join(self._lines).strip("\n") + "\n"
        self._pending = None
        self._lines.clear()
        return path, report
