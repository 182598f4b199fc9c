"""The fuzz runner: `python -m fuzz.run --target NAME` (also `blazefuzz run`).

It builds the instrumented engine when missing or stale (fuzz/build.py),
writes the executable harness (fuzz/harness.py) and runs libFuzzer through
it in a child process whose environment carries the preload: the preload
must be in place before Python starts, so the runner itself never loads the
instrumented build. libFuzzer's own flags are wrapped, not re-invented; any
flag after `--` goes to libFuzzer verbatim.

Where things go (paths relative to the repository root):
  corpus/<T>/grown/        the working corpus (git-ignored). Before each run the
                           committed seeds (regular files directly in corpus/<T>/)
                           are copied in under their SHA-1 names, as libFuzzer
                           names units, so the seeds are never written to and
                           never read twice. --corpus DIR replaces this directory.
  corpus/<T>.dict          the default dictionary, when present.
  crashes/<T>/             artifacts (-artifact_prefix) and their sidecars
                           `<artifact>.json` (fuzz/artifacts.py, CONTRACTS.md §5).
  .blazefuzz/stats/<T>.jsonl   JSON-lines stats (fuzz/stats.py)
  .blazefuzz/logs/<T>/<RUN>/   fuzz.log (everything printed), fuzz-N.log per
                           worker with --jobs; TMPDIR of the run is its tmp/.
                           The last 20 runs per target are kept.

Exit codes: 0 no finding; 1 a finding (crash, timeout, oom or leak artifact;
with --repro: the input fails); 2 bad usage, a failed build, or a fuzzer that
died without an artifact (one-line error on stderr, details in the log).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

from fuzz import artifacts as art
from fuzz import build as fbuild
from fuzz import harness
from fuzz import stats as fstats

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TIMEOUT_S = 25          # per input, as ClusterFuzz; libFuzzer's own default is 1200
INTERRUPTED_EXIT = 72           # libFuzzer's -interrupted_exitcode default
KEEP_RUN_LOGS = 20              # run directories kept per target under .blazefuzz/logs/
MUTATORS = ("structure", "bytes")   # fuzz/mutator.py; the harness reads MUTATOR_ENV
LEN_CONTROL = 100               # libFuzzer's -len_control default
SEED_SKIP = ("README", ".")     # files in corpus/<T>/ that are not seeds
# -jobs main process: a job's command line (`... >fuzz-N.log 2>&1`) or its exit.
JOB_LINE = re.compile(r"^(=+ Job \d+ exited.*|.* >fuzz-\d+\.log 2>&1)$")
_NOTHING = object()             # no output line within one poll interval


# Overrides for services and tests: where corpus/, crashes/ and .blazefuzz/ live, where
# builds go, and which C sources are built (a tree with store/ and codec/ subdirectories).
ROOT_ENV, BUILD_ROOT_ENV, CSRC_ENV = "BLAZEFUZZ_ROOT", "BLAZEFUZZ_BUILD_ROOT", "BLAZEFUZZ_CSRC"


def env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value else default


class UsageError(Exception):
    """Bad usage or input of the runner: exit code 2 with a one-line message."""


# ---------------------------------------------------------------- targets


def registered_targets() -> list[str]:
    """Names of the fuzz targets (H5's registry in fuzz/targets/, CONTRACTS.md §4)."""
    try:
        from fuzz import targets
    except ImportError:
        return []
    for attr in ("names", "all_names", "list_targets"):
        fn = getattr(targets, attr, None)
        if callable(fn):
            return list(fn())
    for attr in ("TARGETS", "REGISTRY"):
        table = getattr(targets, attr, None)
        if table:
            return sorted(table)
    import pkgutil

    return sorted(m.name for m in pkgutil.iter_modules(targets.__path__) if not m.name.startswith("_"))


def check_target(name: str) -> None:
    if "." in name:           # a dotted module path: checked when the harness imports it
        return
    known = registered_targets()
    if name not in known:
        choices = ", ".join(known) if known else "none registered yet (fuzz/targets/)"
        raise UsageError(f"unknown target {name!r}; choose one of: {choices}")


# ---------------------------------------------------------------- configuration


@dataclass
class RunConfig:
    target: str
    flavor: str = "asan"
    max_time: int | None = None
    runs: int | None = None
    jobs: int = 1
    corpus: Path | None = None
    crashes: Path | None = None
    dict_path: Path | None = None
    seed: int | None = None
    timeout: int = DEFAULT_TIMEOUT_S
    extra: list[str] = field(default_factory=list)
    seeds: bool = True                       # copy corpus/<T>/ seeds into the working corpus
    root: Path = field(default_factory=lambda: env_path(ROOT_ENV, REPO))
    build_root: Path = field(default_factory=lambda: env_path(BUILD_ROOT_ENV, fbuild.BUILD_ROOT))
    modules: list[fbuild.NativeModule] | None = field(default_factory=lambda: (
        fbuild.engine_modules(Path(os.environ[CSRC_ENV])) if os.environ.get(CSRC_ENV) else None))
    stats: Path | None = None
    live: bool | None = None                 # rich status line; None: when stderr is a TTY
    instrument: str | None = None            # Python packages Atheris instruments (fuzz/harness.py)
    mutator: str | None = None               # "structure" | "bytes" (fuzz/harness.py MUTATOR_ENV)

    @property
    def short(self) -> str:
        return harness.script_name(self.target)

    def seeds_dir(self) -> Path:
        return self.root / "corpus" / self.short

    def corpus_dir(self) -> Path:
        return self.corpus or self.seeds_dir() / "grown"

    def crashes_dir(self) -> Path:
        return self.crashes or self.root / "crashes" / self.short

    def dictionary(self) -> Path | None:
        if self.dict_path is not None:
            return self.dict_path
        default = self.root / "corpus" / f"{self.short}.dict"
        return default if default.is_file() else None

    def stats_file(self) -> Path:
        return self.stats or fstats.stats_path(self.root, self.short)


@dataclass
class RunResult:
    exit_code: int
    returncode: int
    artifacts: list[Path]
    findings: list[Path]
    final: dict
    last: dict | None
    log: Path
    message: str = ""
    elapsed: float = 0.0

    @property
    def exec_per_sec(self) -> float:
        """libFuzzer's average; computed from executions over wall time when it printed 0."""
        rate = self.final.get("average_exec_per_sec") or 0
        if rate:
            return rate
        execs = self.final.get("number_of_executed_units") or (self.last or {}).get("execs", 0)
        return round(execs / self.elapsed) if self.elapsed > 0 else 0


def prepare(cfg: RunConfig, log=None) -> tuple[fbuild.Build, Path]:
    """Build (if stale) and write the harness; errors as UsageError."""
    try:
        built = fbuild.build(cfg.flavor, out_root=cfg.build_root, modules=cfg.modules, log=log)
    except fbuild.BuildError as exc:
        raise UsageError(f"instrumented build failed: {exc}") from exc
    return built, harness.write_script(cfg.target, built.directory)


def seed_files(seeds_dir: Path) -> list[Path]:
    """The committed seeds: regular files directly in corpus/<T>/ (no README, dot or .dict files)."""
    if not seeds_dir.is_dir():
        return []
    return sorted(p for p in seeds_dir.iterdir()
                  if p.is_file() and not p.name.startswith(SEED_SKIP) and p.suffix != ".dict")


def seed_corpus(seeds_dir: Path, corpus_dir: Path) -> int:
    """Copy the committed seeds into the working corpus under their SHA-1 names."""
    corpus_dir.mkdir(parents=True, exist_ok=True)
    copied = 0
    if not seeds_dir.is_dir() or seeds_dir.resolve() == corpus_dir.resolve():
        return 0
    for path in seed_files(seeds_dir):
        data = path.read_bytes()
        dest = corpus_dir / hashlib.sha1(data).hexdigest()
        if not dest.exists():
            dest.write_bytes(data)
            copied += 1
    return copied


def libfuzzer_argv(cfg: RunConfig, script: Path, corpus: Path, crashes: Path) -> list[str]:
    user_flags = {a.split("=", 1)[0] for a in cfg.extra if a.startswith("-")}
    argv = [str(script), f"-artifact_prefix={crashes}/", "-print_final_stats=1"]
    if "-timeout" not in user_flags:
        argv.append(f"-timeout={cfg.timeout}")
    if cfg.max_time is not None:
        argv.append(f"-max_total_time={cfg.max_time}")
    if cfg.runs is not None:
        argv.append(f"-runs={cfg.runs}")
    if cfg.seed is not None:
        argv.append(f"-seed={cfg.seed}")
    dictionary = cfg.dictionary()
    if dictionary is not None:
        argv.append(f"-dict={dictionary}")
    if cfg.jobs > 1:
        argv += [f"-jobs={cfg.jobs}", f"-workers={min(cfg.jobs, os.cpu_count() or 1)}"]
    if "-len_control" not in user_flags and uses_custom_mutator(cfg):
        # libFuzzer turns length control off once it finds a custom mutator (inputs
        # start at -max_len); kept at libFuzzer's default, inputs grow as before.
        argv.append(f"-len_control={LEN_CONTROL}")
    return argv + list(cfg.extra) + [str(corpus)]


def uses_custom_mutator(cfg: RunConfig) -> bool:
    """Whether --mutator structure is asked for and the target has a custom mutator."""
    return harness.load_mutator(cfg.target, cfg.mutator) is not None


def _env(cfg: RunConfig, built: fbuild.Build, rundir: Path) -> dict[str, str]:
    env = built.env(tmpdir=rundir / "tmp", custom_mutator=uses_custom_mutator(cfg))
    env[harness.READY_ENV] = str(built.directory)      # the harness need not re-exec
    if cfg.instrument is not None:
        env[harness.INSTRUMENT_ENV] = cfg.instrument
    if cfg.mutator is not None:
        env[harness.MUTATOR_ENV] = cfg.mutator
    return env


def prune_logs(directory: Path, keep: int = KEEP_RUN_LOGS) -> None:
    """Keep the run directories of the last `keep` runs of a target (names sort by time)."""
    runs = sorted(p for p in directory.iterdir() if p.is_dir())
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def new_run_id() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ") + f"-{os.getpid()}"


# ---------------------------------------------------------------- output handling


class Stream:
    """One fuzzer's output (the main process, or worker N's fuzz-N.log)."""

    def __init__(self, worker: int | None, cwd: Path):
        self.worker = worker
        self.collector = art.ReportCollector(cwd)
        self.final: dict = {}
        self.last: fstats.Status | None = None
        self.inited = False


class Display:
    """A live rich status line on a terminal; plain, throttled lines elsewhere."""

    PLAIN_EVERY_S = 10.0

    def __init__(self, target: str, flavor: str, live: bool | None):
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False)
        self.target, self.flavor = target, flavor
        self.use_live = self.console.is_terminal if live is None else live
        self._live = None
        self._last_plain = 0.0
        self.t0 = time.monotonic()

    def __enter__(self):
        if self.use_live:
            from rich.live import Live

            self._live = Live(self._render({}, 0), console=self.console, refresh_per_second=4,
                              transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc):
        if self._live is not None:
            self._live.__exit__(*exc)

    def line(self, text: str) -> None:
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def _render(self, agg: dict, crashes: int):
        from rich.text import Text

        elapsed = int(time.monotonic() - self.t0)
        corpus_kb = (agg.get("corpus_bytes") or 0) / 1024
        return Text(
            f"{self.target} [{self.flavor}] {elapsed // 3600:02}:{elapsed // 60 % 60:02}:{elapsed % 60:02}"
            f"  exec/s {agg.get('exec_per_sec', 0):,}  cov {agg.get('cov', '-')}  ft {agg.get('ft', '-')}"
            f"  corpus {agg.get('corpus_units', '-')}/{corpus_kb:.1f}KB  crashes {crashes}"
            f"  execs {agg.get('execs', 0):,}", style="bold" if crashes == 0 else "bold red")

    def status(self, agg: dict, crashes: int, raw: str, force: bool = False) -> None:
        if self._live is not None:
            self._live.update(self._render(agg, crashes))
            return
        now = time.monotonic()
        if force or now - self._last_plain >= self.PLAIN_EVERY_S:
            self._last_plain = now
            self.line(raw)


def aggregate(streams: list[Stream]) -> dict:
    """One status across workers: executions and exec/s add up, coverage is the best one."""
    lasts = [s.last for s in streams if s.last is not None]
    if not lasts:
        return {}
    return {"execs": sum(s.execs for s in lasts), "exec_per_sec": sum(s.exec_per_sec for s in lasts),
            "cov": max((s.cov or 0) for s in lasts), "ft": max((s.ft or 0) for s in lasts),
            "corpus_units": max((s.corpus_units or 0) for s in lasts),
            "corpus_bytes": max((s.corpus_bytes or 0) for s in lasts)}


def _reader(pipe, out: queue.Queue) -> None:
    for raw in iter(pipe.readline, b""):
        out.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
    out.put(None)


class WorkerLogs:
    """Tails fuzz-N.log files that libFuzzer's -jobs mode writes into the run directory."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.offsets: dict[Path, int] = {}
        self.partial: dict[Path, bytes] = {}

    def poll(self):
        for path in sorted(self.directory.glob("fuzz-*.log")):
            worker = int(path.stem.split("-")[1])
            with open(path, "rb") as fh:
                fh.seek(self.offsets.get(path, 0))
                chunk = fh.read()
            self.offsets[path] = self.offsets.get(path, 0) + len(chunk)
            data = self.partial.pop(path, b"") + chunk
            *lines, rest = data.split(b"\n")
            if rest:
                self.partial[path] = rest
            for raw in lines:
                yield worker, raw.decode("utf-8", "replace").rstrip("\r")

    def flush(self):
        for path, rest in list(self.partial.items()):
            yield int(path.stem.split("-")[1]), rest.decode("utf-8", "replace")
        self.partial.clear()


# ---------------------------------------------------------------- fuzzing


def fuzz(cfg: RunConfig, display: Display | None = None) -> RunResult:
    """Run one fuzzing session; see the module docstring for files and exit codes."""
    check_target(cfg.target)
    if cfg.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    display = display or Display(cfg.short, cfg.flavor, cfg.live)
    built, script = prepare(cfg, log=display.line)
    corpus, crashes = cfg.corpus_dir().resolve(), cfg.crashes_dir().resolve()
    crashes.mkdir(parents=True, exist_ok=True)
    if cfg.seeds:
        seed_corpus(cfg.seeds_dir(), corpus)
    corpus.mkdir(parents=True, exist_ok=True)
    dictionary = cfg.dictionary()
    if dictionary is not None and not dictionary.is_file():
        raise UsageError(f"dictionary {dictionary} does not exist")

    run_id = new_run_id()
    rundir = cfg.root / ".blazefuzz" / "logs" / cfg.short / run_id
    rundir.mkdir(parents=True, exist_ok=True)
    prune_logs(rundir.parent)
    argv = libfuzzer_argv(cfg, script, corpus, crashes)
    env = _env(cfg, built, rundir)
    writer = fstats.StatsWriter(cfg.stats_file(), run_id)
    writer.start(target=cfg.target, flavor=built.flavor, build_id=built.build_id, argv=argv,
                 corpus=str(corpus), crashes=str(crashes), log=str(rundir / "fuzz.log"))

    started = time.time()
    main = Stream(None, rundir)
    workers: dict[int, Stream] = {}
    logs = WorkerLogs(rundir)
    announced: dict[Path, str] = {}
    interrupted = False

    def handle(stream: Stream, line: str) -> None:
        status = fstats.parse_status(line)
        # In -jobs mode the main process re-prints each worker's log when it ends:
        # worker logs are parsed as they grow instead, so the copy is only shown.
        parse = cfg.jobs == 1 or stream.worker is not None
        if status is not None and parse:
            stream.last = status
            stream.inited = stream.inited or status.event == "INITED"
            writer.status(status, stream.worker)
            display.status(aggregate([main, *workers.values()]),
                           sum(1 for p in announced if art.artifact_kind(p) in art.FINDING_KINDS),
                           line if stream.worker is None else f"[{stream.worker}] {line}",
                           force=status.event in ("INITED", "DONE"))
        elif parse:
            display.line(line if stream.worker is None else f"[{stream.worker}] {line}")
        elif JOB_LINE.match(line) or not stream.inited:
            # -jobs main process: its own lines; the worker logs it copies are shown already.
            stream.inited = stream.inited or bool(JOB_LINE.match(line))
            display.line(line)
        if not parse:
            return
        final = fstats.parse_final(line)
        if final:
            stream.final[final[0]] = final[1]
        done = stream.collector.feed(line, status is not None)
        if done:
            announced[done[0]] = done[1]
            _sidecar(done[0], done[1])

    def _sidecar(path: Path, report: str) -> None:
        if path.is_file() and art.artifact_kind(path):
            art.write_sidecar(path, target=cfg.target, build_id=built.build_id,
                              build_flavor=built.sidecar_flavor, argv=argv, report=report)

    with open(rundir / "fuzz.log", "w", encoding="utf-8") as full_log, display, _term_as_interrupt():
        # Its own process group: libFuzzer's -jobs workers (started through sh) are
        # in it too, so one signal to the group stops them all, whoever got Ctrl-C.
        proc = subprocess.Popen(argv, cwd=rundir, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
        deadline = None
        while True:
            try:
                try:
                    line = lines.get(timeout=0.25)
                except queue.Empty:
                    line = _NOTHING
                if line is None:
                    break
                if line is not _NOTHING:
                    full_log.write(line + "\n")
                    handle(main, line)
                for worker, wline in logs.poll():
                    handle(workers.setdefault(worker, Stream(worker, rundir)), wline)
                if deadline is not None and time.monotonic() > deadline:
                    _signal_group(proc, signal.SIGKILL)
            except KeyboardInterrupt:
                # Ctrl-C or SIGTERM: libFuzzer stops on SIGINT and keeps corpus and
                # artifacts; killed if it has not stopped within 10 s.
                interrupted = True
                _signal_group(proc, signal.SIGINT)
                deadline = time.monotonic() + 10
        returncode = proc.wait()
        for worker, wline in [*logs.poll(), *logs.flush()]:
            handle(workers.setdefault(worker, Stream(worker, rundir)), wline)
        for stream in [main, *workers.values()]:
            done = stream.collector.flush()
            if done:
                announced[done[0]] = done[1]
                _sidecar(*done)

    # Artifacts that no stream announced (e.g. a worker killed mid-report) still get a sidecar.
    for path in art.list_artifacts(crashes):
        if path.stat().st_mtime >= started - 1 and path not in announced:
            announced[path] = ""
            if art.read_sidecar(path) is None:
                _sidecar(path, "")
    found = sorted(p for p in announced if p.is_file())
    findings = [p for p in found if art.artifact_kind(p) in art.FINDING_KINDS]
    final = _merge_final([main, *workers.values()])
    if findings:
        exit_code, message = 1, f"{len(findings)} finding(s) in {crashes}"
    elif returncode in (0, INTERRUPTED_EXIT) or interrupted:
        exit_code, message = 0, "no finding" + (" (interrupted)" if interrupted else "")
    else:
        exit_code = 2
        tail = _last_line((rundir / "fuzz.log").read_text(encoding="utf-8", errors="replace")[-4000:])
        message = (f"the fuzzer exited with code {returncode} without an artifact ({tail}); "
                   f"see {rundir / 'fuzz.log'}")
    writer.finish(exit_code=exit_code, artifacts=[str(p) for p in found], final=final)
    writer.close()
    shutil.rmtree(rundir / "tmp", ignore_errors=True)
    return RunResult(exit_code=exit_code, returncode=returncode, artifacts=found, findings=findings,
                     final=final, last=writer.last, log=rundir / "fuzz.log", message=message,
                     elapsed=time.time() - started)


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except ProcessLookupError:
        pass


@contextlib.contextmanager
def _term_as_interrupt():
    """SIGTERM (timeout, docker stop, a supervisor) stops a run like Ctrl-C: the fuzzer
    is told to stop, its corpus and artifacts are kept, and the stats get their finish."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _merge_final(streams: list[Stream]) -> dict:
    merged: dict = {}
    for stream in streams:
        for key, value in stream.final.items():
            if key in ("peak_rss_mb", "slowest_unit_time_sec"):
                merged[key] = max(merged.get(key, 0), value)
            else:
                merged[key] = merged.get(key, 0) + value
    return merged


# ---------------------------------------------------------------- one-shot libFuzzer runs


@dataclass
class OneShot:
    returncode: int
    output: str
    build: fbuild.Build
    argv: list[str]
    log: Path
    new_artifacts: list[Path]


def run_libfuzzer(cfg: RunConfig, args: list[str], *, log=None) -> OneShot:
    """Run the harness once with libFuzzer `args` (merge, -runs=0, ...), output captured.

    Crashing inputs met on the way land in the crashes directory as artifacts
    with sidecars (report: this run's output), like those of a fuzzing run.
    """
    check_target(cfg.target)
    built, script = prepare(cfg, log=log)
    crashes = cfg.crashes_dir().resolve()
    crashes.mkdir(parents=True, exist_ok=True)
    rundir = cfg.root / ".blazefuzz" / "logs" / cfg.short / new_run_id()
    rundir.mkdir(parents=True, exist_ok=True)
    prune_logs(rundir.parent)
    argv = [str(script), f"-artifact_prefix={crashes}/", *args]
    started = time.time()
    proc = subprocess.run(argv, cwd=rundir, env=_env(cfg, built, rundir), check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    shutil.rmtree(rundir / "tmp", ignore_errors=True)
    text = proc.stdout.decode("utf-8", "replace")
    (rundir / "fuzz.log").write_text(text, encoding="utf-8")
    fresh = [p for p in art.list_artifacts(crashes) if p.stat().st_mtime >= started - 1]
    for path in fresh:
        art.write_sidecar(path, target=cfg.target, build_id=built.build_id,
                          build_flavor=built.sidecar_flavor, argv=argv, report=text[-20000:])
    return OneShot(proc.returncode, text, built, argv, rundir / "fuzz.log", fresh)


# ---------------------------------------------------------------- reproduction


def repro(cfg: RunConfig, input_file: Path, out=None) -> tuple[int, str]:
    """Run one input once under the selected build; (exit code, everything printed)."""
    check_target(cfg.target)
    if not input_file.is_file():
        raise UsageError(f"--repro: {input_file} is not a file")
    built, script = prepare(cfg, log=lambda m: sys.stderr.write(m + "\n"))
    rundir = cfg.root / ".blazefuzz" / "repro" / new_run_id()
    rundir.mkdir(parents=True, exist_ok=True)
    argv = [str(script), f"-artifact_prefix={rundir}/", f"-timeout={cfg.timeout}",
            *cfg.extra, str(input_file.resolve())]
    try:
        proc = subprocess.run(argv, cwd=rundir, env=_env(cfg, built, rundir), check=False,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    finally:
        shutil.rmtree(rundir, ignore_errors=True)
    text = proc.stdout.decode("utf-8", "replace")
    if out is not None:
        out.write(text)
        out.flush()
    if proc.returncode == 0:
        return 0, text
    if "Running: " not in text:
        raise UsageError(f"the harness for {cfg.target!r} failed before running the input "
                         f"(exit {proc.returncode}): {_last_line(text)}")
    return 1, text


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


# ---------------------------------------------------------------- CLI


def _list_targets(root: Path) -> None:
    names = registered_targets()
    if not names:
        click.echo("no targets registered (fuzz/targets/)")
    for name in names:
        seeds = root / "corpus" / name
        nseeds = sum(1 for p in seeds.iterdir() if p.is_file()) if seeds.is_dir() else 0
        ncrash = len([p for p in art.list_artifacts(root / "crashes" / name)
                      if art.artifact_kind(p) in art.FINDING_KINDS])
        click.echo(f"{name:12} seeds {nseeds:4}  artifacts {ncrash:4}")


@click.command("run", context_settings={"ignore_unknown_options": False,
                                        "help_option_names": ["-h", "--help"]})
@click.option("--target", "-t", help="Target name (see --list) or a dotted module path.")
@click.option("--max-time", type=click.IntRange(min=1), help="Stop after this many seconds.")
@click.option("--runs", type=click.IntRange(min=0), help="Stop after this many inputs.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="libFuzzer -jobs (workers = min(jobs, cores)); logs in the run directory.")
@click.option("--corpus", type=click.Path(file_okay=False, path_type=Path),
              help="Working corpus directory [default: corpus/NAME/grown].")
@click.option("--crashes", type=click.Path(file_okay=False, path_type=Path),
              help="Artifact directory [default: crashes/NAME].")
@click.option("--dict", "dict_path", type=click.Path(dir_okay=False, path_type=Path),
              help="libFuzzer dictionary [default: corpus/NAME.dict when present].")
@click.option("--seed", type=int,
              help="libFuzzer -seed (fixed seeds make runs repeatable; with --jobs every job gets it).")
@click.option("--timeout", type=click.IntRange(min=1), default=DEFAULT_TIMEOUT_S, show_default=True,
              help="Seconds per input before it is a timeout.")
@click.option("--build", "flavor", type=click.Choice(fbuild.FLAVORS), default=None,
              help="Instrumented build [default: asan].")
@click.option("--no-asan", is_flag=True, help="Use the coverage-only build (faster, no sanitizers).")
@click.option("--no-seeds", is_flag=True, help="Do not copy corpus/NAME/ seeds into the corpus.")
@click.option("--instrument", metavar="PKGS",
              help="Python packages Atheris instruments, comma-separated [default: engine]; "
                   "'engine,fuzz' adds the decoders and the model, 'none' nothing.")
@click.option("--mutator", type=click.Choice(MUTATORS), default=None,
              help="structure: the target's structure-aware mutator beside libFuzzer's byte "
                   "mutations (ops; fuzz/mutator.py); bytes: libFuzzer's alone [default: bytes].")
@click.option("--repro", type=click.Path(path_type=Path),
              help="Run this one input, print the outcome; exit 1 if it fails.")
@click.option("--list", "list_", is_flag=True, help="List the targets and exit.")
@click.argument("libfuzzer_flags", nargs=-1, type=click.UNPROCESSED)
def command(target, max_time, runs, jobs, corpus, crashes, dict_path, seed, timeout, flavor,
            no_asan, no_seeds, instrument, mutator, repro, list_, libfuzzer_flags):
    """Fuzz one target under the instrumented engine; libFuzzer flags go after `--`.

    \b
    Examples:
      python -m fuzz.run --target ops --max-time 3600
      python -m fuzz.run --target codec --jobs 2 -- -max_len=512
      python -m fuzz.run --target ops --repro crashes/ops/crash-<sha1>

    Exit codes: 0 no finding, 1 a finding (or --repro input fails), 2 bad usage.
    """
    if list_:
        _list_targets(env_path(ROOT_ENV, REPO))
        return
    try:
        if not target:
            raise UsageError("--target is required (see --list)")
        if no_asan and flavor not in (None, "coverage"):
            raise UsageError(f"--no-asan contradicts --build {flavor}")
        stray = [a for a in libfuzzer_flags if not a.startswith("-")]
        if repro is None and stray:
            raise UsageError(f"unexpected argument {stray[0]!r}; libFuzzer flags start with '-'")
        cfg = RunConfig(target=target, flavor="coverage" if no_asan else (flavor or "asan"),
                        max_time=max_time, runs=runs, jobs=jobs, corpus=corpus, crashes=crashes,
                        dict_path=dict_path, seed=seed, timeout=timeout, extra=list(libfuzzer_flags),
                        seeds=not no_seeds, instrument=instrument, mutator=mutator)
        if repro is not None:
            code, _ = repro_cmd(cfg, repro)
            sys.exit(code)
        result = fuzz(cfg)
    except UsageError as exc:
        click.echo(f"blazefuzz run: error: {exc}", err=True)
        sys.exit(2)
    stream = sys.stderr if result.exit_code == 2 else sys.stdout
    print(f"blazefuzz run: {cfg.short}: {result.message}", file=stream)
    for path in result.findings:
        print(f"  {path}", file=stream)
    sys.exit(result.exit_code)


def repro_cmd(cfg: RunConfig, input_file: Path) -> tuple[int, str]:
    code, text = repro(cfg, input_file, out=sys.stdout)
    verdict = "fails (a finding)" if code else "runs clean"
    print(f"blazefuzz run: {input_file}: {verdict} under the {cfg.flavor} build", file=sys.stdout)
    return code, text


if __name__ == "__main__":
    command(prog_name="python -m fuzz.run")
