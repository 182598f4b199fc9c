"""Run by tests/fuzz/test_fast_trace.py in a process of its own (binding the
tracer is process-wide): binds the tracer to the recorder standing in for an
Atheris core, bumps counters through trace_branch and a probe, and prints
as JSON what the core's branch function logged and its counters hold.

argv: the recorder .so, the tracer .so."""
import ctypes
import json
import sys
from pathlib import Path

from fuzz import fast_trace

recorder = ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)
recorder.recorded.restype = recorder.counter_values.restype = ctypes.c_char_p
tracer = fast_trace.load_tracer(Path(sys.argv[2]))
tracer.bind(sys.argv[1])
for index in (3, 11, 0, 7):
    tracer.trace_branch(index)
probe = tracer.Probe(5)
assert bool(probe) is True
print(json.dumps({"logged": recorder.recorded().decode(), "counters": recorder.counter_values().decode()}))
