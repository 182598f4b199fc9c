"""The harness' fast branch tracer (fuzz/fast_trace.py, fuzz/csrc/fast_trace.c).

That it guides the fuzzer exactly as Atheris does is shown by a fuzzing run
in test_runner.py. Here: branch probes count the blocks Atheris' own calls
count, comparisons report to libFuzzer what Atheris' own TraceCompareOp
reports, and the fallbacks: coverage is never lost, only speed."""
from __future__ import annotations

import dis
import json
import subprocess
import sys
import types
from pathlib import Path

import atheris
import pytest

from fuzz import build as fbuild
from fuzz import fast_trace
from tests.fuzz.runner_fixtures import BUILD_CACHE, REPO, fixture_modules, fuzzbuild

RECORDER = Path(__file__).resolve().parent / "fixture_recorder"


def target(data):
    return len(data)


def sample(xs):
    """Loops, branches and an early exit: blocks for the probes to count."""
    total = 0
    for x in xs:
        if x % 3 == 0:
            total += x
        elif x > 5:
            total -= 1
        if total > 100:
            return -total
    return total


SAMPLE_INPUTS = ([], [3, 6, 7], [1, 2, 4, 9, 10], [99, 3, 3], [8] * 5)


def compare_at_a_join(c, x, y, z):
    """The block after the conditional expression starts at the comparison itself."""
    return z < (x if c else y)


def compare_at_loop_heads(xs, limit):
    i = 0
    while xs[i] != limit and i < len(xs) - 1:
        i += 1
    return i if (xs[0] if i else limit) == limit else -i


def test_without_a_tracer_nothing_is_prepared_and_the_log_says_why(tmp_path):
    lines = []
    assert fast_trace.prepare(atheris, tmp_path / "missing.so", lines.append) is None
    assert fast_trace.prepare(atheris, None, lines.append) is None
    assert len(lines) == 2 and all("fast tracing off (the build has no tracer" in line for line in lines)
    assert fast_trace.wrap(target, atheris, None, lines.append) is target


def test_another_python_keeps_atheris_own_functions(monkeypatch, tmp_path):
    monkeypatch.setattr(fast_trace, "VERIFIED_PYTHON", (2, 7))
    lines = []
    assert fast_trace.prepare(atheris, tmp_path / "any.so", lines.append) is None
    assert lines == ["INFO: blazefuzz harness: fast tracing off (verified on CPython 2.7 only)\n"]


def test_the_environment_switch_turns_it_off(monkeypatch, tmp_path):
    monkeypatch.setenv(fast_trace.ENV, "0")
    lines = []
    assert fast_trace.prepare(atheris, tmp_path / "any.so", lines.append) is None
    assert lines == [f"INFO: blazefuzz harness: fast tracing off ({fast_trace.ENV}=0)\n"]


def test_an_atheris_without_the_instrumentation_hooks_keeps_its_own_branch_calls():
    assert "no Instrumentor" in fast_trace.install_probes(types.SimpleNamespace(), tracer=None)
    only_one = types.SimpleNamespace(instrument_bytecode=types.SimpleNamespace(
        _generate_instruction=object, Instrumentor=type("Instrumentor", (), {"trace_control_flow": None})))
    assert fast_trace.install_probes(only_one, tracer=None) == (
        "this Atheris has no Instrumentor._generate_trace_branch_invocation")


class TestWithTheBuiltTracer:
    pytestmark = fuzzbuild

    @pytest.fixture
    def tracer_path(self):
        return fbuild.build("coverage", out_root=BUILD_CACHE, modules=fixture_modules()).tracer

    def test_unbound_tracer_refuses_to_trace(self, tracer_path):
        tracer = fast_trace.load_tracer(tracer_path)
        with pytest.raises(RuntimeError, match="bind"):
            tracer.trace_branch(0)
        with pytest.raises(RuntimeError, match="bind"):
            tracer.trace_cmp(1, 2, 2, 0, False)

    def test_comparison_arguments_are_checked_before_anything_is_called(self, tracer_path):
        tracer = fast_trace.load_tracer(tracer_path)
        with pytest.raises(TypeError, match="takes 5 arguments"):
            tracer.trace_cmp(1, 2, 2)
        with pytest.raises(ValueError, match="operator 9 out of range"):
            tracer.trace_cmp(1, 2, 9, 0, False)
        with pytest.raises(OverflowError):
            tracer.trace_branch(-1)

    @staticmethod
    def recorder_run(script: str, tracer_path: Path, tmp_path: Path, *flags: str):
        """What tests/fuzz/fixture_recorder/<script> prints, with the recorder built with `flags`."""
        recorder = tmp_path / f"recorder{''.join(flags)}.so"
        subprocess.run([fbuild.CLANG, "-shared", "-fPIC", "-O1", "-Wall", "-Wextra", "-Werror", *flags,
                        str(RECORDER / "recorder.c"), "-o", str(recorder)], check=True)
        proc = subprocess.run([sys.executable, str(RECORDER / script), str(recorder), str(tracer_path)],
                              capture_output=True, text=True, cwd=REPO, check=False,
                              env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout)

    def test_branches_bump_the_cores_counters_as_its_own_function_would(self, tracer_path, tmp_path):
        """With the core's counter variables exported, trace_branch and probes bump
        counters[index % max_counters] themselves (3 and 11 are one counter of 8); a
        probe keeps its counter until the tracer is bound to another core. Without
        the variables, they call the core's branch function."""
        direct = self.recorder_run("branch_reports.py", tracer_path, tmp_path, "-DCOUNTERS")
        assert direct == [{"logged": "", "counters": "1 0 0 2 0 2 0 1"},
                          {"logged": "", "counters": "0 0 0 0 0 1 0 0"}]
        through = self.recorder_run("branch_reports.py", tracer_path, tmp_path)
        assert through == [{"logged": "branch 3\nbranch 11\nbranch 0\nbranch 7\nbranch 5\nbranch 5\n",
                            "counters": ""}, {"logged": "branch 5\n", "counters": ""}]

    def test_comparisons_report_to_libfuzzer_what_atheris_own_function_reports(self, tracer_path, tmp_path):
        """Ints, bytes, ASCII and other str (lone surrogates too), and operands it does not
        report: Atheris' TraceCompareOp and trace_cmp, both pointed at a recorder of
        libFuzzer's entry points, report the same calls and return the same results."""
        cases = {row["case"]: row for row in self.recorder_run("compare_reports.py", tracer_path, tmp_path)}
        for row in cases.values():
            assert row["tracer"] == row["atheris"], row["case"]
            assert row["tracer"]["result"] == row["python"]["result"] and row["python"]["reported"] == ""
        assert cases["(24301, 3, 2)"]["tracer"]["reported"] == "const_cmp8 24301 3\n"
        assert cases["('key', 'kez', 2)"]["tracer"]["reported"] == "cmp8 3 3\nmemcmp pc=10 n=3 6b6579 6b657a differ\n"
        assert cases["('é', 'ab', 2)"]["tracer"]["reported"] == "cmp8 2 2\nmemcmp pc=13 n=2 c3a9 6162 differ\n"
        assert cases["('\\ud800', 'abc', 2)"]["tracer"]["reported"].endswith(" eda080 616263 differ\n")
        assert cases["('1', 1, 0)"]["tracer"] == {"result": "TypeError", "reported": ""}

    def test_no_atheris_core_loaded_keeps_atheris_own_function(self, tracer_path, monkeypatch):
        """Outside atheris.Fuzz() no core is loaded: binding fails, nothing is replaced."""
        own = atheris._trace_branch
        monkeypatch.setattr(atheris, "_trace_branch", own)
        with pytest.raises(LookupError, match="core_without_libfuzzer.*is not loaded"):
            fast_trace.bind(atheris, fast_trace.load_tracer(tracer_path))
        assert atheris._trace_branch is own

    def test_first_call_falls_back_and_still_runs_the_target(self, tracer_path):
        lines = []
        wrapped = fast_trace.wrap(target, atheris, fast_trace.load_tracer(tracer_path), lines.append)
        assert wrapped(b"abc") == 3 and wrapped(b"") == 0
        assert len(lines) == 1 and lines[0].startswith("INFO: blazefuzz harness: fast tracing off (")

    def test_an_unbound_probe_bumps_its_counter_through_atheris_and_is_true(self, tracer_path):
        tracer = fast_trace.load_tracer(tracer_path)
        bumped = []
        tracer.use_atheris(types.SimpleNamespace(_trace_branch=bumped.append))
        probe = tracer.Probe(41)
        assert (bool(probe), bool(probe)) == (True, True)
        assert bumped == [41, 41]
        assert probe.index == 41 and repr(probe) == "<branch probe 41>"

    def test_a_block_that_starts_with_a_traced_comparison_still_runs_it(self, tracer_path, monkeypatch):
        """A probe's jump targets its block's first instruction; when that is a
        comparison, Atheris inserts its call before it afterwards, and the jump
        lands on that call, as falling through does (it is never taken: a probe
        is true, but the code stays what it says)."""
        monkeypatch.setattr(atheris, "_trace_branch", lambda index: None)
        compared = []

        def trace_cmp(left, right, opid, index, left_is_const):
            compared.append(opid)
            return (left < right, left <= right, left == right, left != right, left > right,
                    left >= right)[opid]
        monkeypatch.setattr(atheris, "_trace_cmp", trace_cmp)
        tracer = fast_trace.load_tracer(tracer_path)
        tracer.use_atheris(atheris)
        assert fast_trace.install_probes(atheris, tracer) is None
        for fn, inputs in ((compare_at_a_join, [(c, 1, 5, z) for c in (0, 1) for z in (0, 3, 9)]),
                           (compare_at_loop_heads, [([1, 2, 3], 2), ([4, 4], 4), ([5, 6], 9)])):
            code = atheris.patch_code(fn.__code__, trace_dataflow=True)
            probed = types.FunctionType(code, fn.__globals__)
            instructions = list(dis.get_instructions(probed))
            jumps = [(jump, after) for probe, jump, after in zip(instructions, instructions[1:], instructions[2:])
                     if isinstance(probe.argval, tracer.Probe)]
            assert jumps and "_trace_cmp" in probed.__code__.co_names
            for jump, after in jumps:
                assert jump.opname == "POP_JUMP_FORWARD_IF_FALSE" and jump.argval == after.offset
            compared.clear()
            assert [probed(*args) for args in inputs] == [fn(*args) for args in inputs]
            assert compared                                 # the comparisons were traced

    def test_a_probe_takes_one_counter_index(self, tracer_path):
        tracer = fast_trace.load_tracer(tracer_path)
        with pytest.raises(OverflowError):
            tracer.Probe(-1)
        with pytest.raises(TypeError):
            tracer.Probe("7")
        with pytest.raises(TypeError):
            tracer.Probe()

    def test_probes_count_the_blocks_atheris_own_calls_count_in_the_same_order(self, tracer_path,
                                                                             monkeypatch):
        """The same code instrumented both ways, run on the same inputs: the runs
        bump counters in the same pattern, and the function computes what it
        computed uninstrumented. (Which counter a block gets depends on the order
        Atheris walks a set of blocks in, so the two are compared through the
        one-to-one renaming of counters that their first runs define.)"""
        bytecode = atheris.instrument_bytecode
        monkeypatch.setattr(bytecode.Instrumentor, "_generate_trace_branch_invocation",
                            bytecode.Instrumentor._generate_trace_branch_invocation)  # undone after
        bumped = []
        monkeypatch.setattr(atheris, "_trace_branch", bumped.append)

        def instrumented():
            code = atheris.patch_code(sample.__code__, trace_dataflow=False)
            return types.FunctionType(code, sample.__globals__)

        def counters(fn):
            runs = []
            for xs in SAMPLE_INPUTS:
                bumped.clear()
                assert fn(list(xs)) == sample(list(xs))
                runs.append(list(bumped))
            return runs

        own = counters(instrumented())
        tracer = fast_trace.load_tracer(tracer_path)
        assert fast_trace.install_probes(atheris, tracer) is None
        probed_fn = instrumented()
        probed = counters(probed_fn)
        renaming = {}
        for own_run, probed_run in zip(own, probed):
            assert len(own_run) == len(probed_run)
            for a, b in zip(own_run, probed_run):
                assert renaming.setdefault(a, b) == b
        assert len(set(renaming.values())) == len(renaming) > 5       # one to one
        assert [[renaming[a] for a in run] for run in own] == probed
        assert "_trace_branch" not in probed_fn.__code__.co_names
        probes = [i.argval for i in dis.get_instructions(probed_fn) if isinstance(i.argval, tracer.Probe)]
        assert {p.index for p in probes} >= set(renaming.values())
