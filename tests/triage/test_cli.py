"""`blazefuzz triage` review commands: list, show, repro, mark, verify-fixed, export, export-test."""
from __future__ import annotations

import ast
import base64
import json
import shlex
import shutil

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.triage import reports
from tests.triage.support import FAKE_REPRO_CMD
from triage.cli import triage
from triage.ingest import Ingester
from triage.models import Bucket, HistoryEvent
from triage.reproduce import Reproducer
from triage.store import open_store

REPRO = shlex.join(FAKE_REPRO_CMD)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Buckets 1..8 (one per fixture bug), bug b with b % 3 + 1 testcases; all reproduced.

    Built once per module (reproduction runs subprocesses); each test gets a copy."""
    root = tmp_path_factory.mktemp("template")
    with open_store(f"sqlite:///{root / 'store' / 'triage.sqlite'}") as store:
        ingester = Ingester(store, Reproducer(FAKE_REPRO_CMD), repro_count=1)
        for bug in range(reports.BUG_COUNT):
            for variant in range(bug % 3 + 1):
                target = "codec" if bug == 2 else "ops"
                ingester.ingest(reports.write_artifact(root / "crashes" / target, bug, variant,
                                                       target=target))
    return root / "store"


@pytest.fixture
def filled(template, tmp_path):
    shutil.copytree(template, tmp_path / "store")
    store = open_store(f"sqlite:///{tmp_path / 'store' / 'triage.sqlite'}")
    yield store
    store.close()


def run(store, *args, env=None):
    result = CliRunner().invoke(triage, [*args, "--store", store.url.render_as_string(False)],
                                env=env, catch_exceptions=False)
    return result


def test_list_shows_one_row_per_bucket_and_filters(filled):
    rows = json.loads(run(filled, "list", "--json").output)
    assert [r["id"] for r in rows] == list(range(1, reports.BUG_COUNT + 1))
    assert [r["crash_type"] for r in json.loads(run(filled, "list", "--json", "--target", "codec").output)] \
        == ["ValueError"]
    high = json.loads(run(filled, "list", "--json", "--severity", "high").output)
    assert high and all(r["severity"] == "high" for r in high)
    assert json.loads(run(filled, "list", "--json", "--status", "fixed").output) == []
    assert json.loads(run(filled, "list", "--json", "--since", "2099-01-01").output) == []
    assert len(json.loads(run(filled, "list", "--json", "--since", "3650d").output)) == reports.BUG_COUNT
    by_count = json.loads(run(filled, "list", "--json", "--sort", "count").output)
    assert [r["count"] for r in by_count] == sorted((r["count"] for r in by_count), reverse=True)
    table = run(filled, "list").output
    assert "heap-buffer-overflow WRITE" in table and "KeyError" in table


def test_list_rejects_a_bad_since_with_exit_2(filled):
    result = run(filled, "list", "--since", "yesterday-ish")
    assert result.exit_code == 2 and "neither ISO-8601 nor a span" in result.output


def test_show_prints_signature_stack_counts_history_reliability_and_repro_command(filled):
    result = run(filled, "show", "6")
    assert result.exit_code == 0
    text = result.output
    assert "heap-buffer-overflow WRITE" in text and "codec_put_varint" in text
    assert "testcases:   3" in text and "3/3 runs reproduced the signature" in text
    assert "history:" in text and "created" in text and "testcase_added" in text
    assert "python -m fuzz.run --target ops --repro " in text
    assert "reproducer (" in text


def test_show_of_an_unknown_bucket_is_one_line_and_exit_2(filled):
    result = run(filled, "show", "999")
    assert result.exit_code == 2
    assert result.output.strip() == "blazefuzz triage: error: no bucket #999; `blazefuzz triage list` shows the ids"


def test_mark_changes_status_and_records_history(filled):
    assert run(filled, "mark", "3", "wontfix", "--note", "by design").exit_code == 0
    assert filled.read(lambda s: s.get(Bucket, 3)).status == "wontfix"
    details = filled.read(lambda s: s.scalars(select(HistoryEvent.detail).where(
        HistoryEvent.bucket_id == 3, HistoryEvent.event == "status")).all())
    assert details == ["new -> wontfix: by design"]
    assert run(filled, "mark", "3", "bogus").exit_code == 2


def test_repro_exits_1_while_the_bug_reproduces_and_0_once_fixed(filled):
    assert run(filled, "repro", "1", "--times", "2", "--repro-cmd", REPRO).exit_code == 1
    fixed = run(filled, "repro", "1", "--times", "2", "--repro-cmd", REPRO,
                env={"FAKE_RUNNER_FIXED": "0"})
    assert fixed.exit_code == 0 and "no longer reproduces" in fixed.output


def test_verify_fixed_marks_what_no_longer_reproduces_and_records_the_build(filled):
    result = run(filled, "verify-fixed", "--times", "1", "--build-id", "build-42",
                 "--repro-cmd", REPRO, env={"FAKE_RUNNER_FIXED": "0,5"})
    assert result.exit_code == 0, result.output
    buckets = {b.id: b for b in filled.read(lambda s: s.scalars(select(Bucket)).all())}
    assert {i for i, b in buckets.items() if b.status == "fixed"} == {1, 6}
    assert buckets[1].fixed_build_id == "build-42"
    assert "2 fixed" in result.output
    assert buckets[2].status == "new"


def test_export_json_and_sarif(filled, tmp_path):
    document = json.loads(run(filled, "export").output)
    assert len(document["buckets"]) == reports.BUG_COUNT
    out = tmp_path / "triage.sarif"
    assert run(filled, "export", "--format", "sarif", "--out", str(out)).exit_code == 0
    sarif = json.loads(out.read_text())
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    [run_] = sarif["runs"]
    assert len(run_["tool"]["driver"]["rules"]) == len(run_["results"]) == reports.BUG_COUNT
    levels = {r["ruleId"]: r["level"] for r in run_["results"]}
    assert levels["BLAZEFUZZ-6"] == "error" and levels["BLAZEFUZZ-1"] == "note"
    fingerprints = {r["partialFingerprints"]["blazefuzz/signature/v1"] for r in run_["results"]}
    assert len(fingerprints) == reports.BUG_COUNT
    overflow = next(r for r in run_["results"] if r["ruleId"] == "BLAZEFUZZ-6")
    [location] = overflow["locations"]  # the innermost project frame of its report
    assert location["physicalLocation"]["artifactLocation"]["uri"].endswith("engine/csrc/codec/codec.c")
    assert isinstance(location["physicalLocation"]["region"]["startLine"], int)
    assert location["logicalLocations"][0]["name"] == "codec_put_varint"


def test_export_test_writes_a_standalone_test_even_for_hostile_crash_text(filled, tmp_path):
    def hostile(session):
        bucket = session.get(Bucket, 2)
        bucket.signature_key = 'x"""\nimport os; os.system("rm -rf /")\n\'\'\'\x00'
        bucket.crash_type = 'Evil"""\n'
    filled.write(hostile)
    out = tmp_path / "test_regression.py"
    assert run(filled, "export-test", "2", "--out", str(out)).exit_code == 0
    source = out.read_text()
    tree = ast.parse(source)  # still valid Python
    names = {node.targets[0].id: node for node in tree.body if isinstance(node, ast.Assign)}
    namespace: dict = {"base64": base64}
    exec(compile(ast.Module(body=[names["REPRODUCER"], names["SIGNATURE"]], type_ignores=[]),
                 "t", "exec"), namespace)
    assert namespace["SIGNATURE"].startswith('x"""\nimport os')  # data, not code
    assert b"bug=1;variant=0;" in namespace["REPRODUCER"]
    assert "def test_bucket_2_does_not_crash_again" in source
    assert not any(isinstance(n, ast.Import) and n.names[0].name == "os" for n in tree.body)


def test_bench_triage_prints_its_figures():
    from triage.bench import bench_triage
    result = CliRunner().invoke(bench_triage, ["--artifacts", "16", "--repro-artifacts", "2",
                                               "--repro-count", "1"])
    assert result.exit_code == 0, result.output
    assert "parse + dedup + store" in result.output and "reproduce x1" in result.output


def test_show_recreates_a_missing_testcase_file_from_the_database(filled):
    from triage.models import Testcase
    testcase = filled.read(lambda s: s.scalars(select(Testcase).where(Testcase.bucket_id == 4)).first())
    path = filled.testcase_path(testcase.sha256)
    path.unlink()
    result = run(filled, "show", "4")
    assert result.exit_code == 0 and str(path) in result.output
    assert path.read_bytes() == filled.read(lambda s: s.scalar(
        select(Testcase.data).where(Testcase.id == testcase.id)))
