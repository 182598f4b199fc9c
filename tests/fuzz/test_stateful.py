"""The stateful target: BlazeDB against the model as a Hypothesis state machine."""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, settings

from fuzz.targets import stateful

pytestmark = pytest.mark.property


def test_state_machine_agrees_with_the_model():
    """Small, derandomized: every rule's result, and all records after each step."""
    run = stateful.BlazeDBMachine.TestCase
    run.settings = settings(max_examples=25, stateful_step_count=15, derandomize=True,
                            database=None, deadline=None, suppress_health_check=list(HealthCheck))
    run("runTest").runTest()


def test_fuzz_one_input_takes_any_bytes():
    rnd = random.Random(5)
    for _ in range(40):
        stateful.test_one_input(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 300))))


def test_fuzz_one_input_reports_a_broken_engine(monkeypatch):
    from engine.db import BlazeDB
    from fuzz.oracles import OracleMismatch

    monkeypatch.setattr(BlazeDB, "count", lambda self, where=None: 12345)
    rnd = random.Random(6)
    with pytest.raises(OracleMismatch):
        for _ in range(200):
            stateful.test_one_input(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(50, 300))))
