"""Fuzz target `stateful`: a Hypothesis RuleBasedStateMachine of BlazeDB against the model.

Four rules (writes, reads, index changes, transaction control); each builds an op (fuzz/op_strategies.py) and runs
it through the ops target's Session, so every oracle of `ops` applies rule by
rule, and the invariant compares all records and indexes with the model after
every step. The database lives in a MemFS created per run.

Two ways to run it:
  pytest      tests/fuzz/test_stateful.py runs `BlazeDBMachine.TestCase`
              (small, derandomized settings)
  Atheris     `test_one_input = MachineTest.hypothesis.fuzz_one_input`: the
              input bytes are Hypothesis's choice buffer (not an op stream),
              so crash files replay only through this module.
"""
from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    invariant,
    rule,
)

from engine._native import store as _store_mod
from engine.db import BlazeDB
from fuzz import op_strategies as S
from fuzz import opstream as O
from fuzz.targets.ops import DB_OPTIONS, Session

DB_FILE = "stateful.blazedb"
_WRITES = (O.Insert, O.Insert, O.InsertMany, O.Update, O.Upsert, O.Replace, O.Delete, O.Delete, O.DeleteAll)
_READS = (O.Fetch, O.Query, O.Count, O.Aggregate)
_SCHEMA = (O.CreateIndex, O.DropIndex)


def _brief(strategy, name):
    """The same strategy with a one-line repr: Hypothesis formats the rule list
    (and so every argument strategy) each time a disabled rule is skipped."""
    return S.named(strategy, name)


class BlazeDBMachine(RuleBasedStateMachine):
    """BlazeDB and fuzz.model.Model side by side, one op per rule."""

    def __init__(self):
        super().__init__()
        fs = _store_mod.MemFS()
        self.session = Session(lambda: BlazeDB(DB_FILE, vfs=fs, **DB_OPTIONS))
        self.steps = 0

    def _run(self, op):
        self.session.step(self.steps, op)
        self.steps += 1

    # Few rules with wide strategies rather than one rule per op kind: choosing
    # among many rules dominates Hypothesis's time per step.
    @rule(op=_brief(st.one_of(*(S.OP_STRATEGIES[k] for k in _WRITES)), "write_ops"))
    def write(self, op):
        self._run(op)

    @rule(op=_brief(st.one_of(*(S.OP_STRATEGIES[k] for k in _READS)), "read_ops"))
    def read(self, op):
        self._run(op)

    @rule(op=_brief(st.one_of(*(S.OP_STRATEGIES[k] for k in _SCHEMA)), "index_ops"))
    def index(self, op):
        self._run(op)

    @rule(op=st.sampled_from([O.Begin(), O.Commit(), O.Rollback(), O.Checkpoint(), O.Reopen(),
                              O.Check()]))
    def control(self, op):
        self._run(op)

    @invariant()
    def same_records_and_indexes(self):
        self.session.compare_state(self.steps - 1, None, "final-state")

    def teardown(self):
        self.session.close()


FUZZ_SETTINGS = settings(database=None, deadline=None, max_examples=10**9,
                         stateful_step_count=24, suppress_health_check=list(HealthCheck))

MachineTest = get_state_machine_test(BlazeDBMachine, settings=FUZZ_SETTINGS)
test_one_input = MachineTest.hypothesis.fuzz_one_input


def describe_input(data: bytes) -> str:
    return ("# stateful target: the input is a Hypothesis choice buffer; replay it with\n"
            "from fuzz.targets import stateful\n"
            f"stateful.test_one_input(bytes.fromhex({data.hex()!r}))\n")
