"""A writer process for the chaos tests, driven over stdout.

    python -m tests.chaos.proc_writer PATH SEED TXNS [--checkpoint-each] [--fsize BYTES]
        [--lock-timeout S] [--hold S]

Applies make_workload(SEED, TXNS) to the database at PATH, printing
`committed K` after the commit of transaction K returned, and around each
explicit checkpoint `checkpoint-begin K` / `checkpoint-end K`. With --fsize it
first sets RLIMIT_FSIZE (SIGXFSZ ignored, so writes fail with EFBIG) and
prints `error CLASS` when the engine reports the limit. With --hold it keeps
the database open that many seconds after the workload (for lock tests).
"""
from __future__ import annotations

import argparse
import resource
import signal
import sys
import time

from engine import BlazeDB, BlazeError

from .workload import apply_txn, make_workload


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("seed", type=int)
    parser.add_argument("txns", type=int)
    parser.add_argument("--checkpoint-each", action="store_true")
    parser.add_argument("--fsize", type=int)
    parser.add_argument("--lock-timeout", type=float, default=0.0)
    parser.add_argument("--hold", type=float, default=0.0)
    parser.add_argument("--ops-per-txn", type=int, default=6)
    args = parser.parse_args()

    workload = make_workload(args.seed, args.txns, args.ops_per_txn)
    try:
        db = BlazeDB(args.path, lock_timeout=args.lock_timeout,
                     **({"checkpoint_pages": 8} if args.checkpoint_each else {}))
    except BlazeError as error:
        say(f"error {type(error).__name__} {error}")
        return 3
    say("opened")
    if args.fsize:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize, args.fsize))
    for k, txn in enumerate(workload, start=1):
        try:
            apply_txn(db, txn)
        except BlazeError as error:
            say(f"error {type(error).__name__} {error}")
            return 4
        say(f"committed {k}")
        if args.checkpoint_each:
            say(f"checkpoint-begin {k}")
            db.checkpoint()
            say(f"checkpoint-end {k}")
    time.sleep(args.hold)
    db.close()
    say("closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
