"""fuzz/mutator.py: libFuzzer's custom mutator for op streams."""
from __future__ import annotations

import collections
import random
from pathlib import Path

import pytest

from fuzz import harness, mutator
from fuzz import opstream as O
from fuzz import values as V

SEEDS = sorted(p for p in (Path(__file__).resolve().parents[2] / "corpus" / "ops").iterdir() if p.is_file())


def kinds(ops) -> list:
    return [type(op) for op in ops]


def test_mutants_are_op_streams_within_max_size_and_repeat_with_their_seed():
    for seed in range(400):
        data = SEEDS[seed % len(SEEDS)].read_bytes()
        mutant = mutator.mutate(data, 96, seed)
        assert len(mutant) <= 96
        spans = O.decode_spans(mutant)
        assert not spans or spans[-1][2] <= len(mutant)        # cut at an op boundary
        assert mutator.mutate(data, 96, seed) == mutant


def test_new_ops_follow_the_tag_tables_weights_not_the_bytes_libfuzzer_favours():
    rng = random.Random(3)
    drawn = collections.Counter(type(O.decode(mutator.new_op(rng))[0]) for _ in range(20_000))
    for kind, weight in O._WEIGHTS:
        assert drawn[kind] / 20_000 == pytest.approx(weight / 256, abs=0.01), kind.__name__
    assert drawn[O.Check] < drawn[O.Query] / 3 and drawn[O.Begin] > drawn[O.Check]


def test_a_new_op_of_a_given_kind_is_one_op_of_that_kind_with_random_fields():
    rng = random.Random(5)
    inserts = [O.decode(mutator.new_op(rng, O.Insert)) for _ in range(50)]
    assert all(len(ops) == 1 and type(ops[0]) is O.Insert for ops in inserts)
    assert len({repr(ops[0].record) for ops in inserts}) > 25


OPS = [O.Insert(V.ID_TABLE[1], {"a": 1}), O.Update(0, {"a": 2}), O.Query(None, (), None, None),
       O.Delete(0)]


class TestEachEdit:

    def edited(self, edit: str, seed: int, data: bytes | None = None) -> list:
        rng = random.Random(seed)
        real = rng.choices
        # This edit; every other choice stays random.
        rng.choices = lambda population, weights: [edit] if population is mutator.EDITS else real(
            population, weights)
        return O.decode(mutator.edit(O.encode(OPS) if data is None else data, rng))

    def test_insert_adds_one_op_anywhere_and_leaves_the_others_as_they_were(self):
        for seed in range(30):
            out = self.edited("insert", seed)
            assert len(out) == 5 and [op for op in out if op in OPS] == OPS

    def test_replace_swaps_one_op_for_one_of_its_kind(self):
        for seed in range(30):
            out = self.edited("replace", seed)
            assert kinds(out) == kinds(OPS) and sum(a != b for a, b in zip(out, OPS)) <= 1

    def test_delete_drops_one_op(self):
        for seed in range(30):
            out = self.edited("delete", seed)
            assert len(out) == 3 and all(op in OPS for op in out)

    def test_copy_repeats_one_op(self):
        for seed in range(30):
            out = self.edited("copy", seed)
            assert len(out) == 5 and collections.Counter(map(repr, out)).most_common(1)[0][1] == 2

    def test_bracket_wraps_a_run_of_ops_in_a_transaction(self):
        ends = set()
        for seed in range(30):
            out = self.edited("bracket", seed)
            begin = out.index(O.Begin())
            end = max(i for i, op in enumerate(out) if type(op) in (O.Commit, O.Rollback))
            assert begin < end and out[:begin] + out[begin + 1:end] + out[end + 1:] == OPS
            ends.add(type(out[end]))
        assert ends == {O.Commit, O.Rollback}

    def test_a_last_op_cut_short_keeps_its_meaning(self):
        # Its missing bytes read as zeros; an op spliced in after it must not become its fields.
        short = O.encode(OPS)[:-1]            # Delete(0) without its ref byte 0
        assert O.decode(short) == OPS
        for seed in range(30):
            out = self.edited("insert", seed, short)
            assert len(out) == 5 and [op for op in out if op in OPS] == OPS

    def test_an_empty_stream_can_only_grow(self):
        assert len(O.decode(mutator.edit(b"", random.Random(1)))) == 1


def test_cut_keeps_whole_ops_only():
    ops = [O.Insert(V.ID_TABLE[i], {"name": "x" * 10}) for i in range(1, 6)]
    whole = O.encode(ops)
    for size in range(len(whole) + 1):
        kept = O.decode(mutator.cut(whole, size))
        assert kept == ops[:len(kept)] and len(mutator.cut(whole, size)) <= size
        assert len(kept) == len(ops) or len(O.encode(ops[:len(kept) + 1])) > size


def test_about_half_the_calls_go_to_libfuzzers_own_mutator_unchanged():
    calls = []

    def byte_mutate(data, max_size):
        calls.append((data, max_size))
        return b"\x84" * 3
    data = SEEDS[0].read_bytes()
    out = [mutator.mutate(data, 64, seed, byte_mutate) for seed in range(1000)]
    assert len(calls) == pytest.approx(1000 * mutator.BYTE_SHARE, abs=60)
    assert all(c == (data, 64) for c in calls) and out.count(b"\x84" * 3) == len(calls)


def test_the_harness_installs_a_targets_mutator_only_when_asked(monkeypatch):
    from fuzz.targets import ops as ops_target
    monkeypatch.delenv(harness.MUTATOR_ENV, raising=False)
    assert harness.load_mutator("ops") is None                      # the default: bytes
    assert harness.load_mutator("ops", "structure") is ops_target.custom_mutator is mutator.mutate
    assert harness.load_mutator("codec", "structure") is None       # a target without one
    monkeypatch.setenv(harness.MUTATOR_ENV, "structure")
    assert harness.load_mutator("ops") is mutator.mutate and harness.load_mutator("ops", "bytes") is None
