"""Runs tests against the ASan+UBSan build: `python -m fuzz.sanitized_tests [PYTEST ARGS]`.

Builds (or reuses) the `asan` flavor of the C core (fuzz/build.py), then runs
pytest in a fresh interpreter with that build's preload and BLAZEDB_NATIVE_DIR,
so every engine call of the suite, and of every subprocess it starts (the
chaos suite's writers), runs instrumented.

Tests marked `fuzzbuild` are left out (unless -m is given): they build
their own instrumented modules with planted bugs and expect the reports; the
normal test run covers them.

Sanitizer reports are written to files (ASan/UBSan `log_path`) rather than
only to stderr, because a child process that dies of one is otherwise just
a failed assertion in its parent. Any report fails the run, even when pytest
passed, and is printed. Exit status: pytest's, or 1 on a sanitizer report,
or 2 when the build cannot be made.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from fuzz import build as fbuild

DEFAULT_TESTS = ["tests/engine", "tests/chaos", "tests/property"]
REPO = fbuild.REPO


def sanitizer_reports(log_dir: Path) -> list[tuple[str, str]]:
    return [(path.name, path.read_text(errors="replace")) for path in sorted(log_dir.iterdir())]


def run(pytest_args: list[str]) -> int:
    try:
        built = fbuild.build("asan", log=lambda m: print(m, file=sys.stderr))
    except fbuild.BuildError as exc:
        print(f"sanitized tests: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="blazefuzz-san-") as tmp:
        log_dir = Path(tmp) / "reports"
        log_dir.mkdir()
        env = built.env(tmpdir=Path(tmp) / "tmp")
        for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            env[var] += f":log_path={log_dir}/{var.split('_')[0].lower()}"
        env["PYTHONPATH"] = str(REPO)
        print(f"sanitized tests: build {built.build_id} ({built.directory})", file=sys.stderr)
        if not any(not arg.startswith("-") for arg in pytest_args):
            pytest_args = [*pytest_args, *DEFAULT_TESTS]
        if "-m" not in pytest_args:
            # fuzzbuild tests make their own sanitizer builds and expect reports from them
            pytest_args = [*pytest_args, "-m", "not fuzzbuild"]
        proc = subprocess.run([sys.executable, "-m", "pytest", *pytest_args],
                              cwd=REPO, env=env)
        reports = sanitizer_reports(log_dir)
    for name, text in reports:
        print(f"\n==== sanitizer report {name} ====\n{text}", file=sys.stderr)
    if reports:
        print(f"sanitized tests: {len(reports)} sanitizer report(s); see above", file=sys.stderr)
        return 1
    return proc.returncode


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
