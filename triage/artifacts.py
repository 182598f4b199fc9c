"""Recognizing fuzzer artifacts in a crash directory and reading their sidecars.

Artifact names (CONTRACTS.md §5): libFuzzer's `crash-`, `timeout-`, `oom-`,
`leak-`, `slow-unit-` followed by the input's sha1, and `hypothesis-<sha1>`
for Hypothesis failures written by the runner. Beside each one the runner may
write `<artifact>.json` (the sidecar). Everything in a sidecar is untrusted:
it may be missing, malformed, huge or hostile (a target of `../../etc`);
`read_sidecar` keeps only well-typed fields and lists what it dropped.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ARTIFACT_PREFIXES = {
    "crash-": "crash",
    "timeout-": "timeout",
    "oom-": "oom",
    "leak-": "leak",
    "slow-unit-": "slow-unit",
    "hypothesis-": "hypothesis",
}
SIDECAR_SUFFIX = ".json"
MAX_SIDECAR_BYTES = 4 << 20
MAX_REPORT_CHARS = 1 << 20
TARGET_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
# A temporary file a writer has not renamed into place yet (ours or the runner's).
PARTIAL_NAME = re.compile(r"(\.tmp|\.part|~)$|^\.")


def artifact_kind(name: str) -> str | None:
    """The kind of the artifact called `name`, or None if it is not one."""
    if name.endswith(SIDECAR_SUFFIX) or PARTIAL_NAME.search(name):
        return None
    for prefix, kind in ARTIFACT_PREFIXES.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            return kind
    return None


def is_valid_target(name: str) -> bool:
    return bool(TARGET_NAME.match(name)) and ".." not in name


def sidecar_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + SIDECAR_SUFFIX)


@dataclass
class Sidecar:
    """The typed, validated subset of a sidecar file."""
    raw: str | None = None           # the file's text as read (capped), for the record
    target: str | None = None
    kind: str | None = None
    build_id: str | None = None
    build_flavor: str | None = None
    time: datetime | None = None
    report: str | None = None
    problems: list[str] = field(default_factory=list)


def read_sidecar(artifact: Path) -> Sidecar:
    path = sidecar_path(artifact)
    try:
        with open(path, "rb") as handle:
            blob = handle.read(MAX_SIDECAR_BYTES + 1)
    except FileNotFoundError:
        return Sidecar()
    except OSError as exc:
        return Sidecar(problems=[f"sidecar unreadable: {exc.strerror}"])
    sidecar = Sidecar(raw=blob[:MAX_SIDECAR_BYTES].decode("utf-8", "replace"))
    if len(blob) > MAX_SIDECAR_BYTES:
        sidecar.problems.append(f"sidecar larger than {MAX_SIDECAR_BYTES} bytes; ignored")
        return sidecar
    try:
        data = json.loads(blob)
    except (ValueError, UnicodeDecodeError) as exc:
        sidecar.problems.append(f"sidecar is not JSON ({exc}); ignored")
        return sidecar
    if not isinstance(data, dict):
        sidecar.problems.append("sidecar is not a JSON object; ignored")
        return sidecar

    def text(key: str, limit: int = 200) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > limit:
            sidecar.problems.append(f"sidecar field {key!r} is not a string of <= {limit} chars")
            return None
        return value

    target = text("target")
    if target is not None and not is_valid_target(target):
        sidecar.problems.append(f"sidecar target {target!r} is not a valid target name")
        target = None
    sidecar.target = target
    kind = text("kind")
    if kind is not None and kind not in ARTIFACT_PREFIXES.values():
        sidecar.problems.append(f"sidecar kind {kind!r} is unknown")
        kind = None
    sidecar.kind = kind
    sidecar.build_id = text("build_id")
    sidecar.build_flavor = text("build_flavor", 40)
    sidecar.report = text("report", MAX_REPORT_CHARS)
    stamp = text("time", 64)
    if stamp is not None:
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            sidecar.time = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        except ValueError:
            sidecar.problems.append(f"sidecar time {stamp!r} is not ISO-8601")
    return sidecar


def target_of(artifact: Path, sidecar: Sidecar) -> str:
    """The sidecar's target, else the crash directory's name (crashes/<target>/), else 'unknown'."""
    if sidecar.target:
        return sidecar.target
    parent = artifact.parent.name
    if parent and parent != "crashes" and is_valid_target(parent):
        return parent
    return "unknown"


def safe_file_name(name: str, limit: int = 80) -> str:
    """A name that is safe as one path component (for quarantine copies)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".")
    return cleaned[:limit] or "artifact"


def printable(name: str) -> str:
    """A file name for one-line messages: control characters escaped."""
    return name.encode("unicode_escape").decode("ascii") if not name.isprintable() else name
