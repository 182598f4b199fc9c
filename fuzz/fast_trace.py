"""Atheris tracing without its pybind11 dispatcher (fuzz/csrc/fast_trace.c).

Atheris' instrumented bytecode calls `atheris._trace_branch(index)` at every
basic block and `atheris._trace_cmp(...)` at every comparison, looking the
names up on the `atheris` module each time. `wrap()` returns the target with a
first-call hook that points both names at the C functions of the build's
`_fast_trace` module, which call the loaded Atheris core's own functions
directly: the same counters and comparison reports, without two heap
allocations per call (each one a recorded stack trace under ASan). Measured
on the ops target under ASan: about 1.6-2x the executions per second.

The hook runs at the first input, not before: Atheris loads its core module
only inside `atheris.Fuzz()`. When the core cannot be found or lacks the
symbols (another Atheris release), Atheris' own functions stay in place and
the log says why; coverage is never lost, only speed. BLAZEFUZZ_FAST_TRACE=0
turns the hook off.

The argument conventions (a COMPARE_OP argument is the rich-comparison opid)
are those of CPython 3.11, the project's Python, and Atheris 3.0; on another
CPython the hook stays off rather than guess.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import sysconfig
from pathlib import Path

ENV = "BLAZEFUZZ_FAST_TRACE"
# The Atheris core modules, in the order tried: `without` is the one loaded when
# libFuzzer is already in the process (our preloads), `with` brings its own.
CORES = ("core_without_libfuzzer", "core_with_libfuzzer")
VERIFIED_PYTHON = (3, 11)


def enabled() -> bool:
    return os.environ.get(ENV, "1") != "0"


def load_tracer(path: Path):
    """Import the build's `_fast_trace` extension from its file."""
    loader = importlib.machinery.ExtensionFileLoader("_fast_trace", str(path))
    spec = importlib.util.spec_from_file_location("_fast_trace", path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def bind(atheris, tracer) -> str:
    """Point `atheris._trace_branch` and `_trace_cmp` at the tracer bound to the loaded core.

    Returns the core's name; raises LookupError when no usable core is loaded."""
    package = Path(atheris.__file__).parent
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    reasons = []
    for name in CORES:
        try:
            tracer.bind(str(package / f"{name}{suffix}"))
        except (OSError, LookupError) as exc:
            reasons.append(str(exc))
            continue
        atheris._trace_branch = tracer.trace_branch
        atheris._trace_cmp = tracer.trace_cmp
        return name
    raise LookupError("; ".join(reasons))


def wrap(fn, atheris, tracer_path: Path | None, log):
    """`fn` with a first-call hook that installs the fast tracer (see above)."""
    if not enabled():
        log(f"INFO: blazefuzz harness: fast tracing off ({ENV}=0)\n")
        return fn
    if sys.version_info[:2] != VERIFIED_PYTHON:
        log(f"INFO: blazefuzz harness: fast tracing off (verified on CPython "
            f"{'.'.join(map(str, VERIFIED_PYTHON))} only)\n")
        return fn
    if tracer_path is None or not tracer_path.is_file():
        log("INFO: blazefuzz harness: fast tracing off (the build has no tracer; "
            "rebuild with `python -m fuzz.build`)\n")
        return fn
    pending = True

    def first_call_installs_tracer(data):
        nonlocal pending
        if pending:
            pending = False
            try:
                core = bind(atheris, load_tracer(tracer_path))
            except (ImportError, OSError, LookupError) as exc:
                log(f"INFO: blazefuzz harness: fast tracing off ({exc})\n")
            else:
                log(f"INFO: blazefuzz harness: fast tracing via atheris.{core}\n")
        return fn(data)

    return first_call_installs_tracer
