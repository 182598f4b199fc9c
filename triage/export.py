"""Exports: JSON, SARIF 2.1.0, and standalone pytest regression tests.

SARIF mapping: one rule per bucket (id `BLAZEFUZZ-<bucket id>`), one result per
bucket located at the innermost project frame of its representative report
(file relative to the repository root, %SRCROOT%, and line); severity high/medium/low maps to
level error/warning/note; `partialFingerprints["blazefuzz/signature/v1"]` is
the signature digest, so code-scanning tools dedup across runs as we do.
"""
from __future__ import annotations

import base64
import re
import textwrap
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path, PurePosixPath

from triage.models import Bucket
from triage.present import describe_reproducer, reproducer_data, terminal_safe
from triage.queries import BucketSummary, detail, summaries
from triage.store import Store

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"high": "error", "medium": "warning", "low": "note"}
REPO_ROOT = Path(__file__).resolve().parent.parent


def _tool_version() -> str:
    try:
        return version("blazefuzz")
    except PackageNotFoundError:
        return "0"


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def summary_dict(row: BucketSummary) -> dict:
    bucket = row.bucket
    return {"id": bucket.id, "status": bucket.status, "severity": bucket.severity,
            "kind": bucket.kind, "crash_type": bucket.crash_type,
            "signature": bucket.signature_key, "signature_digest": bucket.signature_digest,
            "frames": bucket.frames, "title": bucket.title, "count": row.count,
            "targets": row.targets, "first_seen": _iso(row.first_seen),
            "last_seen": _iso(row.last_seen), "reliability": row.reliability,
            "smallest_size": row.smallest_size, "minimized_size": row.minimized_size,
            "fixed_build_id": bucket.fixed_build_id}


def to_json(store: Store, statuses=()) -> dict:
    rows = store.read(lambda s: summaries(s, statuses=statuses))
    return {"format": "blazefuzz-triage/v1", "store": store.display_url,
            "buckets": [summary_dict(row) for row in rows]}


def _top_project_frame(testcase):
    """The innermost project frame of a testcase's report (file and line known), or None."""
    try:
        from triage.frames import is_project_frame
        from triage.parse import parse_report
        frames = parse_report(testcase.report_text or "").frames
        return next((f for f in frames if is_project_frame(f) and getattr(f, "file", None)), None)
    except Exception:  # a location is a nicety; the result is still reported
        return None


def _location(frame, fallback: str) -> dict:
    """SARIF location: the file relative to the repository root when it is inside it."""
    if frame is None:
        return {"logicalLocations": [{"name": fallback}]}
    path = PurePosixPath(frame.file)
    try:
        uri, base = str(path.relative_to(REPO_ROOT.as_posix())), {"uriBaseId": "SRCROOT"}
    except ValueError:
        uri, base = str(path), {}
    physical: dict = {"artifactLocation": {"uri": uri, **base}}
    if getattr(frame, "line", None):
        physical["region"] = {"startLine": int(frame.line)}
    location: dict = {"physicalLocation": physical}
    if getattr(frame, "function", None):
        location["logicalLocations"] = [{"name": frame.function, "kind": "function"}]
    return location


def to_sarif(store: Store, statuses=()) -> dict:
    rows = store.read(lambda s: summaries(s, statuses=statuses))
    rules, results = [], []
    for row in rows:
        bucket = row.bucket
        rule_id = f"BLAZEFUZZ-{bucket.id}"
        rules.append({"id": rule_id, "name": re.sub(r"\W+", "_", bucket.crash_type)[:100],
                      "shortDescription": {"text": bucket.crash_type},
                      "fullDescription": {"text": bucket.signature_key},
                      "properties": {"severity": bucket.severity, "status": bucket.status}})
        frames = [str(f) for f in bucket.frames]
        testcase = store.read(lambda s, b=bucket.id: detail(s, b)).testcase
        location = _location(_top_project_frame(testcase), frames[0] if frames else bucket.crash_type)
        message = f"{bucket.crash_type} ({row.count} testcases, targets {', '.join(row.targets)})"
        if bucket.title:
            message += f": {bucket.title}"
        result = {"ruleId": rule_id, "level": SARIF_LEVEL.get(bucket.severity, "warning"),
                  "message": {"text": message},
                  "partialFingerprints": {"blazefuzz/signature/v1": bucket.signature_digest},
                  "properties": {"status": bucket.status, "count": row.count,
                                 "reliability": row.reliability, "frames": frames,
                                 "firstSeen": _iso(row.first_seen),
                                 "lastSeen": _iso(row.last_seen)}}
        result["locations"] = [location]
        results.append(result)
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0",
            "runs": [{"originalUriBaseIds": {"SRCROOT": {"uri": REPO_ROOT.as_uri() + "/"}},
                      "tool": {"driver": {"name": "blazefuzz-triage",
                                          "version": _tool_version(),
                                          "informationUri": "https://github.com/blazefuzz",
                                          "rules": rules}},
                      "results": results}]}


REGRESSION_TEMPLATE = '''\
"""Regression test for triage bucket #{bucket_id} ({crash_type_comment}).

Generated by `blazefuzz triage export-test {bucket_id}`. It replays the
minimized reproducer through the target's own entry point against whatever
engine build is importable (the normal one under plain pytest): the test fails
while the bug is there and passes once it is fixed.
"""
import base64
import importlib

TARGET = {target!r}
SIGNATURE = {signature!r}
REPRODUCER = base64.b64decode(
{payload}
)

# The reproducer as readable operations (target.describe_input):
{readable}


def test_bucket_{bucket_id}_does_not_crash_again():
    target = importlib.import_module("fuzz.targets." + TARGET)
    target.test_one_input(REPRODUCER)
'''


def regression_test(store: Store, bucket_id: int) -> str:
    """The source of a standalone pytest file for the bucket (every crash string via repr)."""
    info = store.read(lambda s: detail(s, bucket_id))
    bucket: Bucket = info.summary.bucket
    testcase = info.testcase
    data = reproducer_data(testcase)
    encoded = base64.b64encode(data).decode("ascii")
    payload = "\n".join(f"    {chunk!r}" for chunk in textwrap.wrap(encoded, 72)) or "    ''"
    readable = describe_reproducer(testcase.target, data)
    comment_lines = terminal_safe(readable.text).splitlines() or [""]
    if readable.note:
        comment_lines.insert(0, terminal_safe(f"({readable.note})").replace("\n", " "))
    readable_comment = "\n".join(("# " + line).rstrip() for line in comment_lines)
    safe_type = re.sub(r"[^\w .:-]", "_", bucket.crash_type)[:120]
    return REGRESSION_TEMPLATE.format(bucket_id=bucket.id, crash_type_comment=safe_type,
                                      target=testcase.target, signature=bucket.signature_key,
                                      payload=payload, readable=readable_comment)
