"""triage.signature: one bug, one signature (whatever the path, PID, addresses, lines); two bugs, two."""
from __future__ import annotations

import hashlib
import itertools
import re
from pathlib import Path

import pytest

from triage.parse import CrashReport, Frame, parse_report
from triage.signature import Signature, frame_text, signature_of, similarity

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> str:
    return (FIXTURES / f"{name}.txt").read_text(errors="replace")


def sig(name: str) -> Signature:
    return signature_of(parse_report(load(name)))


# One group per bug: fuzzing run, reproduction, another checkout path, -fork,
# colour, a truncated copy, and for "abort" the same os.abort() caught by
# libFuzzer's handler and by ASan's (handle_abort=1).
SAME_BUG = {
    "heap-overflow-write": ["asan_heap_overflow_write", "repro_heap_overflow_write", "otherpath_heap_overflow_write",
                            "edge_truncated_asan"],
    "use-after-free": ["asan_use_after_free", "asan_use_after_free_color", "fork_use_after_free",
                       "otherpath_use_after_free"],
    "python-exception": ["atheris_python_exception", "otherpath_python_exception"],
    "abort": ["libfuzzer_deadly_signal_abort", "asan_abrt_handle_abort"],
    "ubsan-overflow-no-stack": ["ubsan_signed_overflow_nostack", "ubsan_signed_overflow_recovered"],
    "oom": ["libfuzzer_oom_malloc", "libfuzzer_oom_rss"],
    "planted-codec": ["planted_codec_heap_overflow_write_fuzz", "planted_codec_heap_overflow_write_repro",
                      "planted_codec_sidecar_report"],
}
DIFFERENT_BUGS = [
    "asan_heap_overflow_write", "asan_heap_overflow_read", "asan_use_after_free", "asan_double_free",
    "asan_segv_null_after_ubsan", "asan_stack_overflow_read", "asan_global_overflow_read",
    "ubsan_signed_overflow_stack", "ubsan_null_member_access_stack", "ubsan_index_out_of_bounds_stack",
    "atheris_python_exception", "atheris_attribute_error", "atheris_oracle_mismatch_recovery",
    "atheris_oracle_mismatch_result", "libfuzzer_timeout", "libfuzzer_oom_malloc", "libfuzzer_slow_unit",
    "libfuzzer_deadly_signal_abort", "lsan_leak", "python_faulthandler_segv", "edge_oracle_plain_traceback",
    "planted_codec_heap_overflow_write_fuzz", "pytest_hypothesis_tb_native", "planted_ops_oracle_mismatch_repro",
]


@pytest.mark.parametrize("bug", sorted(SAME_BUG))
def test_same_bug_from_different_runs_paths_and_pids_has_one_signature(bug):
    keys = {sig(name).key() for name in SAME_BUG[bug]}
    assert len(keys) == 1, keys


def test_different_bugs_have_different_signatures():
    digests = [sig(name).digest() for name in DIFFERENT_BUGS]
    assert len(set(digests)) == len(DIFFERENT_BUGS)


def test_key_is_crash_type_then_frames_without_lines_addresses_or_paths():
    s = sig("asan_heap_overflow_write")
    assert s.key() == ("heap-buffer-overflow WRITE\n"
                       "bz_node_copy_keys (btree.c)\nbz_node_split (btree.c)\nbz_btree_insert (btree.c)")
    assert s.digest() == hashlib.sha256(s.key().encode()).hexdigest()
    assert s == Signature("heap-buffer-overflow WRITE",
                          ("bz_node_copy_keys (btree.c)", "bz_node_split (btree.c)", "bz_btree_insert (btree.c)"))


@pytest.mark.parametrize("name", DIFFERENT_BUGS + ["libfuzzer_oom_rss"])
def test_key_reads_back(name):
    s = sig(name)
    assert Signature.from_key(s.key()) == s


@pytest.mark.parametrize("name", DIFFERENT_BUGS)
def test_no_key_holds_an_address_a_line_number_or_a_directory(name):
    key = sig(name).key()
    assert not re.search(r"0x[0-9a-f]|:\d+|/", key), key


def _rewrite(text: str, pid: int, shift: int, root: str) -> str:
    """Another run of the same bug: other PID, other addresses, lines moved by an edit, other checkout."""
    text = re.sub(r"==\d+==", f"=={pid}==", text)
    text = re.sub(r"0x[0-9a-f]{6,}", lambda m: hex(int(m.group(), 16) ^ 0x5a5a000), text)
    text = re.sub(r"(\.(?:c|py)):(\d+)", lambda m: f"{m.group(1)}:{int(m.group(2)) + shift}", text)
    text = re.sub(r'(\.py", line )(\d+)', lambda m: f"{m.group(1)}{int(m.group(2)) + shift}", text)
    return text.replace("/tmp/h7/proj", root)


@pytest.mark.parametrize("name", ["asan_heap_overflow_write", "asan_double_free", "lsan_leak",
                                  "ubsan_signed_overflow_stack", "atheris_python_exception",
                                  "atheris_oracle_mismatch_recovery", "libfuzzer_timeout"])
def test_signature_ignores_pid_addresses_line_numbers_and_checkout_path(name):
    original = sig(name)
    moved = signature_of(parse_report(_rewrite(load(name), 4242, 17, "/tmp/ci-check")))
    assert moved == original and moved.frames


def test_depth_counts_project_frames_only():
    report = parse_report(load("asan_heap_overflow_write"))
    assert signature_of(report, depth=1).frames == ("bz_node_copy_keys (btree.c)",)
    assert signature_of(report, depth=5).frames == (
        "bz_node_copy_keys (btree.c)", "bz_node_split (btree.c)", "bz_btree_insert (btree.c)", "py_insert (module.c)")
    assert signature_of(report, depth=0).frames == ()


def _frames(*names: str, language: str = "python") -> tuple[Frame, ...]:
    return tuple(Frame(i, n, f"/work/main/engine/{n}.py", i + 1, None, language, "") for i, n in enumerate(names))


def test_timeout_uses_the_frames_nearest_the_harness():
    # A hang is sampled wherever the loop is when the alarm fires: its callers are stable.
    one = CrashReport("timeout", "timeout", "", _frames("step", "inner", "scan", "fetch", "apply"))
    two = CrashReport("timeout", "timeout", "", _frames("other_step", "inner", "scan", "fetch", "apply"))
    assert signature_of(one).frames == ("scan (scan.py)", "fetch (fetch.py)", "apply (apply.py)")
    assert signature_of(one) == signature_of(two)


def test_timeout_skips_the_fuzz_driver_loop_every_hang_runs_through():
    def frame(name, path):
        return Frame(0, name, path, 1, None, "python", "")
    driver = (frame("step", "/work/main/fuzz/targets/ops.py"), frame("run", "/work/main/fuzz/targets/ops.py"),
              frame("run_ops", "/work/main/fuzz/targets/ops.py"))
    fetch_hang = (frame("_next_leaf", "/work/main/engine/query.py"), frame("execute", "/work/main/engine/query.py"),
                  frame("fetch_all", "/work/main/engine/db.py")) + driver
    count_hang = (frame("_scan", "/work/main/engine/aggregate.py"), frame("count", "/work/main/engine/db.py")) + driver
    assert signature_of(CrashReport("timeout", "timeout", "", fetch_hang)).frames == (
        "_next_leaf (query.py)", "execute (query.py)", "fetch_all (db.py)")
    assert signature_of(CrashReport("timeout", "timeout", "", count_hang)).frames == (
        "_scan (aggregate.py)", "count (db.py)")
    only_driver = CrashReport("timeout", "timeout", "", driver)
    assert signature_of(only_driver).frames == ("step (ops.py)", "run (ops.py)", "run_ops (ops.py)")


def test_oracle_mismatch_is_located_by_kind_op_and_frames():
    s = sig("atheris_oracle_mismatch_recovery")
    assert s.crash_type == "OracleMismatch: recovery"
    assert s.frames == ("op Insert", "_verify_committed (crashsim.py)", "_replay_and_recover (crashsim.py)")
    other_op = load("atheris_oracle_mismatch_recovery").replace("op #4 Insert:", "op #4 Delete:")
    assert signature_of(parse_report(other_op)).frames[0] == "op Delete"


@pytest.mark.parametrize("first_line, op", [
    ("[recovery] op #4 Insert: after a crash and recovery, committed data is lost", "op Insert"),
    ("[roundtrip] op #0 encode(decode(data)): decode(encode(x)) != x", "op encode"),
    ("[roundtrip] op #0 decode(data): decode(encode(x)) != x", "op decode"),
    ("[final-state] op #-1 end: the records after the last op differ from the model", "op end"),
])
def test_oracle_op_names_as_fuzz_oracles_writes_them(first_line, op):
    text = f" === Uncaught Python exception: ===\nOracleMismatch: {first_line}\n  op: x\n"
    s = signature_of(parse_report(text))
    assert s.crash_type.startswith("OracleMismatch: ") and s.frames == (op,)


def test_planted_ops_bug_signature():
    assert sig("planted_ops_oracle_mismatch_repro").key() == (
        "OracleMismatch: error\nop Fetch\nstep (ops.py)\nrun (ops.py)\nrun_ops (ops.py)")


def test_unsymbolized_frames_use_the_module_basename():
    s = sig("asan_heap_overflow_write_unsymbolized")
    assert s.frames == ("(_store.cpython-311-x86_64-linux-gnu.so)",) * 3


@pytest.mark.parametrize("frame, text", [
    (Frame(0, "bz_btree_insert", "/work/main/engine/csrc/store/btree.c", 12, None, "native", ""),
     "bz_btree_insert (btree.c)"),
    (Frame(0, "bz_split.cold", "engine/csrc/store/btree.c", 1, None, "native", ""), "bz_split (btree.c)"),
    (Frame(0, "bz_split.part.0", "btree.c", 1, None, "native", ""), "bz_split (btree.c)"),
    (Frame(0, "bz_split.isra.0.constprop.1", "btree.c", 1, None, "native", ""), "bz_split (btree.c)"),
    (Frame(0, "bz_split+0x1a", None, None, "/work/main/engine/_store.so", "native", ""), "bz_split (_store.so)"),
    (Frame(0, "ns::Tree::insert(int, char const*) const", "/x/tree.cc", 3, None, "native", ""),
     "ns::Tree::insert (tree.cc)"),
    (Frame(0, "ns::Cmp::operator()(int) const", "/x/tree.cc", 3, None, "native", ""), "ns::Cmp::operator() (tree.cc)"),
    (Frame(0, "fetch", "C:\\work\\engine\\db.py", 3, None, "python", ""), "fetch (db.py)"),
    (Frame(0, "<lambda>", "/work/main/engine/query.py", 3, None, "python", ""), "<lambda> (query.py)"),
    (Frame(0, None, "engine/csrc/store/pager.c", 29, None, "native", ""), "(pager.c)"),
    (Frame(0, "f\x1b[31m", "/x/a.c", 1, None, "native", ""), "f[31m (a.c)"),
])
def test_frame_text(frame, text):
    assert frame_text(frame) == text


# --- similarity: the fuzzy "related buckets" pass ---------------------------------

def test_similarity_of_a_signature_with_itself_is_one():
    for name in DIFFERENT_BUGS:
        s = sig(name)
        assert similarity(s, s) == 1.0
        report = parse_report(load(name))
        assert similarity(report, report) == 1.0


def test_similarity_is_symmetric_and_bounded():
    reports = [parse_report(load(n)) for n in DIFFERENT_BUGS]
    for a, b in itertools.combinations(reports, 2):
        score = similarity(a, b)
        assert 0.0 <= score <= 1.0 and score == similarity(b, a)
        assert score < 1.0


def test_same_stack_other_access_is_related_but_not_equal():
    write = Signature("heap-buffer-overflow WRITE", ("f (a.c)", "g (a.c)", "h (b.c)"))
    read = Signature("heap-buffer-overflow READ", ("f (a.c)", "g (a.c)", "h (b.c)"))
    assert 0.8 <= similarity(write, read) < 1.0


def test_unrelated_bugs_score_low():
    assert similarity(sig("asan_heap_overflow_write"), sig("atheris_python_exception")) < 0.2
    assert similarity(parse_report(load("asan_use_after_free")), parse_report(load("lsan_leak"))) < 0.5


def test_a_hang_sampled_at_two_depths_is_related():
    # The two real timeout captures stopped the same loop at different lines.
    fuzzing, repro = sig("libfuzzer_timeout"), sig("libfuzzer_timeout_repro")
    assert similarity(fuzzing, repro) >= 0.6
