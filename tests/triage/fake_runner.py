#!/usr/bin/env python3
"""A stand-in for `python -m fuzz.run --target T --repro FILE` in triage tests.

Report mode (default): the input names a bug (`bug=N;variant=V;...`, as
tests/triage/reports.write_artifact writes); print that bug's report and exit 1.
  - FAKE_RUNNER_FIXED=1,3   bugs listed there no longer crash (exit 0);
  - an input containing `flaky` crashes only on every third run (counter in
    FAKE_RUNNER_STATE, a directory);
  - an input containing `unavailable` exits 2 (cannot reproduce here).
Target mode (`--package P`): import P.<target>, run test_one_input on the input,
print an uncaught exception the way Atheris does and exit 1.
"""
import argparse
import hashlib
import os
import re
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent)]


def report_mode(data: bytes) -> int:
    import reports
    if b"unavailable" in data:
        print("fuzz.run: unknown target", file=sys.stderr)
        return 2
    match = re.search(rb"bug=(\d+);variant=(\d+);", data)
    if not match:
        return 0
    bug, variant = int(match.group(1)), int(match.group(2))
    fixed = {int(x) for x in os.environ.get("FAKE_RUNNER_FIXED", "").split(",") if x}
    if bug in fixed:
        return 0
    if b"flaky" in data:
        state = Path(os.environ["FAKE_RUNNER_STATE"]) / hashlib.sha1(data).hexdigest()
        count = int(state.read_text()) if state.exists() else 0
        state.write_text(str(count + 1))
        if count % 3:
            return 0
    sys.stderr.write(reports.report(bug, variant + 17))  # other lines/addresses: same bug
    return 1


def target_mode(package: str, target: str, data: bytes) -> int:
    import importlib
    module = importlib.import_module(f"{package}.{target}")
    try:
        module.test_one_input(data)
    except Exception as exc:
        sys.stderr.write("\n === Uncaught Python exception: ===\n")
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        sys.stderr.write("".join(traceback.format_exception(exc)))
        sys.stderr.write("==1== ERROR: libFuzzer: fuzz target exited\n")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--repro", required=True)
    parser.add_argument("--package")
    args = parser.parse_args()
    data = Path(args.repro).read_bytes()
    if args.package:
        return target_mode(args.package, args.target, data)
    return report_mode(data)


if __name__ == "__main__":
    sys.exit(main())
