"""The data tables of crash analysis: frames to ignore and crash-type lines.

ClusterFuzz's stack analyzer is the model: what counts as "not the project"
and which lines start a crash report are data, not code, so that adding a
rule is one line here plus one test in tests/triage/test_parse.py (every
ignore rule has its own test case there).

Ignore rules
------------
A frame belongs to the project unless one rule matches it. A rule names one
field of the frame (`function`, `file` or `module`, see triage.parsing.model
.Frame), a regular expression searched in that field, optionally the
language (`python` or `native`) it applies to and a regex the function name
must match as well. Categories:

  harness      the fuzz harness and target entry points (test_one_input, the
               generated build/fuzz/<flavor>/bin/<target> script, fuzz/harness.py)
  oracle       fuzz/oracles.py: the helpers that raise OracleMismatch; the
               location of a logic bug is the target code that called them
  atheris      Atheris' Python and native code, its pybind11 glue
  interpreter  CPython: the ceval loop, call machinery, start-up, the binary
  python-lib   the standard library, frozen importlib, test runners
  sanitizer    the ASan/UBSan/LSan runtime and its interceptors (malloc, memcpy …)
  libfuzzer    libFuzzer's driver and callbacks
  libc         glibc, the dynamic loader, libstdc++/libgcc, C++ std::
  unknown      a frame with neither function, file nor module, or in `<unknown module>`

Driver rules
------------
DRIVER_RULES mark project frames of the fuzzing code (fuzz/**/*.py): they
stay in signatures, except a timeout's (see triage.signature).

Crash-type lines
----------------
CRASH_LINES maps a regular expression (searched in one line, at most
MAX_LINE_SCAN characters of it) to an anchor name; the parser
(triage.parsing.scan) collects anchors and picks the primary report by the
priority documented there. UBSAN_CHECKS classifies a UBSan `runtime error:`
message into the check name of -fsanitize=… (used as the crash type).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from triage.parsing.model import Frame

# A line longer than this is only searched in its first MAX_LINE_SCAN
# characters: bounds the cost of every regex below on hostile input.
MAX_LINE_SCAN = 4096


@dataclass(frozen=True)
class FrameRule:
    category: str
    field: str            # "function" | "file" | "module"
    pattern: str
    language: str | None = None   # None: both
    function: str | None = None   # also required: a regex the function must match

    @property
    def regex(self) -> re.Pattern[str]:
        return _compile(self.pattern)

    def matches(self, frame: Frame) -> bool:
        if self.language is not None and self.language != frame.language:
            return False
        value = getattr(frame, self.field)
        if value is None or not self.regex.search(value[:MAX_LINE_SCAN]):
            return False
        if self.function is not None:
            return frame.function is not None and _compile(self.function).search(frame.function) is not None
        return True


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_PY = "python"
_NATIVE = "native"

IGNORE_RULES: tuple[FrameRule, ...] = (
    # --- harness -----------------------------------------------------------
    FrameRule("harness", "function", r"^(test_one_input|TestOneInput|LLVMFuzzerTestOneInput)$"),
    FrameRule("harness", "file", r"(^|/)fuzz/(harness|run|runner|__main__|repro)\.py$", _PY),
    FrameRule("harness", "file", r"(^|/)fuzz/run/[^/]+\.py$", _PY),
    FrameRule("harness", "file", r"(^|/)build/fuzz/[^/]+/bin/[^/]+$", _PY),
    # a target module run as the script itself (`python fuzz/targets/x.py`)
    FrameRule("harness", "file", r"(^|/)fuzz/targets/[^/]+\.py$", _PY, function=r"^<module>$"),
    # --- oracle helpers ------------------------------------------------------
    FrameRule("oracle", "file", r"(^|/)fuzz/oracles(\.py|/[^/]+\.py)$", _PY),
    # --- atheris ------------------------------------------------------------
    FrameRule("atheris", "file", r"(^|/)atheris/", None),
    FrameRule("atheris", "function", r"^atheris::", _NATIVE),
    FrameRule("atheris", "function", r"pybind11::|^_ZN\w*pybind11", _NATIVE),
    FrameRule("atheris", "file", r"(^|/)pybind11/", _NATIVE),
    FrameRule("atheris", "module", r"(^|/)atheris/|(^|/)(native|core_with\w*|core_without\w*)\.cpython-[^/]*\.so$", _NATIVE),
    # --- CPython ------------------------------------------------------------
    FrameRule("interpreter", "file", r"(^|/)Python-3\.\d+(\.\d+)?\w*/", _NATIVE),
    FrameRule("interpreter", "file", r"^(\./)?(Python|Objects|Modules|Parser|Include)/", _NATIVE),
    FrameRule("interpreter", "module", r"(^|/)(lib)?python3(\.\d+)?[dmu]*(\.so(\.[\d.]+)?)?$", _NATIVE),
    FrameRule("interpreter", "function", r"^python3(\.\d+)?$", _NATIVE),
    FrameRule("interpreter", "function", r"^_?Py[A-Z_]\w*$|^_Py\w+$", _NATIVE),
    FrameRule("interpreter", "function",
              r"^(cfunction_(call|vectorcall\w*)|method_vectorcall\w*|vectorcall_\w+|slot_tp_\w+|"
              r"type_call|pymain_\w+|run_mod|run_eval_code_obj|pyrun_file|builtin_\w+|"
              r"object_vacall|_?function_code_fastcall|handle_system_exit)$", _NATIVE),
    # --- Python standard library and test runners ---------------------------
    FrameRule("python-lib", "file", r"^<frozen [^>]+>$", _PY),
    FrameRule("python-lib", "file", r"(^|/)lib/python3\.\d+/(?!site-packages/)", _PY),
    FrameRule("python-lib", "file", r"(^|/)site-packages/(hypothesis|_hypothesis_\w+|_pytest|pytest|pluggy)/", _PY),
    # --- sanitizer runtime --------------------------------------------------
    FrameRule("sanitizer", "function", r"^_*(asan|lsan|ubsan|msan|tsan|sanitizer|interceptor)_", _NATIVE),
    FrameRule("sanitizer", "function", r"^__(asan|lsan|ubsan|sanitizer|interception)::", _NATIVE),
    FrameRule("sanitizer", "function",
              r"^(malloc|calloc|realloc|reallocarray|free|cfree|posix_memalign|aligned_alloc|memalign|"
              r"valloc|pvalloc|operator new(\[\])?|operator delete(\[\])?|strdup|strndup|"
              r"mem(cpy|move|set|cmp|chr|mem)|bcmp|str(len|nlen|cmp|ncmp|casecmp|cpy|ncpy|cat|ncat|chr|rchr|str)|"
              r"wcslen|printf|sprintf|snprintf|vsnprintf|fread|fwrite|read|write|pread|pwrite)$", _NATIVE),
    FrameRule("sanitizer", "file", r"(^|/)compiler-rt/lib/(asan|lsan|ubsan|sanitizer_common|interception)/", _NATIVE),
    FrameRule("sanitizer", "module", r"(^|/)(libclang_rt\.\w+[-\w.]*\.so|\w*(asan|ubsan|lsan)\w*\.so)$", _NATIVE),
    # the runner's merged libFuzzer+sanitizer preload (fuzz/build.py)
    FrameRule("sanitizer", "module", r"(^|/)build/fuzz/[^/]+/preload\.so$", _NATIVE),
    FrameRule("sanitizer", "function", r"^operator (new|delete)(\[\])?\(", _NATIVE),
    # --- libFuzzer ------------------------------------------------------------
    FrameRule("libfuzzer", "function", r"^fuzzer::|^LLVMFuzzer\w+$", _NATIVE),
    FrameRule("libfuzzer", "file", r"(^|/)compiler-rt/lib/fuzzer/|(^|/)Fuzzer\w+\.cpp$", _NATIVE),
    # --- libc, loader, C++ runtime --------------------------------------------
    FrameRule("libc", "module",
              r"(^|/)(libc|libm|libdl|libpthread|librt|libutil|ld-linux[-\w]*|ld|libstdc\+\+|libgcc_s)"
              r"(-[\d.]+)?\.so(\.[\d.]+)?$", _NATIVE),
    FrameRule("libc", "function",
              r"^(_start|__libc_start_main|__libc_start_call_main|__GI_\w+|__pthread_kill\w*|pthread_kill|raise|"
              r"abort|__assert_fail\w*|__run_exit_handlers|exit|_exit|__restore_rt|__sigaction|clone3?|"
              r"start_thread|__cxa_\w+|__gxx_personality\w*|_Unwind_\w+)$", _NATIVE),
    FrameRule("libc", "file",
              r"^(\.\./)?(csu|stdlib|nptl|signal|sysdeps|string|malloc|libio|posix|misc|assert|elf|dlfcn)/", _NATIVE),
    FrameRule("libc", "function", r"^std::", _NATIVE),
    FrameRule("libc", "file", r"(^|/)include/c\+\+/\d+/", _NATIVE),
    # --- unsymbolized code of no known module (JIT, freed code, stripped) ---
    FrameRule("unknown", "module", r"^<unknown module>$", _NATIVE),
)


def ignore_rule(frame: Frame) -> FrameRule | None:
    """The first rule that marks `frame` as not the project's, else None."""
    return _ignore_rule(frame.function, frame.file, frame.module, frame.language)


@lru_cache(maxsize=8192)  # stacks repeat the same frames (CPython's, the runtime's) over and over
def _ignore_rule(function: str | None, file: str | None, module: str | None, language: str) -> FrameRule | None:
    if function is None and file is None and module is None:
        return _UNKNOWN
    frame = _Fields(function, file, module, language)
    for rule in IGNORE_RULES:
        if rule.matches(frame):
            return rule
    return None


@dataclass(frozen=True)
class _Fields:
    function: str | None
    file: str | None
    module: str | None
    language: str


_UNKNOWN = FrameRule("unknown", "function", r"^$")


def is_project_frame(frame: Frame) -> bool:
    return ignore_rule(frame) is None


def project_frames(frames: Iterable[Frame]) -> tuple[Frame, ...]:
    """`frames` without the ignored ones, order kept (innermost first)."""
    return tuple(f for f in frames if ignore_rule(f) is None)


# Project frames of the fuzzing code itself (target drivers, op replay, the
# reference model): kept in signatures, but a timeout's signature skips them
# (triage.signature) because every hang of a target passes through the same
# driver loop; the engine frames below it say which call hangs.
DRIVER_RULES: tuple[FrameRule, ...] = (
    FrameRule("driver", "file", r"(^|/)fuzz/([^/]+/)*[^/]+\.py$", _PY),
)


def is_driver_frame(frame: Frame) -> bool:
    return any(rule.matches(frame) for rule in DRIVER_RULES)


# --- crash-type lines ----------------------------------------------------------
# name -> regex searched in each line. Order does not matter; priority is the
# parser's (the order in triage/parsing/scan.py's docstring).
CRASH_LINES: dict[str, re.Pattern[str]] = {
    # ==1234==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x… at pc …
    "asan": re.compile(r"==\d+==\s*ERROR: AddressSanitizer: (?P<what>.*)"),
    # ==1234==ERROR: LeakSanitizer: detected memory leaks
    "lsan": re.compile(r"==\d+==\s*ERROR: LeakSanitizer: (?P<what>.*)"),
    # engine/csrc/store/pager.c:29:90: runtime error: signed integer overflow: …
    "ubsan": re.compile(r"^(?P<loc>\S*?)(?::(?P<line>\d+))?(?::(?P<col>\d+))?: runtime error: (?P<what>.*)"),
    # ==1234== ERROR: libFuzzer: deadly signal | timeout after 4 seconds | out-of-memory (…) | fuzz target exited
    "libfuzzer": re.compile(r"==\d+==\s*ERROR: libFuzzer: (?P<what>.*)"),
    # ALARM: working on the last Unit for 4 seconds
    "alarm": re.compile(r"^ALARM: working on the last Unit for (?P<secs>\d+) seconds"),
    #  === Timeout: 4s elapsed, timeout=2s ===      (Atheris, before its Python stack)
    "atheris-timeout": re.compile(r"^\s*=== Timeout: (?P<secs>\d+)s elapsed, timeout=(?P<limit>\d+)s ==="),
    #  === Uncaught Python exception: ===
    "atheris-exception": re.compile(r"^\s*=== Uncaught Python exception: ===\s*$"),
    # Traceback (most recent call last):
    "traceback": re.compile(r"^\s*Traceback \(most recent call last\):\s*$"),
    # Fatal Python error: Segmentation fault           (faulthandler)
    "python-fatal": re.compile(r"^Fatal Python error: (?P<what>.*)"),
    # Current thread 0x00007f… (most recent call first):   (faulthandler / Atheris timeout)
    "python-current-thread": re.compile(r"^Current thread (?:0x[0-9a-fA-F]+ )?\(most recent call first\):"),
    # Slowest unit: 1 s:
    "slow-unit": re.compile(r"^Slowest unit: (?P<secs>\d+) s:"),
    # artifact_prefix='./'; Test unit written to ./crash-<sha1>
    "artifact": re.compile(r"Test unit written to (?P<path>\S.*?)\s*$"),
    # SUMMARY: AddressSanitizer: heap-buffer-overflow /path/file.c:8:44 in func
    "summary": re.compile(r"^SUMMARY: (?P<tool>[\w ]+?): (?P<what>.*)"),
    # INFO: log from the inner process:      (-fork: the child's report follows)
    "fork-inner": re.compile(r"^INFO: log from the inner process:"),
}

# UBSan `runtime error:` message -> check name (the -fsanitize= spelling, or a
# descriptive one for checks that share a flag). First match wins.
UBSAN_CHECKS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(rx)) for name, rx in (
    ("signed-integer-overflow", r"^signed integer overflow|^negation of .* cannot be represented"),
    ("unsigned-integer-overflow", r"^unsigned integer overflow"),
    ("index-out-of-bounds", r"^index -?\d+ out of bounds"),
    ("null-pointer-use", r"(member access|member call|load|store|reference binding) (within|of|to) null pointer"),
    ("misaligned-pointer-use", r"misaligned address"),
    ("shift-exponent", r"^shift exponent"),
    ("shift-base", r"^left shift of"),
    ("integer-divide-by-zero", r"^(integer )?division by zero|^division of .* by -1"),
    ("float-divide-by-zero", r"^float(ing-point)? division by zero"),
    ("float-cast-overflow", r"outside the range of representable values"),
    ("invalid-bool-value", r"not a valid value for type '(_Bool|bool)'"),
    ("invalid-enum-value", r"not a valid value for type"),
    ("vla-bound", r"^variable length array bound"),
    ("missing-return", r"^execution reached the end of a value-returning function"),
    ("unreachable", r"^execution reached an unreachable program point"),
    ("nonnull-argument", r"null pointer passed as argument"),
    ("returns-nonnull", r"null pointer returned from function"),
    ("pointer-overflow", r"^(applying (non-)?zero offset|pointer index expression|addition of unsigned offset|subtraction of unsigned offset)"),
    ("function-type-mismatch", r"^call to function .* through pointer to incorrect function type"),
    ("implicit-conversion", r"^implicit conversion"),
    ("invalid-builtin-use", r"^passing zero to"),
    ("object-size", r"address .* with insufficient space"),
))
UBSAN_FALLBACK = "undefined-behavior"


def ubsan_check(message: str) -> str:
    for name, rx in UBSAN_CHECKS:
        if rx.search(message[:MAX_LINE_SCAN]):
            return name
    return UBSAN_FALLBACK


# ASan "signal" reports that are deadly signals rather than memory errors:
# ASan type -> crash type of kind "deadly-signal" (the same names libFuzzer's
# own deadly-signal handler gets, so one bug buckets once whichever caught it).
ASAN_SIGNALS: dict[str, str] = {
    "ABRT": "abort",
    "FPE": "floating-point-exception",
    "ILL": "illegal-instruction",
}

# Exception class names (unqualified) that are oracle failures, not crashes.
ORACLE_EXCEPTIONS: frozenset[str] = frozenset({"OracleMismatch"})
