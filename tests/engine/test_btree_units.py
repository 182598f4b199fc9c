"""The C unit tests of the B+tree and the store (engine/csrc/tests/test_btree.c).

They are compiled here against the storage core's own sources (everything in
engine/csrc/store/ but the Python binding) and run as plain executables:
once with gcc under -Wall -Wextra -Werror, once with clang-19 under
AddressSanitizer and UndefinedBehaviorSanitizer, which must report nothing,
and once as the -DBLAZEDB_PLANT_BUGS build, which must show the planted bug.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CSRC = ROOT / "engine" / "csrc"
STORE = CSRC / "store"
TEST_SOURCE = CSRC / "tests" / "test_btree.c"
WARNINGS = ["-std=c11", "-Wall", "-Wextra", "-Werror"]
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def core_sources() -> list[str]:
    return sorted(str(p) for p in STORE.glob("*.c") if p.name != "store_module.c")


def clean_env() -> dict[str, str]:
    # The sanitizer CI run preloads a sanitizer runtime into Python; the
    # compiler and our own executables must not inherit it.
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    return env


def build(compiler: str, out: Path, flags: list[str]) -> Path:
    cmd = [compiler, *WARNINGS, *flags, f"-I{STORE}", str(TEST_SOURCE), *core_sources(), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(), timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return out


def run(exe: Path, *args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = clean_env()
    env.update(env_extra or {})
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=300)


def test_unit_tests_pass_when_built_with_gcc(tmp_path):
    exe = build("gcc", tmp_path / "test_btree", ["-O2", "-g"])
    proc = run(exe)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("clang-19") is None, reason="clang-19 is not installed")
def test_unit_tests_pass_under_address_and_undefined_sanitizers(tmp_path):
    exe = build("clang-19", tmp_path / "test_btree_asan",
                ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
                 "-fno-sanitize-recover=all"])
    proc = run(exe, env_extra={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
                               "UBSAN_OPTIONS": "print_stacktrace=1"})
    output = proc.stdout + proc.stderr
    assert not any(marker in output for marker in SANITIZER_MARKERS), output
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", output


def test_planted_bug_build_keeps_a_deleted_key_ending_in_0x2a(tmp_path):
    exe = build("gcc", tmp_path / "test_btree_planted", ["-O1", "-DBLAZEDB_PLANT_BUGS"])
    proc = run(exe, "planted")
    assert proc.returncode == 0 and proc.stdout.strip() == "ok planted", proc.stdout + proc.stderr


def test_normal_module_deletes_keys_ending_in_0x2a():
    store_mod = pytest.importorskip("engine._store")
    fs = store_mod.MemFS()
    with store_mod.Store("planted.db", vfs=fs) as store:
        store.create_tree("t")
        store.put("t", b"a*", b"v")
        assert store.delete("t", b"a*") is True
        assert store.get("t", b"a*") is None
        assert store.count("t") == 0
        store.check()
