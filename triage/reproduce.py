"""Re-running a testcase in a sandboxed subprocess, K times: reliable or flaky.

The command is a template (injectable: tests and `--repro-cmd` use their own);
the default is the fuzz runner (CONTRACTS.md §5):

    {python} -m fuzz.run --target {target} --repro {file} [--build B]

B is the build the artifact was found with (its sidecar's build_flavor:
planted-asan -> planted, ...) unless the Reproducer is given one; a planted
bug only reproduces on the planted build.

Exit codes of the command: 0 no failure, 1 (or any other non-zero) a failure
whose report is on stdout/stderr, 2 the command could not run this testcase
(unknown target, no runner): reproduction is *unavailable*, not a pass.

Limits (set with prlimit(2) on the child, which runs in its own session):
- RLIMIT_CPU (cpu_seconds), RLIMIT_FSIZE (file_size_mb), RLIMIT_CORE = 0;
- memory: an RSS watchdog polls the whole process group every 0.1 s and kills
  it above memory_mb. RLIMIT_AS is added only when the child is known not to
  run under AddressSanitizer: ASan reserves terabytes of virtual address space
  for its shadow memory and dies at start-up under any sane RLIMIT_AS;
- a wall-clock timeout (wall_seconds) kills the process group.

Reliability: a testcase reproduces reliably when at least half of its K runs
give the same signature (the majority one); otherwise it is flaky.
"""
from __future__ import annotations

import collections
import hashlib
import os
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

REPRO_CMD_ENV = "BLAZEFUZZ_REPRO_CMD"
DEFAULT_COMMAND = ("{python}", "-m", "fuzz.run", "--target", "{target}", "--repro", "{file}")
UNAVAILABLE_EXIT = 2
# Sidecar build_flavor (CONTRACTS.md §5) -> the runner's --build that reproduces it.
RUNNER_BUILD = {"asan": "asan", "coverage": "coverage", "planted-asan": "planted",
                "planted": "planted"}
MB = 1 << 20


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 60
    wall_seconds: float = 120.0
    memory_mb: int = 4096
    file_size_mb: int = 64
    output_bytes: int = 1 << 20  # kept from each run's output: the head and the tail


@dataclass
class Analysis:
    """What the parser and the signer made of one report text."""
    report: Any            # triage.parse.CrashReport
    signature: Any         # triage.signature.Signature
    digest: str
    severity: str


def analyze(text: str | bytes) -> Analysis:
    """Parse a crash report and sign it (the parsing/signing modules are H7's)."""
    from triage.parse import parse_report
    from triage.severity import severity_of
    from triage.signature import signature_of

    report = parse_report(text)
    signature = signature_of(report)
    return Analysis(report, signature, signature.digest(), severity_of(report))


@dataclass
class RunResult:
    exit_code: int | None
    timed_out: bool
    memory_exceeded: bool
    duration: float
    output: str
    analysis: Analysis | None = None
    parse_error: str | None = None

    @property
    def failed(self) -> bool:
        return self.timed_out or self.memory_exceeded or self.exit_code not in (0, None)

    @property
    def unavailable(self) -> bool:
        return self.exit_code == UNAVAILABLE_EXIT and self.analysis is None

    @property
    def digest(self) -> str | None:
        return self.analysis.digest if self.analysis else None


@dataclass
class Reproduction:
    runs: list[RunResult] = field(default_factory=list)
    analysis: Analysis | None = None      # of a run giving the majority signature
    matches: int = 0                      # runs giving the majority signature

    @property
    def attempts(self) -> int:
        return len(self.runs)

    @property
    def available(self) -> bool:
        return bool(self.runs) and not all(run.unavailable for run in self.runs)

    @property
    def reproduced(self) -> bool:
        return self.analysis is not None

    @property
    def reliable(self) -> bool:
        return self.reproduced and 2 * self.matches >= self.attempts


class Reproducer:
    """Runs `command` (a template, see module doc) against a testcase file."""

    def __init__(self, command: Sequence[str] | str | None = None, *, limits: Limits = Limits(),
                 build: str | None = None, asan: bool | None = None,
                 env: dict[str, str] | None = None, cwd: str | Path | None = None):
        """build: the runner's --build, overriding the one each testcase was found with."""
        if command is None:
            command = os.environ.get(REPRO_CMD_ENV) or DEFAULT_COMMAND
        self.command = tuple(shlex.split(command) if isinstance(command, str) else command)
        self.limits = limits
        self.build = build
        self._asan = asan
        self.env = env
        self.cwd = str(cwd) if cwd else None

    def effective_build(self, found_with: str | None = None) -> str | None:
        """The runner build to use: the override, else the testcase's own (sidecar flavor)."""
        return self.build or RUNNER_BUILD.get(found_with or "")

    def is_asan(self, build: str | None) -> bool:
        # An unknown build is assumed to be an ASan one: the runner's default is.
        if self._asan is not None:
            return self._asan
        return build != "coverage" or "asan" in os.environ.get("LD_PRELOAD", "")

    def argv(self, target: str, file: Path, build: str | None = None) -> list[str]:
        values = {"python": sys.executable, "target": target, "file": str(file),
                  "build": build or ""}
        argv = [part.format(**values) for part in self.command]
        if build and self.command == DEFAULT_COMMAND:
            argv += ["--build", build]
        return argv

    def describe(self, target: str, file: str | Path, build: str | None = None) -> str:
        """The exact command line, for people to paste."""
        return shlex.join(self.argv(target, Path(file), build))

    def run_once(self, target: str, file: Path, found_with: str | None = None) -> RunResult:
        build = self.effective_build(found_with)
        argv = self.argv(target, file, build)
        asan = self.is_asan(build)
        limits = self.limits
        with tempfile.TemporaryFile() as out:
            started = time.monotonic()
            try:
                child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                         start_new_session=True, cwd=self.cwd, env=self.env)
            except OSError as exc:
                return RunResult(UNAVAILABLE_EXIT, False, False, 0.0,
                                 f"cannot run {argv[0]!r}: {exc.strerror}")
            self._limit(child.pid, asan)
            timed_out = memory_exceeded = False
            try:
                while child.poll() is None:
                    if time.monotonic() - started > limits.wall_seconds:
                        timed_out = True
                        break
                    if _group_rss(child.pid) > limits.memory_mb * MB:  # RSS, see module doc
                        memory_exceeded = True
                        break
                    try:
                        child.wait(0.1)
                    except subprocess.TimeoutExpired:
                        pass
            finally:  # also on Ctrl-C: never leave a child behind
                if child.poll() is None or timed_out or memory_exceeded:
                    _kill_group(child.pid)
                child.wait()
            duration = time.monotonic() - started
            output = _read_capped(out, limits.output_bytes)
        result = RunResult(child.returncode, timed_out, memory_exceeded, duration, output)
        if result.failed and result.exit_code != UNAVAILABLE_EXIT:
            try:
                result.analysis = analyze(output)
            except Exception as exc:  # a parser bug must not stop triage
                result.parse_error = f"{type(exc).__name__}: {exc}"
        return result

    def reproduce(self, target: str, data: bytes, times: int = 3,
                  found_with: str | None = None) -> Reproduction:
        """Run the testcase `times` times; the majority signature and its count.

        found_with: the build flavor the testcase was found with (its sidecar's)."""
        with tempfile.TemporaryDirectory(prefix="blazefuzz-repro-") as tmp:
            file = Path(tmp) / ("testcase-" + hashlib.sha1(data).hexdigest())
            file.write_bytes(data)
            return self.reproduce_file(target, file, times, found_with)

    def reproduce_file(self, target: str, file: Path, times: int = 3,
                       found_with: str | None = None) -> Reproduction:
        result = Reproduction()
        for _ in range(max(1, times)):
            run = self.run_once(target, file, found_with)
            result.runs.append(run)
            if run.unavailable:
                break  # the command cannot run here; repeating will not help
        digests = collections.Counter(run.digest for run in result.runs if run.digest)
        if digests:
            digest, result.matches = digests.most_common(1)[0]
            result.analysis = next(run.analysis for run in result.runs if run.digest == digest)
        return result

    def _limit(self, pid: int, asan: bool) -> None:
        """Set the child's rlimits with prlimit(2) right after the spawn.

        Not preexec_fn: the daemon has watcher threads, and code between fork and
        exec in a threaded parent can deadlock. The child runs for microseconds
        before the limits apply, far too little to matter."""
        limits = self.limits
        fsize = limits.file_size_mb * MB
        wanted = [(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5)),
                  (resource.RLIMIT_FSIZE, (fsize, fsize)), (resource.RLIMIT_CORE, (0, 0))]
        if not asan:
            wanted.append((resource.RLIMIT_AS, (limits.memory_mb * MB,) * 2))
        for which, value in wanted:
            try:
                resource.prlimit(pid, which, value)
            except ProcessLookupError:
                return  # already gone: nothing left to limit
            except (OSError, ValueError):
                continue  # e.g. a hard limit below ours: keep the stricter one


def _group_rss(pid: int) -> int:
    """Resident bytes of process `pid` and all its descendants (Linux /proc)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * page
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", "rb") as handle:
                    pending.extend(int(child) for child in handle.read().split())
        except (OSError, IndexError, ValueError):
            continue
    return total


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _read_capped(handle, limit: int) -> str:
    handle.flush()
    size = handle.seek(0, os.SEEK_END)
    handle.seek(0)
    if size <= limit:
        blob = handle.read()
    else:
        head = handle.read(limit // 2)
        handle.seek(size - limit // 2)
        blob = head + b"\n[... %d bytes elided by triage ...]\n" % (size - limit) + handle.read()
    return blob.decode("utf-8", "replace")
