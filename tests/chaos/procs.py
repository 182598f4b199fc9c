"""Starting and reading the chaos writer process (tests/chaos/proc_writer.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_writer(path, seed: int, txns: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.chaos.proc_writer", str(path), str(seed), str(txns), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def read_line(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=30)
        raise AssertionError(f"writer exited ({proc.returncode}) early: {proc.stderr.read()[-2000:]}")
    return line.strip()


def last_committed(lines: list[str]) -> int:
    done = [int(line.split()[1]) for line in lines if line.startswith("committed ")]
    return max(done, default=0)
