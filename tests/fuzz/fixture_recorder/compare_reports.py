"""Run by tests/fuzz/test_fast_trace.py in a process of its own (binding the
tracer is process-wide): prints, as JSON, what Atheris' TraceCompareOp and
fuzz._fast_trace's trace_cmp report and return for each comparison.

argv: the recorder .so, the tracer .so."""
import ctypes
import json
import operator
import sys
import sysconfig
from pathlib import Path

import atheris

from fuzz import fast_trace

COMPARE_SYMBOL = "_ZN7atheris14TraceCompareOpEPvP7_objectS2_ib"   # atheris::TraceCompareOp
OPS = (operator.lt, operator.le, operator.eq, operator.ne, operator.gt, operator.ge)
CASES = [   # left, right, opid (Py_LT..Py_GE), pc (the counter index), left_is_const
    (5, 7, 0, 1, False), (0x5EED, 3, 2, 2, True), (-1, 2, 4, 3, False), (2**70, 1, 2, 4, False),
    (True, 1, 2, 5, False), (3, 3, 1, 6, False),
    (b"abc", b"abd", 2, 7, False), (b"ab", b"abc", 3, 8, False), (b"same", b"same", 2, 9, True),
    ("key", "kez", 2, 10, False), ("name", "name", 2, 11, True), ("ab", "abc", 0, 12, False),
    ("é", "ab", 2, 13, False), ("Blazé", "Blazë", 3, 14, False), ("\ud800", "abc", 2, 15, False),
    ("a\U0001F600", "a\U0001F601", 5, 16, False),
    ("1", 1, 2, 17, False), ("1", 1, 0, 21, False), (1.5, 1, 4, 18, False), (None, None, 2, 19, False), ((1,), (1,), 2, 20, False),
]


def outcome(call, case):
    left, right, opid, pc, is_const = case
    recorder.reset()
    try:
        result = repr(call(left, right, opid, pc, is_const))
    except Exception as exc:  # noqa: BLE001 (an outcome to compare)
        result = type(exc).__name__
    return {"result": result, "reported": ctypes.string_at(recorder.recorded()).decode()}


recorder = ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)
recorder.recorded.restype = ctypes.c_void_p
core_path = Path(atheris.__file__).parent / f"core_without_libfuzzer{sysconfig.get_config_var('EXT_SUFFIX')}"
core = ctypes.PyDLL(str(core_path))          # keeps the GIL: the function takes Python objects
atheris_compare = getattr(core, COMPARE_SYMBOL)
atheris_compare.restype = ctypes.py_object
atheris_compare.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.py_object, ctypes.c_int, ctypes.c_bool]
tracer = fast_trace.load_tracer(Path(sys.argv[2]))
tracer.bind(str(core_path))
print(json.dumps([{
    "case": repr(case[:3]),
    "python": outcome(lambda left, right, opid, pc, c: OPS[opid](left, right), case),
    "atheris": outcome(lambda left, right, opid, pc, c: atheris_compare(pc, left, right, opid, c), case),
    "tracer": outcome(tracer.trace_cmp, case),
} for case in CASES]))
