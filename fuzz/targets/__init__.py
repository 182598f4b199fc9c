"""The fuzz targets: one module per target, each with `test_one_input(data: bytes)`.

Structured targets also have `decode_input(data) -> list`, `encode_input(ops)
-> bytes` and `describe_input(data) -> str` (docs/CONTRACTS.md §4). The runner
(fuzz/run.py) imports a target inside `atheris.instrument_imports()`, so this
registry names modules without importing them.

| target   | input                                   | oracle |
|----------|-----------------------------------------|--------|
| ops      | an op stream (fuzz/opstream.py)         | reference model, index == scan, TLP, reopen, check() |
| codec    | raw record bytes, or generated values   | decode only raises CorruptRecordError; round trip; index_key order |
| file     | bytes split into a database file + WAL  | open works or CorruptDatabaseError; check() agrees with reads |
| crash    | crash point + op stream on FaultVFS     | after power loss: committed present, uncommitted absent, check() |
| stateful | Hypothesis buffer (RuleBasedStateMachine) | the model, rule by rule |
"""
from __future__ import annotations

import importlib

TARGETS = {
    "ops": "fuzz.targets.ops",
    "codec": "fuzz.targets.codec",
    "file": "fuzz.targets.file",
    "crash": "fuzz.targets.crash",
    "stateful": "fuzz.targets.stateful",
}


def names() -> list[str]:
    """Target names, in the order `--list` shows them."""
    return list(TARGETS)


def module_name(name: str) -> str:
    try:
        return TARGETS[name]
    except KeyError:
        raise KeyError(f"unknown fuzz target {name!r}; known: {', '.join(TARGETS)}") from None


def get(name: str):
    """The target module `name` (imported on first use)."""
    return importlib.import_module(module_name(name))
