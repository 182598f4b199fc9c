"""The static HTML report: complete, offline, and every piece of crash text escaped."""
from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from tests.triage import reports, support
from triage.cli import triage
from triage.ingest import Ingester

SCRIPT = "<script>alert('pwned')</script>"

store, store_url = support.store, support.store_url  # shared fixtures


def hostile_artifact(directory: Path) -> Path:
    """A crash whose message, file name and report all carry markup."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "crash-<img src=x onerror=alert(1)>"
    path.write_bytes(b"hostile")
    text = reports.python_report(0, 0).replace("'missing'", SCRIPT)
    text = text.replace("engine/query.py", "engine/<b>query</b>.py")
    Path(str(path) + ".json").write_text(json.dumps({"target": "ops", "report": text}))
    return path


def build(store, tmp_path) -> Path:
    ingester = Ingester(store)
    ingester.ingest(hostile_artifact(tmp_path / "crashes" / "ops"))
    for bug in range(1, 4):
        ingester.ingest(reports.write_artifact(tmp_path / "crashes" / "ops", bug, 0))
    out = tmp_path / "report"
    result = CliRunner().invoke(triage, ["report", "--out", str(out),
                                         "--store", store.url.render_as_string(False)])
    assert result.exit_code == 0, result.output
    return out


def test_report_has_an_index_and_one_page_per_bucket(store, tmp_path):
    out = build(store, tmp_path)
    pages = sorted(p.name for p in out.glob("*.html"))
    assert pages == ["bucket-1.html", "bucket-2.html", "bucket-3.html", "bucket-4.html", "index.html"]
    index = (out / "index.html").read_text()
    for n in range(1, 5):
        assert f'href="bucket-{n}.html"' in index
    assert 'id="buckets"' in index and "addEventListener" in index  # sortable


def test_crash_text_is_escaped_everywhere(store, tmp_path):
    out = build(store, tmp_path)
    for page in out.glob("*.html"):
        html = page.read_text()
        assert "<script>alert" not in html, page.name
        assert "<img src=x" not in html and "<b>query</b>" not in html, page.name
        # our own script is the only one, and the policy allows only it
        assert html.count("<script>") <= 1
    bucket = (out / "bucket-1.html").read_text()
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in bucket
    assert "crash-&lt;img src=x onerror=alert(1)&gt;" in bucket


def test_report_works_offline(store, tmp_path):
    out = build(store, tmp_path)
    for page in out.glob("*.html"):
        html = page.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), page.name
        assert "Content-Security-Policy" in html and "default-src 'none'" in html
