"""Shrinking a reproducer while keeping its signature.

Two stages, each step checked by re-running the candidate through the
Reproducer and comparing its signature digest with the bucket's:

1. bytes: libFuzzer's `-minimize_crash` through the runner, within a time
   budget (command template `byte_command`, see DEFAULT_BYTE_COMMAND). It
   stalls on length-prefixed formats (NATIVE_FUZZING.md), hence stage 2;
2. ops: delta debugging (Zeller's ddmin) on the decoded op list, using the
   target module's `decode_input` / `encode_input` (CONTRACTS.md §4).
   Targets without them skip this stage.

The result is 1-minimal with respect to ops when the budget (time and number
of checks) allows; otherwise the smallest case found so far. It is stored
beside the original: the row's `minimized_*` columns and the file
`testcases/ab/<sha256>.min`.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

from triage.reproduce import Reproducer

TARGET_PACKAGE_ENV = "BLAZEFUZZ_TARGET_PACKAGE"
DEFAULT_TARGET_PACKAGE = "fuzz.targets"
# The runner passes flags after `--` to libFuzzer together with the --repro input.
DEFAULT_BYTE_COMMAND = ("{python}", "-m", "fuzz.run", "--target", "{target}", "--repro", "{file}",
                        "--", "-minimize_crash=1", "-max_total_time={seconds}",
                        "-exact_artifact_path={out}")


def load_target(target: str, package: str | None = None):
    """The target module fuzz/targets/<target>.py (package overridable for tests)."""
    package = package or os.environ.get(TARGET_PACKAGE_ENV) or DEFAULT_TARGET_PACKAGE
    return importlib.import_module(f"{package}.{target}")


def ddmin(items: list, still_fails: Callable[[list], bool],
          out_of_budget: Callable[[], bool] = lambda: False) -> list:
    """Zeller's delta debugging: a 1-minimal sublist on which still_fails holds.

    `still_fails(items)` is assumed true for the input."""
    granularity = 2
    while len(items) >= 2 and not out_of_budget():
        chunk = -(-len(items) // granularity)
        subsets = [items[i:i + chunk] for i in range(0, len(items), chunk)]
        reduced = False
        for subset in subsets:
            if out_of_budget():
                return items
            if still_fails(subset):
                items, granularity, reduced = subset, 2, True
                break
        if not reduced and len(subsets) > 2:
            for index in range(len(subsets)):
                if out_of_budget():
                    return items
                complement = [x for j, s in enumerate(subsets) if j != index for x in s]
                if still_fails(complement):
                    items, granularity, reduced = complement, max(granularity - 1, 2), True
                    break
        if not reduced:
            if granularity >= len(items):
                break
            granularity = min(len(items), granularity * 2)
    if len(items) == 1 and not out_of_budget() and still_fails([]):
        return []
    return items


@dataclass
class MinimizeResult:
    data: bytes
    original_size: int
    original_ops: int | None = None
    minimized_ops: int | None = None
    checks: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.data)


class Minimizer:
    def __init__(self, reproducer: Reproducer, *, budget_seconds: float = 120.0,
                 max_checks: int = 400, byte_command: Sequence[str] | str | None = None,
                 byte_budget_seconds: float = 30.0, target_package: str | None = None):
        self.reproducer = reproducer
        self.budget_seconds = budget_seconds
        self.max_checks = max_checks
        if isinstance(byte_command, str):
            byte_command = shlex.split(byte_command)
        self.byte_command = tuple(byte_command) if byte_command else None
        self.byte_budget_seconds = byte_budget_seconds
        self.target_package = target_package
        # The daemon's stop flag: a stopping daemon keeps the best case found so far.
        self.should_stop: Callable[[], bool] = lambda: False

    def minimize(self, target: str, data: bytes, digest: str,
                 found_with: str | None = None) -> MinimizeResult:
        result = MinimizeResult(data=data, original_size=len(data))
        deadline = time.monotonic() + self.budget_seconds
        cache: dict[bytes, bool] = {}

        def keeps_signature(candidate: bytes) -> bool:
            key = hashlib.sha1(candidate).digest()
            if key not in cache:
                result.checks += 1
                with tempfile.TemporaryDirectory(prefix="blazefuzz-min-") as tmp:
                    file = Path(tmp) / "candidate"
                    file.write_bytes(candidate)
                    cache[key] = self.reproducer.run_once(target, file, found_with).digest == digest
            return cache[key]

        def out_of_budget() -> bool:
            return (time.monotonic() > deadline or result.checks >= self.max_checks
                    or self.should_stop())

        if self.byte_command:
            self._minimize_bytes(target, result, keeps_signature,
                                 self.reproducer.effective_build(found_with))
        self._minimize_ops(target, result, keeps_signature, out_of_budget)
        return result

    def _minimize_bytes(self, target: str, result: MinimizeResult,
                        keeps_signature: Callable[[bytes], bool], build: str | None) -> None:
        seconds = max(1, int(self.byte_budget_seconds))
        with tempfile.TemporaryDirectory(prefix="blazefuzz-min-") as tmp:
            file, out = Path(tmp) / "input", Path(tmp) / "minimized"
            file.write_bytes(result.data)
            values = {"python": sys.executable, "target": target, "file": str(file),
                      "out": str(out), "seconds": str(seconds)}
            argv = [part.format(**values) for part in self.byte_command]
            if build and self.byte_command == DEFAULT_BYTE_COMMAND:
                argv[argv.index("--"):argv.index("--")] = ["--build", build]
            limits = replace(self.reproducer.limits, wall_seconds=seconds + 60)
            run = Reproducer(argv, limits=limits, asan=self.reproducer.is_asan(build)
                             ).run_once(target, file)
            if not out.exists():
                result.notes.append(f"byte stage: no output (exit {run.exit_code})")
                return
            candidate = out.read_bytes()
        if len(candidate) < len(result.data) and keeps_signature(candidate):
            result.notes.append(f"byte stage: {len(result.data)} -> {len(candidate)} bytes")
            result.data = candidate
        else:
            result.notes.append("byte stage: nothing smaller that keeps the signature")

    def _minimize_ops(self, target: str, result: MinimizeResult,
                      keeps_signature: Callable[[bytes], bool],
                      out_of_budget: Callable[[], bool]) -> None:
        try:
            module = load_target(target, self.target_package)
            decode, encode = module.decode_input, module.encode_input
        except (ImportError, AttributeError) as exc:
            result.notes.append(f"op stage skipped: target {target!r} has no decode_input/"
                                f"encode_input ({exc})")
            return
        try:
            ops = list(decode(result.data))
            canonical = encode(ops)
        except Exception as exc:  # a codec not of the CONTRACTS.md §4 shape
            result.notes.append(f"op stage skipped: encode_input(decode_input(data)) failed "
                                f"({type(exc).__name__}: {exc})")
            return
        result.original_ops = len(ops)
        result.minimized_ops = len(ops)
        if canonical != result.data and not keeps_signature(canonical):
            result.notes.append("op stage skipped: the re-encoded ops lose the signature")
            return
        smallest = ddmin(ops, lambda candidate: keeps_signature(encode(candidate)), out_of_budget)
        data = encode(smallest)
        if len(smallest) < len(ops) or len(data) < len(result.data):
            result.data = data
            result.minimized_ops = len(smallest)
        result.notes.append(f"op stage: {len(ops)} -> {result.minimized_ops} ops"
                            + (" (budget exhausted)" if out_of_budget() else ""))


def minimize_testcase(store, testcase_id: int, minimizer: Minimizer) -> MinimizeResult:
    """Minimize one stored testcase against its bucket's signature and store the result."""
    from sqlalchemy import select
    from sqlalchemy.orm import undefer

    from triage.ingest import ensure_file
    from triage.models import Bucket, HistoryEvent, Testcase, utcnow
    from triage.store import actor

    def load(session):
        testcase = session.scalars(select(Testcase).options(undefer(Testcase.data))
                                   .where(Testcase.id == testcase_id)).one()
        digest = session.scalars(select(Bucket.signature_digest)
                                 .where(Bucket.id == testcase.bucket_id)).one()
        return testcase, digest
    testcase, digest = store.read(load, what="load a testcase")
    result = minimizer.minimize(testcase.target, testcase.data, digest, testcase.build_flavor)
    ensure_file(store, testcase.sha256, result.data, ".min")

    def save(session):
        row = session.get(Testcase, testcase_id)
        row.minimized_data = result.data
        row.minimized_size = result.size
        row.original_ops = result.original_ops
        row.minimized_ops = result.minimized_ops
        row.minimized_at = utcnow()
        ops = (f", {result.original_ops} -> {result.minimized_ops} ops"
               if result.original_ops is not None else "")
        session.add(HistoryEvent(bucket_id=row.bucket_id, testcase_id=testcase_id,
                                 event="minimized", actor=actor(),
                                 detail=f"{result.original_size} -> {result.size} bytes{ops} "
                                        f"in {result.checks} checks; " + "; ".join(result.notes)))
    store.write(save, what="store a minimized testcase")
    return result
