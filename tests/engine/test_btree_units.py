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
    proc = run(exe, "quick", env_extra={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
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


def test_binding_matches_a_dict_model_through_scans_rollbacks_and_reopen():
    """The same kind of check through engine._store: random writes in
    committed and rolled-back transactions over two trees, scans that keep
    running while their tree changes, and a reopen."""
    import random

    store_mod = pytest.importorskip("engine._store")
    rng = random.Random(20261125)
    fs = store_mod.MemFS()
    model = {"a": {}, "b": {}}
    store = store_mod.Store("model.db", vfs=fs)
    for name in model:
        store.create_tree(name)
    for txn in range(40):
        tree = rng.choice("ab")
        shadow = {name: dict(entries) for name, entries in model.items()}
        store.begin()
        for _ in range(rng.randint(1, 120)):
            key = bytes(rng.choice(b"xyz*") for _ in range(rng.randint(0, 5)))
            if rng.random() < 0.35:
                assert store.delete(tree, key) == (key in shadow[tree])
                shadow[tree].pop(key, None)
            else:
                value = rng.randbytes(rng.choice([0, 3, 300, 5000]))
                assert store.put(tree, key, value) == (key in shadow[tree])
                shadow[tree][key] = value
        if txn % 4 == 3:
            store.rollback()
        else:
            store.commit()
            model = shadow
        for name, entries in model.items():
            assert store.count(name) == len(entries)
            assert list(store.scan(name)) == sorted(entries.items())
    # A scan that deletes what it has seen and inserts ahead of itself.
    seen = []
    for key, _ in store.scan("a"):
        seen.append(key)
        store.delete("a", key)
        model["a"].pop(key)
        if len(seen) == 1:
            store.put("a", b"zzzzzz", b"late")
            model["a"][b"zzzzzz"] = b"late"
    assert seen == sorted(seen) and seen[-1] == b"zzzzzz" and model["a"] == {}
    report = store.check()
    assert report["trees"]["a"]["entries"] == 0 and report["underfull_pages"] == 0
    store.close()
    with store_mod.Store("model.db", vfs=fs) as again:
        assert again.trees() == ["a", "b"]
        assert list(again.scan("b")) == sorted(model["b"].items())
        assert list(again.scan("b", reverse=True)) == sorted(model["b"].items(), reverse=True)
        again.check()
