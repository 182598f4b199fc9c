"""Instrumented builds of BlazeDB's C core for fuzzing: `python -m fuzz.build`.

Three flavors, each in its own directory build/fuzz/<flavor>/ (never the
package directory, so the normal build and these never mix):

  asan      clang-19 -fsanitize=fuzzer-no-link,address,undefined -g -O1
            -fno-sanitize-recover=undefined (see ASAN below)
  coverage  clang-19 -fsanitize=fuzzer-no-link (no sanitizer: the fast one)
  planted   the asan flags plus -DBLAZEDB_PLANT_BUGS (the self-test's bugs)

Layout of build/fuzz/<flavor>/ (written by `build()`, read by the runner):

  _store<EXT_SUFFIX>, _codec<EXT_SUFFIX>   the instrumented modules; loaded
                                             by engine/_native.py when
                                             BLAZEDB_NATIVE_DIR points here
  _fast_trace<EXT_SUFFIX>   the harness' Atheris tracer (fuzz/csrc/fast_trace.c,
                fuzz/fast_trace.py): part of the fuzzer, not of the code under
                test, so built -O2 without sanitizers or coverage
  mutator_shim.so   LLVMFuzzerCustomMutator for a preloaded libFuzzer
                (fuzz/csrc/mutator_shim.c: why); preloaded after preload.so
                only with --mutator structure on a target that has one (Build.env)
  preload.so    libFuzzer (+ ASan/UBSan runtime for asan/planted) from
                clang-19's compiler-rt, merged into one shared object. It must
                be in LD_PRELOAD before Python starts: an instrumented module
                imported without it fails with `undefined symbol:
                __sancov_lowest_stack` (see ../shared/NATIVE_FUZZING.md).
  build.json    {"flavor", "build_id", "inputs", "flags", "compiler",
                 "modules": {name: file}, "preload", "tracer", "mutator_shim", "time"}

`inputs` hashes every source and header, the flags and the compiler version;
a build whose `inputs` still match is reused (incremental). `build_id` hashes
the built engine modules plus the flags: it names exactly the engine code
that ran and goes into every artifact's sidecar (the tracer is not part of it).

Objects are compiled straight with clang into a fresh temporary directory:
setuptools silently reuses stale objects from another flavor.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as _dt
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import click

REPO = Path(__file__).resolve().parent.parent
CSRC = REPO / "engine" / "csrc"
BUILD_ROOT = REPO / "build" / "fuzz"

CLANG = os.environ.get("BLAZEFUZZ_CLANG", "clang-19")
LLVM_BIN = Path("/usr/lib/llvm-19/bin")
RUNTIME_DIR = Path("/usr/lib/llvm-19/lib/clang/19/lib/linux")
SYMBOLIZER = LLVM_BIN / "llvm-symbolizer"
TRACER_SOURCE = REPO / "fuzz" / "csrc" / "fast_trace.c"
TRACER_NAME = "_fast_trace"
TRACER_FLAGS = ["-O2", "-shared", "-Wall", "-Wextra", "-Werror"]
SHIM_SOURCE = REPO / "fuzz" / "csrc" / "mutator_shim.c"
SHIM_NAME = "mutator_shim.so"

COMMON = ["-std=c11", "-fPIC", "-fvisibility=hidden", "-g", "-fno-omit-frame-pointer"]
# UBSan checks are built non-recoverable (the handlers print the report, then
# abort), as OSS-Fuzz builds them: the runtime stops at the first report anyway
# (halt_on_error=1 below). A recoverable check returns from its handler into a
# block of its own, and that block gets an edge counter: in the store that
# tripled the counters (2,915 -> 10,833; 4,229 non-recoverable) and more than
# doubled the coverage libFuzzer tracks per run (ops: cov 5.5k -> 2.4k, ft 31k
# -> 13k) with nothing learned from it. ops ran 909-1,003 exec/s recoverable,
# 1,182-1,313 non-recoverable (three interleaved 30 s `bench fuzz` pairs).
ASAN = ["-O1", "-fsanitize=fuzzer-no-link,address,undefined", "-fno-sanitize-recover=undefined"]
FLAVOR_FLAGS: dict[str, list[str]] = {
    "asan": ASAN,
    "coverage": ["-O1", "-fsanitize=fuzzer-no-link"],
    "planted": ASAN + ["-DBLAZEDB_PLANT_BUGS"],
}
# Comparison tracing (-fsanitize-coverage=trace-cmp, part of fuzzer-no-link)
# hands libFuzzer the operands of every integer comparison as mutation hints.
# That pays where input bytes are parsed without a checksum in the way: the
# codec. The store compares its own page numbers, counts and offsets, and the
# bytes it reads from a file sit behind per-page and per-frame CRC32C that no
# hint can satisfy (keys go through memcmp, hooked either way); there the hooks
# cost 15-20% of the ops target's executions under ASan. So the store module
# is built with NO_TRACE_CMP: its edge coverage is unchanged.
NO_TRACE_CMP = "-fno-sanitize-coverage=trace-cmp"

# The name a flavor carries in artifact sidecars (docs/CONTRACTS.md §5).
SIDECAR_FLAVOR = {"asan": "asan", "coverage": "coverage", "planted": "planted-asan"}
FLAVORS = tuple(FLAVOR_FLAGS)

# Symbols that prove a build is what it claims (checked with `nm -D`).
COVERAGE_SYMBOL = "__sanitizer_cov_8bit_counters_init"
ASAN_SYMBOL_PREFIX = "__asan_report"

# Sanitizer options every instrumented process gets (the user's own *SAN_OPTIONS
# are appended, so they win). detect_leaks=0: CPython leaks at start-up.
# quarantine_size_mb=32, malloc_context_size=8: ASan intercepts every malloc of
# CPython too; with its defaults (256 MB, 30 frames) the codec target ran at
# 6.2k exec/s and 494 MB RSS, with these at 11.0k exec/s and 154 MB (15 s runs
# here). The crash stack itself is not shortened; only allocation/free stacks are.
# detect_stack_use_after_return=1:max_uar_stack_size_log=16, as ClusterFuzz runs
# it: stack-use-after-return stays detected (tested), on a fake stack of 64 KB
# per frame size class instead of the default 1 MB, which the C core's frames
# kept cycling through out of the cache. ops target under ASan, in-process:
# 14% less time per input (detection off entirely would save 17%).
ASAN_OPTIONS = ("detect_leaks=0:allocator_may_return_null=1:symbolize=1:handle_abort=1"
                ":quarantine_size_mb=32:malloc_context_size=8"
                ":detect_stack_use_after_return=1:max_uar_stack_size_log=16")
UBSAN_OPTIONS = "halt_on_error=1:print_stacktrace=1:symbolize=1"


class BuildError(Exception):
    """The instrumented build could not be made (missing compiler, compile error)."""


@dataclass(frozen=True)
class NativeModule:
    name: str              # "_store": the file is _store<EXT_SUFFIX>
    source_dir: Path       # every *.c in it is compiled; *.h are hashed too
    trace_comparisons: bool = True     # False: built with NO_TRACE_CMP


def engine_modules(csrc: Path = CSRC) -> list[NativeModule]:
    return [NativeModule("_store", csrc / "store", trace_comparisons=False),
            NativeModule("_codec", csrc / "codec")]


@dataclass
class Build:
    """A finished build: what the runner needs to load it."""
    flavor: str
    directory: Path
    build_id: str
    preload: Path
    modules: dict[str, Path] = field(default_factory=dict)
    rebuilt: bool = False
    tracer: Path | None = None
    mutator_shim: Path | None = None

    @property
    def sidecar_flavor(self) -> str:
        return SIDECAR_FLAVOR[self.flavor]

    @property
    def sanitized(self) -> bool:
        return self.flavor != "coverage"

    def env(self, base: dict[str, str] | None = None, tmpdir: Path | None = None,
            custom_mutator: bool = False) -> dict[str, str]:
        """The environment an instrumented process needs (set before Python starts).
        custom_mutator: preload the shim that lets libFuzzer call the target's mutator
        (without it libFuzzer keeps -len_control and its own mutations, as before)."""
        env = dict(os.environ if base is None else base)
        env["LD_PRELOAD"] = str(self.preload)
        if custom_mutator and self.mutator_shim is not None:
            env["LD_PRELOAD"] += f":{self.mutator_shim}"
        env["BLAZEDB_NATIVE_DIR"] = str(self.directory)
        env["BLAZEFUZZ_BUILD_ID"] = self.build_id
        env["BLAZEFUZZ_BUILD_FLAVOR"] = self.flavor
        env["ASAN_OPTIONS"] = _merge_options(ASAN_OPTIONS, env.get("ASAN_OPTIONS"))
        env["UBSAN_OPTIONS"] = _merge_options(UBSAN_OPTIONS, env.get("UBSAN_OPTIONS"))
        # A fixed -seed repeats a run only if Python's str hashing (set/dict order) is fixed too.
        env.setdefault("PYTHONHASHSEED", "0")
        if SYMBOLIZER.exists():
            env["ASAN_SYMBOLIZER_PATH"] = str(SYMBOLIZER)
        if tmpdir is not None:
            tmpdir.mkdir(parents=True, exist_ok=True)
            env["TMPDIR"] = str(tmpdir)
        return env


def _merge_options(defaults: str, user: str | None) -> str:
    """The user's own *SAN_OPTIONS win over ours, key by key."""
    return defaults if not user else f"{defaults}:{user}"


# ---------------------------------------------------------------- inputs


def ext_suffix() -> str:
    return sysconfig.get_config_var("EXT_SUFFIX") or ".so"


def compiler_version() -> str:
    try:
        out = subprocess.run([CLANG, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError(f"{CLANG} is not available ({exc}); install clang-19, libclang-rt-19-dev "
                         "and llvm-19 (bash scripts/setup.sh)") from exc
    return out.stdout.splitlines()[0]


def toolchain_missing() -> str | None:
    """Why an instrumented build cannot be made here, or None if it can."""
    if shutil.which(CLANG) is None:
        return f"{CLANG} not found (install clang-19)"
    for archive in ("libclang_rt.fuzzer_no_main-x86_64.a", "libclang_rt.asan-x86_64.a"):
        if not (RUNTIME_DIR / archive).exists():
            return f"{RUNTIME_DIR / archive} missing (install libclang-rt-19-dev)"
    return None


def inputs_hash(flavor: str, modules: list[NativeModule]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([flavor, COMMON, FLAVOR_FLAGS[flavor], TRACER_FLAGS, NO_TRACE_CMP, ext_suffix(),
                         compiler_version(), sys.version]).encode())
    h.update(TRACER_SOURCE.read_bytes())
    h.update(SHIM_SOURCE.read_bytes())
    for module in modules:
        h.update(f"{module.name}:{module.trace_comparisons}".encode())
        for path in sorted(module.source_dir.glob("*.[ch]")):
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


# ---------------------------------------------------------------- compile + link


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"{what} failed (exit {proc.returncode}):\n$ {' '.join(cmd)}\n"
                         f"{proc.stderr.strip() or proc.stdout.strip()}")


def _compile_module(module: NativeModule, flags: list[str], tmp: Path, out: Path) -> None:
    sources = sorted(module.source_dir.glob("*.c"))
    if not sources:
        raise BuildError(f"no C sources in {module.source_dir} for {module.name}")
    include = ["-I", sysconfig.get_paths()["include"], "-I", str(module.source_dir)]
    objdir = tmp / module.name
    objdir.mkdir()
    objects = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        jobs = []
        for src in sources:
            obj = objdir / (src.stem + ".o")
            objects.append(obj)
            extra = [] if module.trace_comparisons else [NO_TRACE_CMP]
            cmd = [CLANG, *COMMON, *flags, *extra, *include, "-c", str(src), "-o", str(obj)]
            jobs.append(pool.submit(_run, cmd, f"compiling {src.relative_to(src.parents[2])}"))
        for job in jobs:
            job.result()
    _run([CLANG, "-shared", *flags, *map(str, objects), "-o", str(out)], f"linking {out.name}")


def _compile_helper(source: Path, out: Path, extra: tuple = ()) -> None:
    """A part of the fuzzer itself (tracer, mutator shim): -O2, no sanitizers or coverage."""
    _run([CLANG, *COMMON, *TRACER_FLAGS, *extra, str(source), "-o", str(out)],
         f"compiling {source.relative_to(REPO)}")


def _link_preload(flavor: str, tmp: Path, out: Path) -> None:
    """Merge clang-19's runtimes into one preloadable object (NATIVE_FUZZING.md).

    asan/planted: libFuzzer (no main) + ASan, whose archive already carries the
    UBSan handlers; asan_preinit.o is removed (.preinit_array is not allowed in
    a shared object). coverage: libFuzzer alone.
    """
    archives = [RUNTIME_DIR / "libclang_rt.fuzzer_no_main-x86_64.a"]
    if flavor != "coverage":
        asan = tmp / "asan.a"
        shutil.copyfile(RUNTIME_DIR / "libclang_rt.asan-x86_64.a", asan)
        _run(["ar", "d", str(asan), "asan_preinit.cpp.o"], "removing asan_preinit.o")
        archives.append(asan)
    cxx = CLANG.replace("clang", "clang++", 1) if "clang++" not in CLANG else CLANG
    _run([cxx, "-shared", "-o", str(out), "-Wl,--whole-archive", *map(str, archives),
          "-Wl,--no-whole-archive", "-lpthread", "-ldl", "-lrt", "-lm"], "linking the preload")


def dynamic_symbols(path: Path, *, defined: bool) -> set[str]:
    cmd = ["nm", "-D", "--defined-only" if defined else "--undefined-only", str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def _verify(flavor: str, modules: dict[str, Path], preload: Path) -> None:
    """Refuse a build that is not what its flavor says (e.g. a stale gcc object)."""
    provided = dynamic_symbols(preload, defined=True)
    if COVERAGE_SYMBOL not in provided:
        raise BuildError(f"{preload} lacks {COVERAGE_SYMBOL}: not a libFuzzer runtime")
    sanitized = flavor != "coverage"
    if sanitized and not any(s.startswith(ASAN_SYMBOL_PREFIX) for s in provided):
        raise BuildError(f"{preload} lacks {ASAN_SYMBOL_PREFIX}*: ASan runtime missing")
    for path in modules.values():
        needed = dynamic_symbols(path, defined=False)
        if COVERAGE_SYMBOL not in needed:
            raise BuildError(f"{path} is not coverage-instrumented (no {COVERAGE_SYMBOL})")
        has_asan = any(s.startswith(ASAN_SYMBOL_PREFIX) for s in needed)
        if has_asan != sanitized:
            raise BuildError(f"{path}: ASan instrumentation {'missing' if sanitized else 'present'}"
                             f" in the {flavor} build")
        unresolved = {s for s in needed if s.startswith(("__asan", "__ubsan", "__sanitizer"))}
        unresolved -= provided
        if unresolved:
            raise BuildError(f"{path} needs {sorted(unresolved)[:5]} which {preload.name} lacks")


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def _locked(path: Path):
    """Serialize builds of one flavor across processes (parallel tests, nightly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_manifest(directory: Path) -> dict | None:
    try:
        return json.loads((directory / "build.json").read_text())
    except (OSError, ValueError):
        return None


def _load(directory: Path, manifest: dict, rebuilt: bool) -> Build:
    return Build(flavor=manifest["flavor"], directory=directory, build_id=manifest["build_id"],
                 preload=directory / manifest["preload"],
                 modules={n: directory / f for n, f in manifest["modules"].items()},
                 rebuilt=rebuilt, tracer=directory / manifest["tracer"] if "tracer" in manifest else None,
                 mutator_shim=directory / manifest["mutator_shim"] if "mutator_shim" in manifest else None)


def _is_current(directory: Path, manifest: dict | None, inputs: str) -> bool:
    if not manifest or manifest.get("inputs") != inputs:
        return False
    files = [manifest.get("preload", ""), manifest.get("tracer", ""), manifest.get("mutator_shim", "")]
    files += list(manifest.get("modules", {}).values())
    return all(f and (directory / f).is_file() for f in files)


def build(flavor: str = "asan", *, force: bool = False, out_root: Path = BUILD_ROOT,
          modules: list[NativeModule] | None = None, log=None) -> Build:
    """Build (or reuse) one flavor; returns where it is and its build id."""
    if flavor not in FLAVOR_FLAGS:
        raise BuildError(f"unknown build flavor {flavor!r}; choose one of {', '.join(FLAVORS)}")
    missing = toolchain_missing()
    if missing:
        raise BuildError(missing)
    modules = engine_modules() if modules is None else modules
    directory = out_root / flavor
    with _locked(out_root / f".{flavor}.lock"):
        inputs = inputs_hash(flavor, modules)
        manifest = read_manifest(directory)
        if not force and _is_current(directory, manifest, inputs):
            return _load(directory, manifest, rebuilt=False)
        if log:
            log(f"building the {flavor} flavor into {directory} ...")
        flags = FLAVOR_FLAGS[flavor]
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"{flavor}-", dir=out_root) as tmp_name:
            tmp = Path(tmp_name)
            staged: dict[str, Path] = {}
            for module in modules:
                staged[module.name] = tmp / f"{module.name}{ext_suffix()}"
                _compile_module(module, flags, tmp, staged[module.name])
            preload = tmp / "preload.so"
            _link_preload(flavor, tmp, preload)
            _verify(flavor, staged, preload)
            tracer = tmp / f"{TRACER_NAME}{ext_suffix()}"
            _compile_helper(TRACER_SOURCE, tracer, ("-I", sysconfig.get_paths()["include"]))
            shim = tmp / SHIM_NAME
            _compile_helper(SHIM_SOURCE, shim)
            h = hashlib.sha256(json.dumps(flags).encode())
            for name in sorted(staged):
                h.update(name.encode() + _file_hash(staged[name]).encode())
            # os.replace: a fuzzer still running the old build keeps its mapping.
            for path in [*staged.values(), preload, tracer, shim]:
                os.replace(path, directory / path.name)
        manifest = {
            "flavor": flavor, "build_id": h.hexdigest()[:16], "inputs": inputs, "flags": COMMON + flags,
            "compiler": compiler_version(), "python": sys.version.split()[0],
            "modules": {name: path.name for name, path in staged.items()},
            "preload": "preload.so", "tracer": tracer.name, "mutator_shim": shim.name,
            "time": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        tmp_manifest = directory / "build.json.tmp"
        tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(tmp_manifest, directory / "build.json")
        return _load(directory, manifest, rebuilt=True)


# ---------------------------------------------------------------- CLI


@click.command("build")
@click.option("--flavor", type=click.Choice(FLAVORS + ("all",)), default="asan", show_default=True,
              help="asan: ASan+UBSan+libFuzzer; coverage: libFuzzer only; planted: asan with "
                   "-DBLAZEDB_PLANT_BUGS; all: every flavor.")
@click.option("--force", is_flag=True, help="Rebuild even when sources and flags are unchanged.")
def command(flavor: str, force: bool) -> None:
    """Build the instrumented engine into build/fuzz/<flavor>/ (incremental)."""
    flavors = FLAVORS if flavor == "all" else (flavor,)
    for name in flavors:
        try:
            result = build(name, force=force, log=lambda m: click.echo(m, err=True))
        except BuildError as exc:
            first, _, rest = str(exc).partition("\n")
            click.echo(f"blazefuzz build: {first}", err=True)
            if rest:
                click.echo(rest, err=True)
            sys.exit(2)
        state = "built" if result.rebuilt else "up to date"
        click.echo(f"{name}: {state}, build id {result.build_id} ({result.directory})")


if __name__ == "__main__":
    command(prog_name="python -m fuzz.build")
