"""triage.parse: real crash outputs (tests/triage/fixtures, see its README) and hostile input.

Specification by example: each captured output parses to the expected kind,
crash type, top project frames and artifact; every ignore rule of
triage.frames is exercised; garbage never raises and stays fast.
"""
from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from triage.frames import CRASH_LINES, IGNORE_RULES, ignore_rule, is_driver_frame, project_frames, ubsan_check
from triage.parse import KINDS, CrashReport, Frame, parse_report
from triage.parsing.stacks import parse_native_frame, parse_python_frame
from triage.parsing.text import RAW_LIMIT

FIXTURES = Path(__file__).parent / "fixtures"
CRASH = "./crash-1c1394032a577b0c9c11aa904d8138dfe369c9c3"
PLANTED = "/tmp/h7/planted_crashes/crash-a8a126e432aa41017e15376510033a0a222ff222"


def load(name: str) -> bytes:
    return (FIXTURES / f"{name}.txt").read_bytes()


def top(report: CrashReport, n: int = 3) -> list[str | None]:
    return [f.function for f in project_frames(report.frames)[:n]]


# fixture -> (kind, crash_type, top project functions, artifact path)
EXPECTED = {
    "asan_heap_overflow_write": ("asan", "heap-buffer-overflow WRITE",
                                 ["bz_node_copy_keys", "bz_node_split", "bz_btree_insert"], CRASH),
    "asan_heap_overflow_read": ("asan", "heap-buffer-overflow READ",
                                ["bz_read_varint", "bz_codec_decode", "py_decode"], CRASH),
    "asan_use_after_free": ("asan", "heap-use-after-free READ", ["bz_pager_read", "bz_pager_get", "py_get"], CRASH),
    "asan_use_after_free_color": ("asan", "heap-use-after-free READ",
                                  ["bz_pager_read", "bz_pager_get", "py_get"], CRASH),
    "asan_double_free": ("asan", "double-free", ["bz_wal_close", "py_wal_close"], CRASH),
    "asan_segv_null_after_ubsan": ("asan", "null-deref READ", ["bz_cursor_next", "bz_btree_scan", "py_scan"], CRASH),
    "asan_stack_overflow_read": ("asan", "stack-buffer-overflow READ", ["bz_stack_fill", "py_stack"], CRASH),
    "asan_global_overflow_read": ("asan", "global-buffer-overflow READ", ["bz_pager_magic", "py_magic"], CRASH),
    "asan_heap_overflow_write_unsymbolized": ("asan", "heap-buffer-overflow WRITE", [None, None, None], CRASH),
    "asan_abrt_handle_abort": ("deadly-signal", "abort", [], CRASH),
    "ubsan_signed_overflow_stack": ("ubsan", "signed-integer-overflow", ["bz_agg_add", "bz_agg_sum", "py_agg_sum"],
                                    CRASH),
    "ubsan_signed_overflow_nostack": ("ubsan", "signed-integer-overflow", [None], CRASH),
    "ubsan_signed_overflow_recovered": ("ubsan", "signed-integer-overflow", [None], None),
    "ubsan_null_member_access_stack": ("ubsan", "null-pointer-use", ["bz_cursor_next", "bz_btree_scan", "py_scan"],
                                       CRASH),
    "ubsan_index_out_of_bounds_stack": ("ubsan", "index-out-of-bounds", ["bz_stack_fill", "py_stack"], CRASH),
    "atheris_python_exception": ("python-exception", "CorruptRecordError", ["_read_field", "decode_record"], CRASH),
    "atheris_attribute_error": ("python-exception", "AttributeError", ["attribute_error"], CRASH),
    "atheris_oracle_mismatch_recovery": ("oracle-mismatch", "OracleMismatch: recovery",
                                         ["_verify_committed", "_replay_and_recover"], CRASH),
    "atheris_oracle_mismatch_result": ("oracle-mismatch", "OracleMismatch: result",
                                       ["_verify_committed", "_replay_and_recover"], CRASH),
    "python_plain_traceback": ("python-exception", "CorruptRecordError", ["_read_field", "decode_record", "<module>"],
                               None),
    "python_plain_chained": ("python-exception", "RuntimeError", ["replay", "<module>"], None),
    "python_import_error_no_preload": ("python-exception", "ImportError", ["<module>", "<module>"], None),
    "python_faulthandler_segv": ("deadly-signal", "SEGV", ["read_page", "fetch", "<module>"], None),
    "pytest_hypothesis_tb_native": ("python-exception", "CorruptRecordError",
                                    ["_read_field", "<listcomp>", "decode_record"], None),
    "libfuzzer_timeout": ("timeout", "timeout", ["_next_page", "walk_pages"],
                          "./timeout-1c1394032a577b0c9c11aa904d8138dfe369c9c3"),
    "libfuzzer_timeout_repro": ("timeout", "timeout", ["walk_pages"], None),
    "libfuzzer_oom_malloc": ("oom", "out-of-memory", [], "./oom-1c1394032a577b0c9c11aa904d8138dfe369c9c3"),
    "libfuzzer_oom_rss": ("oom", "out-of-memory", [], "./oom-1c1394032a577b0c9c11aa904d8138dfe369c9c3"),
    "libfuzzer_slow_unit": ("slow-unit", "slow-unit", [], "./slow-unit-1c1394032a577b0c9c11aa904d8138dfe369c9c3"),
    "libfuzzer_deadly_signal_abort": ("deadly-signal", "abort", [], CRASH),
    "lsan_leak": ("leak", "direct-leak", ["bz_btree_leak_node", "bz_btree_delete", "py_delete"],
                  "./leak-1c1394032a577b0c9c11aa904d8138dfe369c9c3"),
    "fork_use_after_free": ("asan", "heap-use-after-free READ", ["bz_pager_read", "bz_pager_get", "py_get"],
                            "./crash-8a2500a5c629e08ea4dc34cc7c9cf5c1a6f959e7"),
    "repro_heap_overflow_write": ("asan", "heap-buffer-overflow WRITE",
                                  ["bz_node_copy_keys", "bz_node_split", "bz_btree_insert"], None),
    "otherpath_heap_overflow_write": ("asan", "heap-buffer-overflow WRITE",
                                      ["bz_node_copy_keys", "bz_node_split", "bz_btree_insert"], None),
    "otherpath_use_after_free": ("asan", "heap-use-after-free READ", ["bz_pager_read", "bz_pager_get", "py_get"],
                                 None),
    "otherpath_python_exception": ("python-exception", "CorruptRecordError", ["_read_field", "decode_record"], None),
    "planted_codec_heap_overflow_write_repro": ("asan", "heap-buffer-overflow WRITE",
                                                ["planted_bug", "dec_string", "dec_value"], None),
    "planted_codec_heap_overflow_write_fuzz": ("asan", "heap-buffer-overflow WRITE",
                                               ["planted_bug", "dec_string", "dec_value"], PLANTED),
    "planted_codec_sidecar_report": ("asan", "heap-buffer-overflow WRITE",
                                     ["planted_bug", "dec_string", "dec_value"], PLANTED),
    "planted_codec_fuzz_no_crash": ("unknown", "unknown", [], None),
    "planted_ops_oracle_mismatch_repro": ("oracle-mismatch", "OracleMismatch: error", ["step", "run", "run_ops"],
                                          None),
    "edge_truncated_asan": ("asan", "heap-buffer-overflow WRITE",
                            ["bz_node_copy_keys", "bz_node_split", "bz_btree_insert"], None),
    "edge_oracle_plain_traceback": ("oracle-mismatch", "OracleMismatch: recovery",
                                    ["_verify_committed", "replay", "test_bucket_12"], None),
}


def test_every_fixture_has_an_expectation():
    on_disk = {p.stem for p in FIXTURES.glob("*.txt")}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_expected_kind_type_frames_and_artifact(name):
    kind, crash_type, functions, artifact = EXPECTED[name]
    report = parse_report(load(name))
    assert (report.kind, report.crash_type) == (kind, crash_type)
    assert top(report) == functions
    assert report.artifact_path == artifact
    assert report.kind in KINDS
    assert "\n" not in report.message and report.message


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_str_and_bytes_parse_alike_and_raw_keeps_the_text(name):
    data = load(name)
    text = data.decode("utf-8", errors="replace")
    assert parse_report(data) == parse_report(text)
    assert parse_report(text).raw == text


def test_frames_are_innermost_first_and_indexed_by_position():
    report = parse_report(load("asan_heap_overflow_write"))
    assert [f.index for f in report.frames] == list(range(len(report.frames)))
    first = report.frames[0]
    assert first == Frame(0, "bz_node_copy_keys", "/tmp/h7/proj/engine/csrc/store/btree.c", 8, None, "native",
                          first.raw)
    assert first.raw.strip().startswith("#0 0x7f81bea8be09 in bz_node_copy_keys")
    assert report.frames[-1].function == "_start"


def test_asan_allocation_and_free_stacks_are_extra_stacks():
    uaf = parse_report(load("asan_use_after_free"))
    assert set(uaf.extra_stacks) == {"freed", "allocated"}
    assert [f.function for f in project_frames(uaf.extra_stacks["freed"])] == ["bz_pager_get", "py_get"]
    overflow = parse_report(load("asan_heap_overflow_write"))
    assert [f.function for f in project_frames(overflow.extra_stacks["allocated"])][:2] == [
        "bz_node_split", "bz_btree_insert"]
    assert overflow.extra_stacks["allocated"][0].function == "malloc"


def test_asan_message_keeps_header_and_access_verbatim():
    report = parse_report(load("asan_heap_overflow_write"))
    assert report.message.startswith("AddressSanitizer: heap-buffer-overflow on address 0x502000003637")
    assert report.message.endswith("WRITE of size 1 at 0x502000003637 thread T0")


def test_timeout_merges_native_then_python_frames():
    report = parse_report(load("libfuzzer_timeout"))
    languages = [f.language for f in report.frames]
    assert languages == sorted(languages, key=lambda lang: lang != "native")    # native block, then Python
    assert languages.count("python") == 4 and languages[0] == "native"
    python = [f for f in report.frames if f.language == "python"]
    assert [(f.function, f.line) for f in python] == [
        ("_next_page", 36), ("walk_pages", 42), ("test_one_input", 24), ("<module>", 29)]
    assert report.message == "ALARM: working on the last Unit for 4 seconds"


def test_oracle_mismatch_message_is_the_first_line_of_the_oracle_text():
    report = parse_report(load("atheris_oracle_mismatch_recovery"))
    assert report.message.startswith("OracleMismatch: [recovery] op #4 Insert: after a crash and recovery")


def test_recoverable_ubsan_error_before_asan_report_does_not_win():
    # The real output holds "runtime error: member access within null pointer" first.
    text = load("asan_segv_null_after_ubsan").decode()
    assert "runtime error:" in text.split("ERROR: AddressSanitizer")[0]
    assert parse_report(text).kind == "asan"


def test_python_exception_wins_over_fuzz_target_exited():
    report = parse_report(load("atheris_python_exception"))
    assert report.kind == "python-exception"
    only_exit = "==7== ERROR: libFuzzer: fuzz target exited\nSUMMARY: libFuzzer: fuzz target exited\n"
    assert (parse_report(only_exit).kind, parse_report(only_exit).crash_type) == ("unknown", "fuzz-target-exited")


def test_sidecar_report_slice_of_a_timeout_still_parses():
    # fuzz/artifacts.py keeps "from the line after the last status line up to the Base64 line":
    # libFuzzer's ERROR line of a timeout comes after Base64 and is cut off.
    text = load("libfuzzer_timeout").decode()
    sliced = text[text.index(" === Timeout"): text.index("Base64:")]
    report = parse_report(sliced)
    assert (report.kind, top(report)) == ("timeout", ["_next_page", "walk_pages"])


# --- frame lines -----------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    ("    #0 0x7f81bea8be09 in bz_node_copy_keys /work/main/engine/csrc/store/btree.c:8:44",
     ("bz_node_copy_keys", "/work/main/engine/csrc/store/btree.c", 8, None)),
    ("    #3 0x7fc16a85a04f  (/lib/x86_64-linux-gnu/libc.so.6+0x3c04f) (BuildId: 93ac61ec5a8eb1396f9fbd350e3169a558528a40)",
     (None, None, None, "/lib/x86_64-linux-gnu/libc.so.6")),
    (("    #33 0x7f81c205aa86 in fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned long) "
      "(/tmp/h7/asan_fuzzer.so+0x5aa86) (BuildId: 88e15b4bce80a9a296d9ee6c0bcfd74465430367)"),
     ("fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned long)", None, None, "/tmp/h7/asan_fuzzer.so")),
    (("    #16 0x7f81bf67b605 in std::function<void (pybind11::bytes)>::operator()(pybind11::bytes) const "
      "/opt/rh/devtoolset-10/root/usr/include/c++/10/bits/std_function.h:622:14"),
     ("std::function<void (pybind11::bytes)>::operator()(pybind11::bytes) const",
      "/opt/rh/devtoolset-10/root/usr/include/c++/10/bits/std_function.h", 622, None)),
    ("    #5 0x4f5a2c in python3.11", ("python3.11", None, None, None)),
    ("    #2 0x7f00 in bz_wal_close+0x1a (/work/main/engine/_store.so+0x1234)",
     ("bz_wal_close", None, None, "/work/main/engine/_store.so")),
    ("    #0 0x7f5c3a7816b7 in bz_stack_fill /tmp/h7/proj/engine/csrc/store/pager.c:37",
     ("bz_stack_fill", "/tmp/h7/proj/engine/csrc/store/pager.c", 37, None)),
    ("    #3 0x7fe85bbd636f  (<unknown module>)", (None, None, None, "<unknown module>")),
    ("    #72 0x7f81c1845249 in __libc_start_call_main csu/../sysdeps/nptl/libc_start_call_main.h:58:16",
     ("__libc_start_call_main", "csu/../sysdeps/nptl/libc_start_call_main.h", 58, None)),
])
def test_native_frame_line(line, expected):
    frame = parse_native_frame(line)
    assert (frame.function, frame.file, frame.line, frame.module) == expected
    assert frame.language == "native" and frame.raw == line


@pytest.mark.parametrize("line", ["", "#", "    #x 0x12 in f", "Shadow bytes around", "  0x502000003380: fa fa",
                                  "#1 is the best issue number"])
def test_not_a_native_frame(line):
    assert parse_native_frame(line) is None


@pytest.mark.parametrize("line, expected", [
    ('  File "/work/main/engine/api.py", line 24, in _read_field', ("_read_field", "/work/main/engine/api.py", 24)),
    ('  File "/work/main/engine/api.py", line 36 in _next_page', ("_next_page", "/work/main/engine/api.py", 36)),
    ('  File "<frozen importlib._bootstrap>", line 1178, in _find_and_load',
     ("_find_and_load", "<frozen importlib._bootstrap>", 1178)),
    ('  File "/a b/x.py", line ??? in <module>', ("<module>", "/a b/x.py", None)),
])
def test_python_frame_line(line, expected):
    frame = parse_python_frame(line)
    assert (frame.function, frame.file, frame.line) == expected and frame.language == "python"


# --- the ignore table: every rule, and what must stay --------------------------

def native(function=None, file=None, module=None) -> Frame:
    return Frame(0, function, file, None, module, "native", "")


def py(function, file) -> Frame:
    return Frame(0, function, file, 1, None, "python", "")


IGNORED = [  # (frame, category, the rule's pattern it must hit)
    (py("test_one_input", "/work/main/fuzz/targets/ops.py"), "harness", r"^(test_one_input"),
    (py("main", "/work/main/fuzz/harness.py"), "harness", r"fuzz/(harness|run"),
    (py("fuzz_one", "/work/main/fuzz/run/worker.py"), "harness", r"fuzz/run/"),
    (py("<module>", "/work/main/build/fuzz/asan/bin/ops"), "harness", r"build/fuzz/"),
    (py("<module>", "/tmp/h7/proj/fuzz/targets/planted.py"), "harness", r"fuzz/targets/"),
    (py("check_equal", "/tmp/ci-check/fuzz/oracles.py"), "oracle", r"fuzz/oracles"),
    (py("Fuzz", "/work/main/.venv/lib/python3.11/site-packages/atheris/function_hooks.py"), "atheris", r"atheris/"),
    (native("atheris::TestOneInput(unsigned char const*, unsigned long)", "/atheris/src/native/core.cc"),
     "atheris", r"(^|/)atheris/"),
    (native("atheris::Fuzz()", None, "/x/native.cpython-311-x86_64-linux-gnu.so"), "atheris", r"^atheris::"),
    (native("pybind11::cpp_function::dispatcher(_object*, _object*, _object*)"), "atheris", r"pybind11::"),
    (native("helper", "/x/pybind11/include/pybind11/cast.h"), "atheris", r"(^|/)pybind11/"),
    (native(None, None, "/venv/site-packages/atheris/native.cpython-311-x86_64-linux-gnu.so"), "atheris",
     r"(^|/)atheris/|"),
    (native("cfunction_vectorcall_O", "/tmp/python-build.1/Python-3.11.7/Objects/methodobject.c"), "interpreter",
     r"Python-3"),
    (native("helper", "./Include/internal/pycore_call.h"), "interpreter", r"^(\./)?(Python|Objects"),
    (native(None, None, "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"), "interpreter", r"(lib)?python3"),
    (native("python3.11"), "interpreter", r"^python3(\."),
    (native("_PyEval_EvalFrameDefault"), "interpreter", r"^_?Py[A-Z_]"),
    (native("cfunction_call"), "interpreter", r"^(cfunction_"),
    (py("_find_and_load", "<frozen importlib._bootstrap>"), "python-lib", r"^<frozen"),
    (py("run", "/root/.pyenv/versions/3.11.7/lib/python3.11/unittest/case.py"), "python-lib", r"lib/python3\.\d+/(?!"),
    (py("wrapped_test", "/work/main/.venv/lib/python3.11/site-packages/hypothesis/core.py"), "python-lib",
     r"site-packages/(hypothesis"),
    (native("__asan_report_store1"), "sanitizer", r"^_*(asan|"),
    (native("__sanitizer::RunMallocHooks(void*, unsigned long)"), "sanitizer", r"^__(asan|lsan|ubsan|sanitizer|"),
    (native("malloc", None, "/tmp/h7/asan_fuzzer.so"), "sanitizer", r"^(malloc|"),
    (native("f", "/llvm/compiler-rt/lib/asan/asan_allocator.cpp"), "sanitizer", r"compiler-rt/lib/(asan"),
    (native(None, None, "/usr/lib/llvm-19/lib/clang/19/lib/linux/libclang_rt.asan-x86_64.so"), "sanitizer",
     r"(libclang_rt"),
    (native(None, None, "/work/main/build/fuzz/planted/preload.so"), "sanitizer", r"(^|/)build/fuzz/[^/]+/preload"),
    (native("operator new(unsigned long)", None, "/x/libstdc++.so.6"), "sanitizer", r"^operator (new|delete)"),
    (native("fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned long)"), "libfuzzer", r"^fuzzer::"),
    (native("f", "/llvm/compiler-rt/lib/fuzzer/FuzzerLoop.cpp"), "libfuzzer", r"compiler-rt/lib/fuzzer/"),
    (native(None, None, "/lib/x86_64-linux-gnu/libc.so.6"), "libc", r"(libc|libm|"),
    (native("__libc_start_main", "csu/../csu/libc-start.c"), "libc", r"^(_start|__libc_start_main"),
    (native("helper", "nptl/pthread_kill.c"), "libc", r"^(\.\./)?(csu|stdlib"),
    (native("std::vector<int>::push_back(int const&)"), "libc", r"^std::"),
    (native("helper", "/usr/include/c++/12/bits/vector.tcc"), "libc", r"include/c\+\+"),
    (native(None, None, "<unknown module>"), "unknown", r"<unknown module>"),
]


@pytest.mark.parametrize("frame, category, pattern", IGNORED, ids=[f"{c}:{p}" for _, c, p in IGNORED])
def test_ignore_rule_drops_frame(frame, category, pattern):
    rule = ignore_rule(frame)
    assert rule is not None, frame
    assert (rule.category, rule.pattern.startswith(pattern) or pattern in rule.pattern) == (category, True)


def test_every_ignore_rule_is_exercised_by_a_case():
    hit = {ignore_rule(frame) for frame, _, _ in IGNORED}
    assert set(IGNORE_RULES) <= hit


PROJECT = [
    native("bz_btree_insert", "/work/main/engine/csrc/store/btree.c"),
    native("bz_btree_insert", "engine/csrc/store/btree.c"),
    native("py_insert", "/work/main/engine/csrc/store/module.c"),
    native("PyInit_ok_but_lowercase_py_is_project".lower(), "engine/csrc/store/module.c"),
    native(None, None, "/work/main/engine/_store.cpython-311-x86_64-linux-gnu.so"),
    native(None, "engine/csrc/store/pager.c"),            # UBSan without a stack: the location only
    py("_read_field", "/work/main/engine/api.py"),
    py("fetch", "/usr/lib/python3.11/site-packages/engine/db.py"),   # installed non-editable
    py("_apply_op", "/work/main/fuzz/targets/ops.py"),    # target code other than the entry point
    py("<module>", "/work/main/engine/__init__.py"),      # an engine import that fails
    py("replay", "/work/main/fuzz/opstream.py"),
]


@pytest.mark.parametrize("frame", PROJECT, ids=[f"{f.function}@{f.file or f.module}" for f in PROJECT])
def test_project_frame_is_kept(frame):
    assert ignore_rule(frame) is None


@pytest.mark.parametrize("frame, driver", [
    (py("step", "/work/main/fuzz/targets/ops.py"), True),
    (py("replay", "/tmp/ci-check/fuzz/opstream.py"), True),
    (py("apply", "/work/main/fuzz/model.py"), True),
    (py("fetch", "/work/main/engine/db.py"), False),
    (native("bz_btree_insert", "/work/main/fuzz/x.c"), False),   # Python-only rule
])
def test_driver_rules(frame, driver):
    assert is_driver_frame(frame) is driver


def test_ignore_rules_respect_language():
    assert ignore_rule(py("malloc", "/work/main/engine/alloc.py")) is None       # native-only rule
    assert ignore_rule(native("<module>", "/work/main/fuzz/targets/x.py")) is None  # Python-only rule


# --- crash-type lines and UBSan checks -----------------------------------------

@pytest.mark.parametrize("name, line", [
    ("asan", "==9855==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x502000003637 at pc 0x7f"),
    ("lsan", "==10231==ERROR: LeakSanitizer: detected memory leaks"),
    ("ubsan", "engine/csrc/store/pager.c:29:90: runtime error: signed integer overflow: 1 + 2"),
    ("libfuzzer", "==10225== ERROR: libFuzzer: deadly signal"),
    ("alarm", "ALARM: working on the last Unit for 4 seconds"),
    ("atheris-timeout", " === Timeout: 4s elapsed, timeout=2s ==="),
    ("atheris-exception", " === Uncaught Python exception: ==="),
    ("traceback", "Traceback (most recent call last):"),
    ("python-fatal", "Fatal Python error: Segmentation fault"),
    ("python-current-thread", "Current thread 0x00007fc9685c8c00 (most recent call first):"),
    ("slow-unit", "Slowest unit: 1 s:"),
    ("artifact", "artifact_prefix='./'; Test unit written to ./crash-1c1394032a577b0c9c11aa904d8138dfe369c9c3"),
    ("summary", "SUMMARY: AddressSanitizer: heap-buffer-overflow /x/btree.c:8:44 in bz_node_copy_keys"),
    ("fork-inner", "INFO: log from the inner process:"),
])
def test_crash_line_table(name, line):
    assert CRASH_LINES[name].search(line) is not None
    others = [other for other, rx in CRASH_LINES.items() if other != name and rx.search(line)]
    assert others in ([], ["summary"], ["libfuzzer"])


@pytest.mark.parametrize("message, check", [
    ("signed integer overflow: 9223372036854775806 + 67 cannot be represented in type 'int64_t'",
     "signed-integer-overflow"),
    ("index 19 out of bounds for type 'char[16]'", "index-out-of-bounds"),
    ("member access within null pointer of type 'struct bz_cursor'", "null-pointer-use"),
    ("load of misaligned address 0x000001 for type 'uint32_t', which requires 4 byte alignment",
     "misaligned-pointer-use"),
    ("shift exponent 70 is too large for 64-bit type 'uint64_t'", "shift-exponent"),
    ("division by zero", "integer-divide-by-zero"),
    ("applying non-zero offset 8 to null pointer", "pointer-overflow"),
    ("something new in clang-20", "undefined-behavior"),
])
def test_ubsan_check_names(message, check):
    assert ubsan_check(message) == check


# --- garbage in ---------------------------------------------------------------

def _fast(data, budget: float = 5.0) -> CrashReport:
    start = time.perf_counter()
    report = parse_report(data)
    assert time.perf_counter() - start < budget
    assert isinstance(report, CrashReport) and report.kind in KINDS
    return report


@pytest.mark.parametrize("data", ["", b"", None, "\n\n\n", b"\x00" * 1000, "   "])
def test_empty_input_is_unknown(data):
    report = _fast(data)
    assert (report.kind, report.crash_type, report.frames) == ("unknown", "unknown", ())


def test_random_binary_is_unknown_and_never_raises():
    rng = random.Random(5)
    for _ in range(50):
        report = _fast(bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 4000))))
        assert report.kind == "unknown"


def test_truncated_reports_give_the_best_partial_parse():
    text = load("asan_use_after_free").decode()
    for cut in range(0, len(text), 997):
        _fast(text[:cut])
    header_and_two = text[: text.index("    #2 ")]
    report = _fast(header_and_two)
    assert (report.kind, report.crash_type, top(report)) == ("asan", "heap-use-after-free READ",
                                                             ["bz_pager_read", "bz_pager_get"])


def test_ansi_escapes_are_ignored():
    colored = load("asan_use_after_free_color")
    assert b"\x1b[" in colored
    plain = parse_report(load("asan_use_after_free"))
    report = _fast(colored)
    assert (report.kind, report.crash_type, top(report)) == (plain.kind, plain.crash_type, top(plain))


def test_interleaved_output_of_two_workers_gives_a_report_of_one_of_them():
    asan = load("asan_heap_overflow_write").decode().splitlines()
    exc = load("atheris_python_exception").decode().splitlines()
    chunks = []
    for i in range(0, max(len(asan), len(exc)), 7):       # 7-line chunks, alternating
        chunks += asan[i:i + 7] + exc[i:i + 7]
    report = _fast("\n".join(chunks))
    assert report.kind == "asan" and report.crash_type == "heap-buffer-overflow WRITE"
    assert top(report)[0] == "bz_node_copy_keys"
    by_line = [line for pair in zip(asan, exc) for line in pair]   # line by line: still no exception
    assert _fast("\n".join(by_line)).kind == "asan"


def test_one_hundred_megabytes_is_bounded_in_time_and_raw_size():
    crash = load("asan_heap_overflow_write")
    noise = b"#123456\tNEW    cov: 11 ft: 12 corp: 1/7b lim: 7 exec/s: 0 rss: 59Mb L: 7/7 MS: 1 ChangeBit-\n"
    data = noise * (100 * 1024 * 1024 // len(noise)) + crash
    report = _fast(data, budget=10.0)
    assert (report.kind, report.crash_type) == ("asan", "heap-buffer-overflow WRITE")
    assert len(report.raw) <= RAW_LIMIT + 100 and report.raw.count("omitted ...]") == 1
    assert report.raw.endswith(crash.decode()) and report.raw.startswith(noise.decode())
    as_text = parse_report(data.decode())
    assert len(as_text.raw) <= RAW_LIMIT + 100 and as_text.raw.count("omitted ...]") == 1


@pytest.mark.parametrize("line", [
    "x" * 20_000_000,                                  # one huge line without newline
    'File "' * 200_000,                                 # regex bait for the Python frame pattern
    "    #0 0x1 in " + "(" * 100_000 + ")" * 100_000,    # and for the native one
    "==1==ERROR: AddressSanitizer: " + "a:" * 100_000,
    ":" * 100_000 + ": runtime error: x",
    "\r".join(["Traceback (most recent call last):"] * 50_000),
])
def test_pathological_lines_stay_fast(line):
    _fast(line)


def test_many_short_reports_keep_the_first_asan_one():
    text = load("asan_heap_overflow_read").decode() + "\n" + load("asan_heap_overflow_write").decode()
    assert _fast(text).crash_type == "heap-buffer-overflow READ"


def test_leak_report_skips_hundreds_of_interpreter_leaks_quickly():
    cpython = ("Direct leak of 64 byte(s) in 1 object(s) allocated from:\n"
               "    #0 0x7f in malloc (/x/asan_fuzzer.so+0x1127ef)\n"
               "    #1 0x7f in _PyObject_Malloc /b/Python-3.11.7/Objects/obmalloc.c:2003:11\n\n")
    ours = ("Direct leak of 71 byte(s) in 1 object(s) allocated from:\n"
            "    #0 0x7f in malloc (/x/asan_fuzzer.so+0x1127ef)\n"
            "    #1 0x7f in bz_btree_leak_node /work/main/engine/csrc/store/btree.c:39:21\n\n")
    text = "==1==ERROR: LeakSanitizer: detected memory leaks\n\n" + cpython * 900 + ours + cpython * 50_000
    report = _fast(text, budget=3.0)
    assert (report.crash_type, top(report)) == ("direct-leak", ["bz_btree_leak_node"])


def test_no_runtime_frame_survives_as_a_project_frame_on_any_real_stack():
    # Every project frame of every captured stack (crash stack and extra stacks) is code of
    # the planted extension, its Python layer, the test scripts, or the project's own engine/fuzz.
    ours = {"api.py", "fh.py", "plain2.py", "plain_repro.py", "test_bucket_12.py", "test_hyp.py", "crashsim.py",
            "crash.py", "ops.py", "btree.c", "pager.c", "decode.c", "module.c",
            "_store.cpython-311-x86_64-linux-gnu.so"}
    seen = set()
    for path in FIXTURES.glob("*.txt"):
        report = parse_report(path.read_bytes())
        for stack in (report.frames, *report.extra_stacks.values()):
            seen |= {(f.file or f.module).rsplit("/", 1)[-1] for f in project_frames(stack)}
    assert seen == ours


def test_crlf_line_endings_parse_alike():
    text = load("asan_use_after_free").decode()
    crlf = parse_report(text.replace("\n", "\r\n"))
    lf = parse_report(text)
    assert (crlf.kind, crlf.crash_type, top(crlf), crlf.artifact_path) == (lf.kind, lf.crash_type, top(lf),
                                                                           lf.artifact_path)
