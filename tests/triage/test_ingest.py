"""Ingest: K bugs give K buckets, exactly once per content, files moved only after commit,
bad input quarantined, never lost."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.triage import reports, support
from tests.triage.support import FAKE_REPRO_CMD
from triage.errors import ArtifactError
from triage.ingest import Ingester
from triage.models import Bucket, HistoryEvent, QuarantineEntry, ReproRun, Testcase
from triage.reproduce import Reproducer

store, store_url = support.store, support.store_url  # shared fixtures


def count(store, model) -> int:
    return store.read(lambda s: s.scalar(select(func.count()).select_from(model)))


def make_artifacts(directory: Path, bugs: int, variants: int) -> list[Path]:
    return [reports.write_artifact(directory, bug, variant)
            for variant in range(variants) for bug in range(bugs)]


def test_n_artifacts_of_k_bugs_give_exactly_k_buckets(store, tmp_path):
    paths = make_artifacts(tmp_path / "crashes" / "ops", reports.BUG_COUNT, 4)
    ingester = Ingester(store)
    outcomes = [ingester.ingest(p).outcome for p in paths]
    assert outcomes.count("new-bucket") == reports.BUG_COUNT
    assert outcomes.count("new-testcase") == len(paths) - reports.BUG_COUNT
    assert count(store, Bucket) == reports.BUG_COUNT
    assert count(store, Testcase) == len(paths)
    sizes = store.read(lambda s: s.execute(select(Testcase.bucket_id, func.count())
                                           .group_by(Testcase.bucket_id)).all())
    assert sorted(n for _, n in sizes) == [4] * reports.BUG_COUNT


def test_reingesting_the_same_content_changes_nothing(store, tmp_path):
    originals = make_artifacts(tmp_path / "first" / "ops", 3, 2)
    copies = tmp_path / "copies"
    shutil.copytree(tmp_path / "first", copies)
    ingester = Ingester(store)
    for path in originals:
        ingester.ingest(path)
    before = (count(store, Bucket), count(store, Testcase), count(store, HistoryEvent))
    again = [ingester.ingest(p) for p in sorted((copies / "ops").glob("crash-*")) if p.suffix != ".json"]
    assert {r.outcome for r in again} == {"duplicate"}
    assert (count(store, Bucket), count(store, Testcase), count(store, HistoryEvent)) == before
    assert not [p for p in (copies / "ops").iterdir()], "duplicates are removed from the crash dir"


def test_artifact_moves_to_the_content_addressed_store_with_its_bytes_in_the_database(store, tmp_path):
    path = reports.write_artifact(tmp_path / "crashes" / "ops", 5, 0)
    data = path.read_bytes()
    result = Ingester(store).ingest(path)
    assert not path.exists() and not Path(str(path) + ".json").exists()
    stored = store.testcase_path(result.sha256)
    assert stored.parent.name == result.sha256[:2]
    assert stored.read_bytes() == data
    row = store.read(lambda s: s.get(Testcase, result.testcase_id))
    assert store.read(lambda s: s.scalar(select(Testcase.data).where(Testcase.id == row.id))) == data
    assert row.target == "ops" and row.build_id == "test-build" and row.report_source == "sidecar"
    assert json.loads(row.sidecar_json if False else store.read(
        lambda s: s.scalar(select(Testcase.sidecar_json))))["sha1"] == path.name.split("-", 1)[1]


def test_keep_original_leaves_the_crash_dir_alone(store, tmp_path):
    path = reports.write_artifact(tmp_path / "ops", 1, 0)
    Ingester(store, keep_original=True).ingest(path)
    assert path.exists() and Path(str(path) + ".json").exists()
    assert count(store, Testcase) == 1


def test_a_kill_between_commit_and_file_move_is_finished_by_the_next_ingest(store, tmp_path, monkeypatch):
    path = reports.write_artifact(tmp_path / "ops", 2, 0)
    ingester = Ingester(store)

    def die(*args):
        raise SystemExit("killed after the commit")
    monkeypatch.setattr(ingester, "finish_files", die)
    with pytest.raises(SystemExit):
        ingester.ingest(path)
    assert path.exists() and count(store, Testcase) == 1  # committed, file still in crashes/
    monkeypatch.undo()
    result = Ingester(store).ingest(path)
    assert result.outcome == "duplicate"
    assert not path.exists() and store.testcase_path(result.sha256).exists()
    assert count(store, Testcase) == 1 and count(store, Bucket) == 1


def test_reproduction_decides_the_signature_and_reliability(store, tmp_path):
    path = reports.write_artifact(tmp_path / "ops", 6, 0)
    result = Ingester(store, Reproducer(FAKE_REPRO_CMD), repro_count=3).ingest(path)
    assert result.reliable is True
    row = store.read(lambda s: s.get(Testcase, result.testcase_id))
    assert (row.report_source, row.repro_matches, row.repro_attempts) == ("repro", 3, 3)
    runs = store.read(lambda s: s.scalars(select(ReproRun)).all())
    assert len(runs) == 3 and all(r.matched and r.exit_code == 1 for r in runs)


def test_a_flaky_crash_makes_a_flaky_bucket(store, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_RUNNER_STATE", str(tmp_path))
    path = reports.write_artifact(tmp_path / "ops", 3, 0, payload=b"bug=3;variant=0;flaky")
    result = Ingester(store, Reproducer(FAKE_REPRO_CMD), repro_count=3).ingest(path)
    assert result.reliable is False  # 1 of 3 runs: below half
    bucket = store.read(lambda s: s.get(Bucket, result.bucket_id))
    assert bucket.status == "flaky"


def test_unavailable_reproduction_falls_back_to_the_sidecar_report(store, tmp_path):
    path = reports.write_artifact(tmp_path / "ops", 0, 0, payload=b"bug=0;variant=0;unavailable")
    result = Ingester(store, Reproducer(FAKE_REPRO_CMD), repro_count=3).ingest(path)
    row = store.read(lambda s: s.get(Testcase, result.testcase_id))
    assert row.report_source == "sidecar" and row.reliable is None
    assert row.repro_attempts == 1  # exit 2 is not retried


def test_bucket_severity_is_the_highest_of_its_testcases(store, tmp_path):
    from triage.reproduce import analyze
    assert analyze(reports.report(5, 0)).severity == "high"
    result = Ingester(store).ingest(reports.write_artifact(tmp_path / "ops", 5, 0))
    assert store.read(lambda s: s.get(Bucket, result.bucket_id)).severity == "high"


def test_a_new_testcase_reopens_a_fixed_bucket_as_a_regression(store, tmp_path):
    ingester = Ingester(store)
    first = ingester.ingest(reports.write_artifact(tmp_path / "ops", 1, 0))

    def fix(session):
        session.get(Bucket, first.bucket_id).status = "fixed"
    store.write(fix)
    ingester.ingest(reports.write_artifact(tmp_path / "ops", 1, 1))
    assert store.read(lambda s: s.get(Bucket, first.bucket_id)).status == "new"
    events = store.read(lambda s: s.scalars(select(HistoryEvent.event)).all())
    assert "regressed" in events


# -- bad input: a clear error or a quarantine entry; nothing lost ---------------------------------

def quarantined(store) -> list[QuarantineEntry]:
    return store.read(lambda s: s.scalars(select(QuarantineEntry)).all())


def test_an_empty_artifact_is_quarantined(store, tmp_path):
    path = tmp_path / "ops" / "crash-da39a3ee5e6b4b0d3255bfef95601890afd80709"
    path.parent.mkdir()
    path.write_bytes(b"")
    result = Ingester(store).ingest(path)
    assert result.outcome == "quarantined" and "empty" in result.reason
    [entry] = quarantined(store)
    assert Path(entry.stored_path).exists() and not path.exists()


def test_a_100_mb_artifact_is_quarantined_without_being_read(store, tmp_path):
    path = tmp_path / "ops" / "oom-0123"
    path.parent.mkdir()
    with open(path, "wb") as handle:
        handle.truncate(100 << 20)  # sparse: 100 MB without writing them
    result = Ingester(store).ingest(path)
    assert result.outcome == "quarantined" and "exceeds" in result.reason
    [entry] = quarantined(store)
    assert entry.size == 100 << 20 and os.path.getsize(entry.stored_path) == 100 << 20


def test_a_binary_malformed_report_is_still_ingested(store, tmp_path):
    path = tmp_path / "ops" / "crash-0badc0de"
    path.parent.mkdir()
    path.write_bytes(b"\x00\xff" * 50)
    Path(str(path) + ".json").write_text(json.dumps({"report": "\x00\x1b[31m\udcff garbage ==="}))
    result = Ingester(store).ingest(path)
    assert result.outcome == "new-bucket"
    assert count(store, Testcase) == 1


def test_a_malformed_sidecar_is_ignored_and_noted(store, tmp_path):
    path = tmp_path / "codec" / "crash-00aa"
    path.parent.mkdir()
    path.write_bytes(b"abc")
    Path(str(path) + ".json").write_bytes(b"{not json")
    result = Ingester(store).ingest(path)
    row = store.read(lambda s: s.get(Testcase, result.testcase_id))
    assert row.target == "codec"  # from the crash directory's name
    details = store.read(lambda s: s.scalars(select(HistoryEvent.detail)).all())
    assert any("sidecar is not JSON" in d for d in details)


def test_a_sidecar_target_with_dot_dot_is_refused(store, tmp_path):
    path = reports.write_artifact(tmp_path / "ops", 0, 0, target="../../etc")
    result = Ingester(store).ingest(path)
    assert store.read(lambda s: s.get(Testcase, result.testcase_id)).target == "ops"


def test_a_file_name_with_a_newline_is_ingested_and_kept_verbatim(store, tmp_path):
    directory = tmp_path / "ops"
    directory.mkdir()
    path = directory / "crash-ab\ncd"
    path.write_bytes(b"bug=1;variant=0;")
    result = Ingester(store).ingest(path)
    assert result.outcome == "new-bucket"
    assert store.read(lambda s: s.get(Testcase, result.testcase_id)).original_name == "crash-ab\ncd"


def test_a_symlink_is_quarantined_not_followed(store, tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"do not read")
    link = tmp_path / "ops" / "crash-link"
    link.parent.mkdir()
    link.symlink_to(secret)
    result = Ingester(store).ingest(link)
    assert result.outcome == "quarantined" and count(store, Testcase) == 0
    assert secret.read_bytes() == b"do not read"


def test_a_missing_path_or_a_directory_is_a_clear_error(store, tmp_path):
    with pytest.raises(ArtifactError, match="no such file"):
        Ingester(store).ingest(tmp_path / "crash-none")
    with pytest.raises(ArtifactError, match="is a directory"):
        Ingester(store).ingest(tmp_path)


def test_a_parser_failure_quarantines_instead_of_stopping(store, tmp_path, monkeypatch):
    import triage.ingest as ingest_module

    def broken(text):
        raise RuntimeError("parser bug")
    monkeypatch.setattr(ingest_module, "analyze", broken)
    path = reports.write_artifact(tmp_path / "ops", 0, 0)
    result = Ingester(store).ingest(path)
    assert result.outcome == "quarantined" and "parser bug" in result.reason
    [entry] = quarantined(store)
    assert Path(entry.stored_path).exists() and Path(entry.stored_path + ".json").exists()


def test_similar_stacks_are_linked_for_reviewers_but_never_merged(store, tmp_path):
    from click.testing import CliRunner

    from triage.cli import triage
    from triage.models import BucketLink
    ingester = Ingester(store)
    first = ingester.ingest(reports.write_artifact(tmp_path / "ops", 0, 0))
    unrelated = ingester.ingest(reports.write_artifact(tmp_path / "ops", 1, 0))
    near = tmp_path / "ops" / "crash-near"
    near.write_bytes(b"near")
    Path(str(near) + ".json").write_text(json.dumps(
        {"target": "ops", "report": reports.report(0, 0).replace("in find", "in find_all")}))
    second = ingester.ingest(near)
    assert second.outcome == "new-bucket" and second.bucket_id != first.bucket_id
    links = store.read(lambda s: s.scalars(select(BucketLink)).all())
    assert [(link.bucket_id, link.related_id) for link in links] == [(first.bucket_id, second.bucket_id)]
    assert 0.5 <= links[0].similarity < 1.0 and unrelated.bucket_id not in (links[0].related_id,)
    shown = CliRunner().invoke(triage, ["show", str(second.bucket_id), "--store",
                                        store.url.render_as_string(False)]).output
    assert f"#{first.bucket_id}  0." in shown.split("related buckets")[1]
