"""Minimization: ddmin on decoded ops keeps the signature and shrinks to the ops the bug needs."""
from __future__ import annotations

import random
import sys

import pytest
from sqlalchemy import select

from tests.triage import support
from tests.triage.support import HERE, fake_target_command
from triage.minimize import Minimizer, ddmin, minimize_testcase
from triage.models import HistoryEvent, Testcase
from triage.reproduce import Reproducer

sys.path.insert(0, str(HERE))  # the fake target package, as the fake runner sees it
from fake_targets import planted  # noqa: E402

store, store_url = support.store, support.store_url  # shared fixtures


def planted_input(total: int = 30, seed: int = 7) -> bytes:
    """`total` ops of which only `put 42` ... `delete 42` matter."""
    rng = random.Random(seed)
    ops = [(rng.choice(["get", "put", "delete"]), rng.choice([k for k in range(256) if k != 42]))
           for _ in range(total - 2)]
    ops.insert(5, ("put", 42))
    ops.insert(22, ("delete", 42))
    return planted.encode_input(ops)


def test_ddmin_finds_the_two_elements_a_failure_needs():
    items = list(range(30))
    checks = []

    def fails(candidate):
        checks.append(candidate)
        return 4 in candidate and 17 in candidate
    assert ddmin(items, fails) == [4, 17]
    assert len(checks) < 120


def test_ddmin_is_one_minimal_and_handles_single_causes():
    assert ddmin(list(range(10)), lambda c: 9 in c) == [9]
    assert ddmin(list(range(8)), lambda c: True) == []
    assert ddmin([1, 2, 3], lambda c: set(c) == {1, 2, 3}) == [1, 2, 3]


def test_ddmin_stops_when_the_budget_is_spent():
    calls = []
    result = ddmin(list(range(30)), lambda c: calls.append(1) or (4 in c and 17 in c),
                   out_of_budget=lambda: len(calls) >= 3)
    assert len(calls) == 3 and {4, 17} <= set(result)


@pytest.fixture
def reproducer(monkeypatch):
    monkeypatch.setenv("BLAZEFUZZ_TARGET_PACKAGE", "fake_targets")
    return Reproducer(fake_target_command())


def signature_digest(reproducer, data):
    reproduction = reproducer.reproduce("planted", data, 1)
    assert reproduction.reproduced, "the planted input must crash"
    return reproduction.analysis.digest


@pytest.mark.slow
def test_minimization_shrinks_a_planted_bug_to_the_two_ops_it_needs(reproducer):
    data = planted_input()
    digest = signature_digest(reproducer, data)
    result = Minimizer(reproducer, target_package="fake_targets").minimize("planted", data, digest)
    assert planted.decode_input(result.data) == [("put", 42), ("delete", 42)]
    assert (result.original_ops, result.minimized_ops) == (30, 2)
    assert result.size == 4 < result.original_size == 60
    assert signature_digest(reproducer, result.data) == digest


def test_a_target_without_an_op_codec_skips_the_op_stage(reproducer):
    result = Minimizer(reproducer, target_package="fake_targets").minimize(
        "__init__", b"abc", "0" * 64)
    assert result.data == b"abc"
    assert any("op stage skipped" in note for note in result.notes)


@pytest.mark.slow
def test_minimized_case_is_stored_beside_the_original_with_both_sizes(store, reproducer):
    from triage.ingest import Ingester
    data = planted_input()
    artifact = store.data_dir / "crashes" / "planted" / "crash-planted"
    artifact.parent.mkdir(parents=True)
    artifact.write_bytes(data)
    ingested = Ingester(store, reproducer, repro_count=1).ingest(artifact)
    assert ingested.outcome == "new-bucket"
    minimizer = Minimizer(reproducer, target_package="fake_targets", max_checks=200)
    result = minimize_testcase(store, ingested.testcase_id, minimizer)
    row = store.read(lambda s: s.get(Testcase, ingested.testcase_id))
    assert (row.size, row.minimized_size) == (60, 4) == (len(data), result.size)
    assert (row.original_ops, row.minimized_ops) == (30, 2)
    assert store.testcase_path(row.sha256).read_bytes() == data
    assert store.testcase_path(row.sha256, ".min").read_bytes() == result.data
    events = store.read(lambda s: s.scalars(select(HistoryEvent.detail)
                                            .where(HistoryEvent.event == "minimized")).all())
    assert events and "60 -> 4 bytes, 30 -> 2 ops" in events[0]
