"""The harness' fast branch tracer (fuzz/fast_trace.py, fuzz/csrc/fast_trace.c).

That it counts the same branches as Atheris is shown by a fuzzing run in
test_runner.py; these are its fallbacks: coverage is never lost, only speed."""
from __future__ import annotations

import atheris
import pytest

from fuzz import build as fbuild
from fuzz import fast_trace
from tests.fuzz.runner_fixtures import BUILD_CACHE, fixture_modules, fuzzbuild


def target(data):
    return len(data)


def test_without_a_tracer_the_target_is_returned_as_it_is_and_the_log_says_why(tmp_path):
    lines = []
    assert fast_trace.wrap(target, atheris, tmp_path / "missing.so", lines.append) is target
    assert fast_trace.wrap(target, atheris, None, lines.append) is target
    assert all("fast tracing off (the build has no tracer" in line for line in lines)


def test_another_python_keeps_atheris_own_functions(monkeypatch, tmp_path):
    monkeypatch.setattr(fast_trace, "VERIFIED_PYTHON", (2, 7))
    lines = []
    assert fast_trace.wrap(target, atheris, tmp_path / "any.so", lines.append) is target
    assert lines == ["INFO: blazefuzz harness: fast tracing off (verified on CPython 2.7 only)\n"]


def test_the_environment_switch_turns_it_off(monkeypatch, tmp_path):
    monkeypatch.setenv(fast_trace.ENV, "0")
    lines = []
    assert fast_trace.wrap(target, atheris, tmp_path / "any.so", lines.append) is target
    assert lines == [f"INFO: blazefuzz harness: fast tracing off ({fast_trace.ENV}=0)\n"]


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

    def test_no_atheris_core_loaded_keeps_atheris_own_function(self, tracer_path, monkeypatch):
        """Outside atheris.Fuzz() no core is loaded: binding fails, nothing is replaced."""
        own = atheris._trace_branch
        monkeypatch.setattr(atheris, "_trace_branch", own)
        with pytest.raises(LookupError, match="core_without_libfuzzer.*is not loaded"):
            fast_trace.bind(atheris, fast_trace.load_tracer(tracer_path))
        assert atheris._trace_branch is own

    def test_first_call_falls_back_and_still_runs_the_target(self, tracer_path):
        lines = []
        wrapped = fast_trace.wrap(target, atheris, tracer_path, lines.append)
        assert wrapped(b"abc") == 3 and wrapped(b"") == 0
        assert len(lines) == 1 and lines[0].startswith("INFO: blazefuzz harness: fast tracing off (")
