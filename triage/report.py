"""`triage report --out DIR`: a static HTML report that works offline.

DIR/index.html lists every bucket in a table sortable by any column; DIR/
bucket-<id>.html shows one bucket (signature, stack, readable reproducer,
repro command, related buckets, history, testcases, the raw report).

Crash text is untrusted. Every value goes through Jinja2 with autoescape on;
the only unescaped text is our own sorting script (templates/sort.js), and a
Content-Security-Policy allows no script but that one (by its hash), so even
an escaping mistake could not run injected script. No external resources.
"""
from __future__ import annotations

import base64
import hashlib
import os
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from triage.models import OPEN_STATUSES, utcnow
from triage.present import (
    describe_reproducer,
    ensure_reproducer_file,
    repro_command,
    reproducer_data,
    signature_text,
    stack_lines,
)
from triage.queries import detail, quarantined, summaries
from triage.store import Store

TEMPLATES = Path(__file__).with_name("templates")
MAX_REPORT_CHARS = 64 << 10


def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)),
                       autoescape=select_autoescape(["html"], default=True),
                       keep_trailing_newline=True)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _write(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def write_report(store: Store, out: Path) -> Path:
    """Write the report into `out` (created if needed); returns the index page."""
    out.mkdir(parents=True, exist_ok=True)
    env = _environment()
    script = (TEMPLATES / "sort.js").read_text(encoding="utf-8")
    script_hash = "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    common = {"generated": utcnow().strftime("%Y-%m-%d %H:%M UTC"), "store": store.display_url,
              "when": _when, "script_hash": script_hash}

    rows = store.read(lambda s: summaries(s))
    entries = store.read(quarantined)
    for row in rows:
        info = store.read(lambda s, b=row.bucket.id: detail(s, b))
        testcase = info.testcase
        ensure_reproducer_file(store, testcase)  # the page's repro command names these files
        report_text = testcase.report_text or ""
        if len(report_text) > MAX_REPORT_CHARS:
            report_text = report_text[:MAX_REPORT_CHARS] + "\n[... truncated ...]"
        page = env.get_template("bucket.html").render(
            b=info.summary.bucket, s=info.summary, t=testcase, testcases=info.testcases,
            history=info.history, related=info.related, stack=stack_lines(testcase, None),
            signature=signature_text(info.summary.bucket),
            readable=describe_reproducer(testcase.target, reproducer_data(testcase)),
            command=repro_command(store, testcase), report_text=report_text, **common)
        _write(out / f"bucket-{row.bucket.id}.html", page)
    index = env.get_template("index.html").render(
        rows=rows, quarantine=entries, script=Markup(script),
        open_count=sum(1 for r in rows if r.bucket.status in OPEN_STATUSES), **common)
    _write(out / "index.html", index)
    return out / "index.html"
