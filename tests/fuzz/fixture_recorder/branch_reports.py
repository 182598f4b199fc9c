"""Run by tests/fuzz/test_fast_trace.py in a process of its own (binding the
tracer is process-wide): binds the tracer to the recorder standing in for an
Atheris core, bumps counters through trace_branch and a probe, binds it to a
second copy of the recorder and bumps the probe there, and prints as JSON
what each copy's branch function logged and its counters hold.

argv: the recorder .so, the tracer .so."""
import ctypes
import json
import shutil
import sys
from pathlib import Path

from fuzz import fast_trace


def load(path):
    lib = ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    lib.recorded.restype = lib.counter_values.restype = ctypes.c_char_p
    return lib


first = Path(sys.argv[1])
second = first.with_name("second-" + first.name)
shutil.copy(first, second)                   # another file: loaded as a library of its own
recorders = [load(first), load(second)]
tracer = fast_trace.load_tracer(Path(sys.argv[2]))
tracer.bind(str(first))
for index in (3, 11, 0, 7):
    tracer.trace_branch(index)
probe = tracer.Probe(5)
assert bool(probe) is True and bool(probe) is True     # the second through the counter it keeps
tracer.bind(str(second))                                # a new binding: found again, in the second
assert bool(probe) is True
print(json.dumps([{"logged": r.recorded().decode(), "counters": r.counter_values().decode()}
                  for r in recorders]))
