"""Every input under tests/fuzz/regressions/<target>/ replays clean through its target.

Each one made its target fail once (regressions/README.md says how); a
failure here is that bug back."""
from __future__ import annotations

from pathlib import Path

import pytest

from fuzz import targets

ROOT = Path(__file__).resolve().parent / "regressions"
INPUTS = sorted(p for p in ROOT.glob("*/*") if p.is_file())


def test_there_are_regression_inputs_for_known_targets_only():
    assert INPUTS, f"no inputs under {ROOT}"
    assert {p.parent.name for p in INPUTS} <= set(targets.names())


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_input_replays_clean(path):
    targets.get(path.parent.name).test_one_input(path.read_bytes())
