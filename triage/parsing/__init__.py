"""Crash-output parsing, one module per format; the entry point is triage.parse.

  model.py       Frame and CrashReport (the parse result)
  text.py        bytes -> bounded, ANSI-free text and lines
  stacks.py      one frame line (native `#N 0x… in f file:l:c`, Python `File "…", line N, in f`)
                 and whole stacks (sanitizer stacks, tracebacks, faulthandler dumps)
  sanitizers.py  ASan, LSan and UBSan reports
  libfuzzer.py   libFuzzer's own findings: timeout, OOM, deadly signal, slow unit
  python.py      uncaught Python exceptions (Atheris' form and plain) and OracleMismatch
  scan.py        finds every report in a text and picks the primary one
"""
