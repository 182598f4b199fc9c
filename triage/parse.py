"""Public entry point of crash-output parsing (issue 5, step 2).

    from triage.parse import parse_report, CrashReport, Frame
    report = parse_report(text_or_bytes)     # never raises, bounded time

The formats understood, the choice of the primary report when a text holds
several, and the bounds on hostile input are documented in the modules of
triage/parsing/ (scan.py is the overview); the rule tables are in
triage/frames.py.
"""
from __future__ import annotations

from triage.parsing.model import KINDS, CrashReport, Frame
from triage.parsing.python import oracle_op
from triage.parsing.scan import parse_report

__all__ = ["KINDS", "CrashReport", "Frame", "oracle_op", "parse_report"]
