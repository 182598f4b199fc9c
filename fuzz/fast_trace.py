"""Atheris tracing without its pybind11 dispatcher (fuzz/csrc/fast_trace.c).

Atheris' instrumented bytecode calls `atheris._trace_branch(index)` at every
basic block and `atheris._trace_cmp(...)` at every comparison, looking the
names up on the `atheris` module each time. `wrap()` returns the target with a
first-call hook that points both names at the C functions of the build's
`_fast_trace` module: the branch function bumps the loaded Atheris core's
counters as the core's own function does, the comparison function reports
to libFuzzer what Atheris' own TraceCompareOp reports
(fuzz/csrc/fast_trace.c), without two heap
allocations per call (each one a recorded stack trace under ASan) and
without turning each compared str into a new bytes object. Measured on the
ops target under ASan: about 1.6-2x the executions per second; the native
comparison alone, 1.1% fewer instructions per input (coverage build,
callgrind).

Branch probes go one step further (`install_probes`, before the target is
imported): each basic block gets its own `_fast_trace.Probe` constant and
the two bytecodes `LOAD_CONST probe; POP_JUMP_FORWARD_IF_FALSE +0` instead
of Atheris' seven (`PUSH_NULL; LOAD_CONST atheris; LOAD_ATTR _trace_branch;
LOAD_CONST index; PRECALL; CALL; POP_TOP`). The truth test bumps the same
counter through a C slot, with no call frame and no int to convert, and is
always true: the jump, to the very next instruction, is never taken. The
blocks and counters are Atheris' own: only the code that runs at each one
changes. Until the first call binds the tracer a probe calls
`atheris._trace_branch`, so coverage never depends on the binding. Measured
on the ops target under ASan (one corpus pass, both versions at once, one
per core): 3-5% less time than Atheris' sequence with a bound tracer; the
truth test instead of `+probe; POP_TOP`, 0.45% fewer instructions per input
(coverage build, callgrind).

The hook runs at the first input, not before: Atheris loads its core module
only inside `atheris.Fuzz()`. When the core cannot be found or lacks the
symbols (another Atheris release), Atheris' own functions stay in place and
the log says why; coverage is never lost, only speed. BLAZEFUZZ_FAST_TRACE=0
turns both off.

The argument conventions (a COMPARE_OP argument is the rich-comparison opid)
and the instrumentation hook (`Instrumentor._generate_trace_branch_invocation`)
are those of CPython 3.11, the project's Python, and Atheris 3.0; on another
CPython, or an Atheris without that hook, they stay off rather than guess.
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


def prepare(atheris, tracer_path: Path | None, log):
    """The build's tracer, loaded, with branch probes installed into Atheris'
    instrumentation; None (and the log says why) when fast tracing is off.
    Call it before the target is imported: probes go into code instrumented
    from then on."""
    if not enabled():
        log(f"INFO: blazefuzz harness: fast tracing off ({ENV}=0)\n")
        return None
    if sys.version_info[:2] != VERIFIED_PYTHON:
        log(f"INFO: blazefuzz harness: fast tracing off (verified on CPython "
            f"{'.'.join(map(str, VERIFIED_PYTHON))} only)\n")
        return None
    if tracer_path is None or not tracer_path.is_file():
        log("INFO: blazefuzz harness: fast tracing off (the build has no tracer; "
            "rebuild with `python -m fuzz.build`)\n")
        return None
    try:
        tracer = load_tracer(tracer_path)
    except ImportError as exc:
        log(f"INFO: blazefuzz harness: fast tracing off ({exc})\n")
        return None
    why_not = install_probes(atheris, tracer)
    if why_not:
        log(f"INFO: blazefuzz harness: no branch probes ({why_not}); "
            "Atheris' own branch calls\n")
    return tracer


def install_probes(atheris, tracer) -> str | None:
    """Make Atheris instrument each basic block with a probe (see above).
    Returns None, or why Atheris' own instrumentation stays."""
    bytecode = getattr(atheris, "instrument_bytecode", None)
    instrumentor = getattr(bytecode, "Instrumentor", None)
    generate = getattr(bytecode, "_generate_instruction", None)
    hooks = ("_generate_trace_branch_invocation", "trace_control_flow")
    missing = [name for name in hooks if instrumentor is None or not hasattr(instrumentor, name)]
    if generate is None or missing:
        return f"this Atheris has no Instrumentor.{(missing or hooks)[0]}"
    tracer.use_atheris(atheris)
    probe_type, reserve = tracer.Probe, atheris._reserve_counter

    def probe_invocation(self, copyfrom_instruction):
        # Each probe is a new constant: no search of co_consts, which
        # _get_const would do for every block.
        self.consts.append(probe_type(reserve()))
        const = len(self.consts) - 1
        # The jump targets the block's first instruction, which follows it. It
        # joins that instruction's referers only once the block's probe is in
        # place (see below): inserting the probe moves those referers onto it.
        jump = generate("POP_JUMP_FORWARD_IF_FALSE", copyfrom_instruction, copyfrom_instruction)
        self._probe_jumps.append(jump)
        return [generate("LOAD_CONST", const, copyfrom_instruction), jump]

    # Atheris' own, also when probes were installed before (tests install them again).
    atheris_trace_control_flow = getattr(instrumentor.trace_control_flow, "atheris_own",
                                         instrumentor.trace_control_flow)

    def trace_control_flow(self):
        self._probe_jumps = []
        atheris_trace_control_flow(self)
        # From now on the jumps follow their targets like any other referer: a
        # comparison's call inserted before one (trace_data_flow) takes them
        # along, so the jump still lands on the instruction after it.
        for jump in self._probe_jumps:
            jump.reference.referers.append(jump)
        del self._probe_jumps

    trace_control_flow.atheris_own = atheris_trace_control_flow
    instrumentor._generate_trace_branch_invocation = probe_invocation
    instrumentor.trace_control_flow = trace_control_flow
    return None


def wrap(fn, atheris, tracer, log):
    """`fn` with a first-call hook that binds `tracer` (from prepare(); None:
    `fn` itself) to the loaded Atheris core."""
    if tracer is None:
        return fn
    pending = True

    def first_call_installs_tracer(data):
        nonlocal pending
        if pending:
            pending = False
            try:
                core = bind(atheris, tracer)
            except (OSError, LookupError) as exc:
                log(f"INFO: blazefuzz harness: fast tracing off ({exc})\n")
            else:
                log(f"INFO: blazefuzz harness: fast tracing via atheris.{core}\n")
        return fn(data)

    return first_call_installs_tracer
