"""The whole API against the reference model, as a Hypothesis state machine.

The machine is the fuzzers' (fuzz/targets/stateful.py, `BlazeDBMachine`):
rules for every write, read, index and transaction op (reopen and check()
included), each checked against fuzz/model.py, and an invariant comparing all
records and indexes after every step. Here it runs under the loaded profile
(derandomized in CI), with a step count scaled like the example count.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from fuzz.targets.stateful import BlazeDBMachine
from tests.property.strategies import examples

pytestmark = pytest.mark.property


def test_the_whole_api_agrees_with_the_model():
    nightly = settings.default.max_examples > 100
    run_state_machine_as_test(BlazeDBMachine, settings=settings(
        settings.default, max_examples=examples(0.75, ci=80), stateful_step_count=40 if nightly else 25,
        suppress_health_check=list(HealthCheck)))
