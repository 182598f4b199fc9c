"""triage.severity: the ranking of issue 5 on real captures, and every documented rule."""
from __future__ import annotations

from pathlib import Path

import pytest

from triage.parse import CrashReport, parse_report
from triage.severity import ORACLE_SEVERITY, SEVERITIES, severity_of

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("name, severity", [
    ("asan_heap_overflow_write", "high"),          # native WRITE overflow
    ("planted_codec_heap_overflow_write_repro", "high"),
    ("asan_use_after_free", "high"),               # use-after-free, even a READ
    ("asan_double_free", "high"),
    ("asan_heap_overflow_read", "medium"),         # READ overflows
    ("asan_stack_overflow_read", "medium"),
    ("asan_global_overflow_read", "medium"),
    ("asan_segv_null_after_ubsan", "medium"),
    ("atheris_oracle_mismatch_recovery", "high"),  # committed data lost after a crash
    ("edge_oracle_plain_traceback", "high"),
    ("atheris_oracle_mismatch_result", "medium"),  # a silently wrong answer
    ("planted_ops_oracle_mismatch_repro", "medium"),  # a deleted record still found
    ("atheris_python_exception", "low"),           # plain exceptions
    ("atheris_attribute_error", "low"),
    ("python_plain_chained", "low"),
    ("ubsan_index_out_of_bounds_stack", "medium"),
    ("ubsan_null_member_access_stack", "medium"),
    ("ubsan_signed_overflow_stack", "low"),
    ("libfuzzer_deadly_signal_abort", "medium"),
    ("asan_abrt_handle_abort", "medium"),
    ("python_faulthandler_segv", "medium"),
    ("libfuzzer_timeout", "low"),
    ("libfuzzer_oom_malloc", "low"),
    ("lsan_leak", "low"),
    ("libfuzzer_slow_unit", "low"),
])
def test_severity_of_real_captures(name, severity):
    assert severity_of(parse_report((FIXTURES / f"{name}.txt").read_bytes())) == severity


def report(kind: str, crash_type: str) -> CrashReport:
    return CrashReport(kind, crash_type, "")


@pytest.mark.parametrize("crash_type, severity", [
    ("heap-buffer-overflow WRITE", "high"),
    ("stack-buffer-overflow WRITE", "high"),
    ("global-buffer-overflow WRITE", "high"),
    ("SEGV WRITE", "high"),
    ("null-deref WRITE", "high"),
    ("heap-use-after-free READ", "high"),
    ("heap-use-after-free WRITE", "high"),
    ("stack-use-after-return READ", "high"),
    ("stack-use-after-scope READ", "high"),
    ("use-after-poison READ", "high"),
    ("double-free", "high"),
    ("bad-free", "high"),
    ("alloc-dealloc-mismatch", "high"),
    ("heap-buffer-overflow READ", "medium"),
    ("container-overflow READ", "medium"),
    ("dynamic-stack-buffer-overflow READ", "medium"),
    ("SEGV READ", "medium"),
    ("SEGV", "medium"),
    ("null-deref READ", "medium"),
    ("stack-overflow", "medium"),
    ("allocation-size-too-big", "medium"),
])
def test_asan_rules(crash_type, severity):
    assert severity_of(report("asan", crash_type)) == severity


@pytest.mark.parametrize("oracle_kind, severity", [
    ("recovery", "high"), ("reopen", "high"), ("check", "high"), ("roundtrip", "high"), ("lost-commit", "high"),
    ("result", "medium"), ("final-state", "medium"), ("index-vs-scan", "medium"), ("partition", "medium"),
    ("corrupt-open", "medium"), ("error", "medium"), ("a-kind-added-later", "medium"),
])
def test_oracle_rules(oracle_kind, severity):
    assert severity_of(report("oracle-mismatch", f"OracleMismatch: {oracle_kind}")) == severity


def test_every_oracle_kind_of_fuzz_oracles_is_ranked():
    oracles = pytest.importorskip("fuzz.oracles")
    assert set(oracles.KINDS) <= set(ORACLE_SEVERITY)


@pytest.mark.parametrize("kind, crash_type, severity", [
    ("ubsan", "pointer-overflow", "medium"),
    ("ubsan", "nonnull-argument", "medium"),
    ("ubsan", "shift-exponent", "low"),
    ("ubsan", "misaligned-pointer-use", "low"),
    ("ubsan", "undefined-behavior", "low"),
    ("python-exception", "SystemError", "medium"),
    ("python-exception", "ValueError", "low"),
    ("python-exception", "MemoryError", "low"),
    ("deadly-signal", "deadly-signal", "medium"),
    ("deadly-signal", "floating-point-exception", "medium"),
    ("timeout", "timeout", "low"),
    ("oom", "out-of-memory", "low"),
    ("leak", "direct-leak", "low"),
    ("slow-unit", "slow-unit", "low"),
    ("unknown", "unknown", "low"),
    ("unknown", "fuzz-target-exited", "low"),
])
def test_other_rules(kind, crash_type, severity):
    assert severity_of(report(kind, crash_type)) == severity


def test_severity_is_one_of_three_words():
    assert SEVERITIES == ("high", "medium", "low")
    for path in FIXTURES.glob("*.txt"):
        assert severity_of(parse_report(path.read_bytes())) in SEVERITIES
