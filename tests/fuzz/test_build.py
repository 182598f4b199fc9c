"""The instrumented build (fuzz/build.py): flavors, preload, build id, incrementality."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from fuzz import build as fbuild
from tests.fuzz.runner_fixtures import FIXTURE_CSRC, REPO, fixture_modules, fuzzbuild

pytestmark = fuzzbuild


@pytest.fixture
def fixture_tree(tmp_path):
    """A private copy of the fixture sources, free to edit."""
    tree = tmp_path / "csrc"
    shutil.copytree(FIXTURE_CSRC, tree)
    return tree


def test_asan_build_has_instrumented_modules_preload_and_manifest(tmp_path):
    built = fbuild.build("asan", out_root=tmp_path, modules=fixture_modules())
    assert built.rebuilt and built.directory == tmp_path / "asan"
    assert set(built.modules) == {"_store", "_codec"}
    for path in built.modules.values():
        assert path.is_file() and path.name.endswith(fbuild.ext_suffix())
        needed = fbuild.dynamic_symbols(path, defined=False)
        assert fbuild.COVERAGE_SYMBOL in needed
    codec_needs = fbuild.dynamic_symbols(built.modules["_codec"], defined=False)
    assert any(s.startswith("__asan_report") for s in codec_needs)
    provided = fbuild.dynamic_symbols(built.preload, defined=True)
    assert fbuild.COVERAGE_SYMBOL in provided
    assert any(s.startswith("__asan_report") for s in provided)
    assert any(s.startswith("__ubsan_handle") for s in provided)
    manifest = json.loads((built.directory / "build.json").read_text())
    assert manifest["build_id"] == built.build_id and len(built.build_id) == 16
    assert "-fsanitize=fuzzer-no-link,address,undefined" in manifest["flags"]
    assert manifest["flavor"] == "asan" and manifest["preload"] == "preload.so"
    # The harness' tracer is part of the fuzzer: built, but neither sanitized nor traced.
    assert built.tracer == built.directory / manifest["tracer"] and built.tracer.is_file()
    tracer_needs = fbuild.dynamic_symbols(built.tracer, defined=False)
    assert not any(s.startswith(("__asan", "__sanitizer")) for s in tracer_needs)


def test_undefined_behaviour_checks_abort_instead_of_recovering(tmp_path, fixture_tree):
    """UBSan checks call the *_abort handlers: one report stops the run, and no
    check adds an edge of its own for libFuzzer to count."""
    (fixture_tree / "store" / "extra.c").write_text("int store_add(int a, int b) { return a + b; }\n")
    built = fbuild.build("asan", out_root=tmp_path, modules=fbuild.engine_modules(fixture_tree))
    handlers = {s for s in fbuild.dynamic_symbols(built.modules["_store"], defined=False)
                if s.startswith("__ubsan_handle_")}
    assert "__ubsan_handle_add_overflow_abort" in handlers
    assert all(h.endswith("_abort") for h in handlers), sorted(handlers)


def test_coverage_build_has_no_sanitizer(tmp_path):
    built = fbuild.build("coverage", out_root=tmp_path, modules=fixture_modules())
    provided = fbuild.dynamic_symbols(built.preload, defined=True)
    assert fbuild.COVERAGE_SYMBOL in provided
    assert not any(s.startswith("__asan_report") for s in provided)
    for path in built.modules.values():
        assert not any(s.startswith("__asan") for s in fbuild.dynamic_symbols(path, defined=False))
    assert built.sidecar_flavor == "coverage" and not built.sanitized


def test_build_is_incremental_and_tracks_sources(tmp_path, fixture_tree):
    modules = fbuild.engine_modules(fixture_tree)
    first = fbuild.build("asan", out_root=tmp_path, modules=modules)
    again = fbuild.build("asan", out_root=tmp_path, modules=modules)
    assert first.rebuilt and not again.rebuilt
    assert again.build_id == first.build_id

    source = fixture_tree / "codec" / "fixture_codec.c"
    source.write_text(source.read_text().replace("longer than 8 bytes", "longer than eight bytes"))
    changed = fbuild.build("asan", out_root=tmp_path, modules=modules)
    assert changed.rebuilt and changed.build_id != first.build_id

    header = fixture_tree / "store" / "extra.h"
    header.write_text("/* headers count as inputs too */\n")
    assert fbuild.build("asan", out_root=tmp_path, modules=modules).rebuilt

    assert fbuild.build("asan", out_root=tmp_path, modules=modules, force=True).rebuilt


def test_flavors_live_apart_and_planted_differs(tmp_path):
    asan = fbuild.build("asan", out_root=tmp_path, modules=fixture_modules())
    planted = fbuild.build("planted", out_root=tmp_path, modules=fixture_modules())
    assert asan.directory != planted.directory
    assert planted.build_id != asan.build_id
    assert planted.sidecar_flavor == "planted-asan"
    assert "-DBLAZEDB_PLANT_BUGS" in json.loads((planted.directory / "build.json").read_text())["flags"]


def test_missing_output_triggers_rebuild(tmp_path):
    built = fbuild.build("coverage", out_root=tmp_path, modules=fixture_modules())
    built.modules["_codec"].unlink()
    assert fbuild.build("coverage", out_root=tmp_path, modules=fixture_modules()).rebuilt


def test_environment_carries_preload_native_dir_and_sanitizer_options(tmp_path):
    built = fbuild.build("asan", out_root=tmp_path, modules=fixture_modules())
    env = built.env(base={"ASAN_OPTIONS": "verbosity=1"}, tmpdir=tmp_path / "t")
    assert env["LD_PRELOAD"] == str(built.preload)
    assert env["BLAZEDB_NATIVE_DIR"] == str(built.directory)
    assert "detect_leaks=0" in env["ASAN_OPTIONS"] and env["ASAN_OPTIONS"].endswith("verbosity=1")
    assert "halt_on_error=1" in env["UBSAN_OPTIONS"] and "print_stacktrace=1" in env["UBSAN_OPTIONS"]
    assert env["TMPDIR"] == str(tmp_path / "t") and (tmp_path / "t").is_dir()
    assert env["BLAZEFUZZ_BUILD_ID"] == built.build_id


def test_instrumented_module_loads_only_under_its_preload(tmp_path):
    """The documented reason for the preload: without it the import fails."""
    built = fbuild.build("asan", out_root=tmp_path, modules=fixture_modules())
    probe = [sys.executable, "-c", "from engine._native import codec; print(codec.parse(b'\\x01\\x00'))"]
    without = subprocess.run(probe, check=False, env={**built.env(), "LD_PRELOAD": ""}, capture_output=True,
                             text=True, cwd=REPO)
    assert without.returncode != 0 and "undefined symbol" in without.stderr
    under = subprocess.run(probe, check=False, env=built.env(), capture_output=True, text=True, cwd=REPO)
    assert under.returncode == 0, under.stderr
    assert under.stdout.strip() == "1"


def test_stack_use_after_return_is_detected_under_the_build_environment(tmp_path, fixture_tree):
    """The environment keeps ASan's fake stack small for speed; a frame used
    after its function returned must still be reported."""
    (fixture_tree / "store" / "extra.c").write_text(
        "__attribute__((noinline)) static int *escape(void)\n"
        "{ int local[8]; for (int i = 0; i < 8; i++) local[i] = i; int *volatile p = local; return p; }\n"
        "__attribute__((visibility(\"default\"))) int read_after_return(void) { return escape()[3]; }\n")
    built = fbuild.build("asan", out_root=tmp_path, modules=fbuild.engine_modules(fixture_tree))
    assert "max_uar_stack_size_log=16" in built.env()["ASAN_OPTIONS"]
    probe = [sys.executable, "-c",
             f"import ctypes; ctypes.CDLL({str(built.modules['_store'])!r}).read_after_return()"]
    proc = subprocess.run(probe, check=False, env=built.env(), capture_output=True, text=True, cwd=REPO)
    assert proc.returncode != 0
    assert "AddressSanitizer: stack-use-after-return" in proc.stderr, proc.stderr[-2000:]


def test_unknown_flavor_is_a_build_error(tmp_path):
    with pytest.raises(fbuild.BuildError, match="unknown build flavor 'msan'"):
        fbuild.build("msan", out_root=tmp_path, modules=fixture_modules())


def test_compile_error_is_reported_with_the_compiler_message(tmp_path, fixture_tree):
    (fixture_tree / "codec" / "broken.c").write_text("int broken( {\n")
    with pytest.raises(fbuild.BuildError, match="compiling .*broken.c failed"):
        fbuild.build("coverage", out_root=tmp_path, modules=fbuild.engine_modules(fixture_tree))


def test_cli_rejects_unknown_flavor_with_exit_2():
    proc = subprocess.run([sys.executable, "-m", "fuzz.build", "--flavor", "bogus"], check=False, cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "bogus" in proc.stderr


def test_comparisons_are_traced_in_the_codec_not_in_the_store(tmp_path, fixture_tree):
    """The store is built without trace-cmp hooks but keeps its edge counters."""
    body = "int {name}(long a) {{ return a == 123456789 ? 1 : 2; }}\n"
    (fixture_tree / "store" / "extra.c").write_text(body.format(name="store_cmp"))
    (fixture_tree / "codec" / "extra.c").write_text(body.format(name="codec_cmp"))
    built = fbuild.build("coverage", out_root=tmp_path, modules=fbuild.engine_modules(fixture_tree))

    def disassembly(module, function):
        out = subprocess.run(["objdump", "-d", f"--disassemble={function}", str(built.modules[module])],
                             check=True, capture_output=True, text=True).stdout
        assert f"<{function}>:" in out
        return out

    assert "__sanitizer_cov_trace_const_cmp" in disassembly("_codec", "codec_cmp")
    store = disassembly("_store", "store_cmp")
    assert "__sanitizer_cov_trace" not in store
    assert "incb" in store                # its edge counter is still bumped
