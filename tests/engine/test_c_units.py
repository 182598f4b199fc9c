"""The C side of the storage core, checked by compilers:

* engine/csrc/tests/test_pager.c (CRC32C, MemFS, FaultVFS, pager, WAL) built
  with gcc and with clang-19 under AddressSanitizer + UBSan, and run;
* engine/csrc/tests/test_crc_threads.c (threads taking their first checksums
  at once) and test_wal_threads.c (threads restarting their logs at once, all
  drawing salts from one counter) built with clang-19 under ThreadSanitizer,
  and run;
* every C source of the core (engine/csrc/store/*.c, engine/csrc/codec/*.c)
  compiles cleanly with gcc and clang under -Wall -Wextra -Werror.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CSRC = ROOT / "engine" / "csrc"
CLANG = "/usr/bin/clang-19"
PAGER_SOURCES = ["bz.c", "crc32c.c", "vfs_os.c", "vfs_mem.c", "vfs_fault.c", "pager.c", "wal.c"]
WARN = ["-std=c11", "-Wall", "-Wextra", "-Werror"]
SANITIZE = ["-g", "-O1", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
            "-fno-sanitize-recover=undefined"]


def compilers() -> list:
    found = [pytest.param("gcc", id="gcc")]
    if os.path.exists(CLANG):
        found.append(pytest.param(CLANG, id="clang-19"))
    else:
        found.append(pytest.param(CLANG, id="clang-19", marks=pytest.mark.skip(
            reason=f"{CLANG} is not installed (apt-get install clang-19)")))
    return found


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, **kw)


@pytest.mark.parametrize("cc", compilers())
def test_pager_unit_tests_pass_under_asan_and_ubsan(cc, tmp_path):
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not found")
    exe = tmp_path / "test_pager"
    sources = [str(CSRC / "tests" / "test_pager.c")] + [str(CSRC / "store" / s) for s in PAGER_SOURCES]
    built = run([cc, *WARN, *SANITIZE, "-o", str(exe), *sources])
    assert built.returncode == 0, built.stderr
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    env.pop("LD_PRELOAD", None)
    result = run([str(exe), str(tmp_path)], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout
    assert "runtime error" not in result.stderr


OVERREAD = r"""
#include "crc32c.h"
#include <stdint.h>
#include <stdlib.h>
int main(void)
{
    uint8_t *page = malloc(100);
    for (int i = 0; i < 100; i++)
        page[i] = (uint8_t)i;
    return (int)(crc32c(page, 101) & 1);   /* one byte past the block */
}
"""


@pytest.mark.parametrize("cc", compilers())
def test_a_checksum_reading_past_its_buffer_is_reported_by_asan(cc, tmp_path):
    """The CRC loops run without per-load ASan checks (under ASan they cost a
    tenth of a commit); one range check up front must still catch an overread."""
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not found")
    (tmp_path / "overread.c").write_text(OVERREAD)
    exe = tmp_path / "overread"
    built = run([cc, *WARN, *SANITIZE, f"-I{CSRC / 'store'}", "-o", str(exe), str(tmp_path / "overread.c"),
                 str(CSRC / "store" / "crc32c.c"), str(CSRC / "store" / "bz.c")])
    assert built.returncode == 0, built.stderr
    # Its own options: no log_path inherited from a sanitized test run (the
    # report belongs on this process' stderr, not among the run's findings).
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0", UBSAN_OPTIONS="print_stacktrace=1")
    env.pop("LD_PRELOAD", None)
    result = run([str(exe)], env=env)
    assert result.returncode != 0
    assert "AddressSanitizer: heap-buffer-overflow" in result.stderr, result.stderr
    assert "crc32c" in result.stderr


THREADED = {
    "test_crc_threads": ["crc32c.c", "bz.c"],
    "test_wal_threads": ["bz.c", "crc32c.c", "vfs_mem.c", "wal.c"],
}


@pytest.mark.skipif(not os.path.exists(CLANG), reason=f"{CLANG} is not installed (apt-get install clang-19)")
@pytest.mark.parametrize("program", [
    pytest.param("test_crc_threads", id="first-checksums-taken-by-many-threads-at-once"),
    pytest.param("test_wal_threads", id="logs-restarted-by-many-threads-at-once"),
])
def test_threads_sharing_the_core_do_not_race(program, tmp_path):
    exe = tmp_path / program
    sources = [CSRC / "tests" / f"{program}.c", *(CSRC / "store" / s for s in THREADED[program])]
    built = run([CLANG, *WARN, "-g", "-O1", "-fsanitize=thread", "-pthread", "-o", str(exe),
                 *map(str, sources)])
    assert built.returncode == 0, built.stderr
    env = dict(os.environ, TSAN_OPTIONS="halt_on_error=1")
    env.pop("LD_PRELOAD", None)
    for _ in range(3):          # the race, when there was one, showed on every run here
        result = run([str(exe)], env=env)
        assert "ThreadSanitizer" not in result.stderr, result.stderr
        assert result.returncode == 0 and "all checks passed" in result.stdout, result.stdout


@pytest.mark.parametrize("cc", compilers())
@pytest.mark.parametrize("part", ["store", "codec"])
def test_core_sources_compile_without_warnings(cc, part, tmp_path):
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not found")
    sources = sorted(str(p) for p in (CSRC / part).glob("*.c"))
    if not sources:
        pytest.skip(f"engine/csrc/{part} has no sources yet")
    include = sysconfig.get_paths()["include"]
    result = run([cc, *WARN, "-O2", "-c", f"-I{include}", f"-I{CSRC / part}", *sources],
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
