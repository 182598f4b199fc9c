"""`blazefuzz bench triage`: artifacts per second through triage.

Three figures, measured in one run on the same synthetic artifacts (N files
of K distinct bugs, each with a sidecar holding a libFuzzer/Atheris-style
report, different line numbers and addresses per file):

- baseline: parse + sign in memory (no store, no files);
- ingest without reproduction: parse + dedup + store (+ moving the file);
- ingest with reproduction: the same plus `--repro-count` subprocess runs per
  artifact. The default reproduction command is a stub that prints the
  artifact's report (`python -m triage.bench --stub-repro FILE`): it measures
  triage's own cost; pass `--repro-cmd` to time a real runner.

Ratios are against the baseline. The store is a fresh SQLite file unless
`--store URL` names another (its tables get the benchmark's rows).
"""
from __future__ import annotations

import json
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

import click

STUB_REPRO = (sys.executable, "-m", "triage.bench", "--stub-repro", "{file}")
BUGS = [("KeyError", ["engine/query.py:evaluate", "engine/collection.py:find"]),
        ("ValueError", ["engine/types.py:validate", "engine/codec.py:encode"]),
        ("fuzz.oracles.OracleMismatch", ["fuzz/oracles.py:check", "engine/db.py:fetch_all"]),
        ("engine.errors.TransactionError", ["engine/txn.py:begin", "engine/db.py:transaction"]),
        ("AssertionError", ["engine/btree.py:split", "engine/btree.py:insert"]),
        ("TypeError", ["engine/query.py:compare", "engine/query.py:sort"]),
        ("IndexError", ["engine/pager.py:read", "engine/btree.py:search"]),
        ("ZeroDivisionError", ["engine/aggregate.py:avg", "engine/query.py:aggregate"])]


def synthetic_report(bug: int, variant: int) -> str:
    """An Atheris-style uncaught-exception report for bug `bug`; `variant` moves lines only."""
    exc, frames = BUGS[bug % len(BUGS)]
    name = f"{frames[0].split(':')[1]}_{bug}"  # distinct innermost function per bug
    lines = ["", " === Uncaught Python exception: ===", f"{exc}: bug {bug}",
             "Traceback (most recent call last):",
             f'  File "/src/fuzz/targets/ops.py", line {30 + variant}, in test_one_input']
    for depth, frame in enumerate(reversed(frames + [f"engine/bench_{bug}.py:{name}"])):
        file, function = frame.split(":")
        lines.append(f'  File "/src/{file}", line {50 + depth * 9 + variant}, in {function}')
    lines += [f"{exc}: bug {bug}", "", "==7== ERROR: libFuzzer: fuzz target exited",
              "SUMMARY: libFuzzer: fuzz target exited"]
    return "\n".join(lines) + "\n"


def write_artifacts(directory: Path, count: int, bugs: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        bug = i % bugs
        data = f"bench bug={bug} variant={i} ".encode() * 4
        path = directory / f"crash-{i:06d}"
        path.write_bytes(data)
        Path(str(path) + ".json").write_text(json.dumps(
            {"target": "ops", "kind": "crash", "report": synthetic_report(bug, i)}))
        paths.append(path)
    return paths


def stub_repro(file: str) -> int:
    match = re.search(rb"bug=(\d+) variant=(\d+)", Path(file).read_bytes())
    if not match:
        return 0
    sys.stderr.write(synthetic_report(int(match.group(1)), int(match.group(2))))
    return 1


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


@click.command("triage")
@click.option("--artifacts", "count", type=click.IntRange(1), default=300, show_default=True)
@click.option("--bugs", type=click.IntRange(1, len(BUGS)), default=8, show_default=True)
@click.option("--repro-artifacts", type=click.IntRange(0), default=30, show_default=True,
              help="How many artifacts the with-reproduction pass ingests (0: skip it).")
@click.option("--repro-count", type=click.IntRange(1), default=3, show_default=True)
@click.option("--repro-cmd", help="Reproduction command template (default: the stub).")
@click.option("--store", "store_url", help="Store URL (default: a fresh SQLite file).")
def bench_triage(count, bugs, repro_artifacts, repro_count, repro_cmd, store_url):
    """Artifacts per second: parse + dedup + store, without and with reproduction."""
    from rich.console import Console
    from rich.table import Table

    from triage.ingest import Ingester
    from triage.reproduce import Reproducer, analyze
    from triage.store import open_store

    console = Console(highlight=False)
    with tempfile.TemporaryDirectory(prefix="blazefuzz-bench-") as tmp:
        root = Path(tmp)
        texts = [synthetic_report(i % bugs, i) for i in range(count)]
        started = time.perf_counter()
        digests = {analyze(text).digest for text in texts}
        baseline = _rate(count, time.perf_counter() - started)
        if len(digests) != bugs:
            raise click.ClickException(f"signatures found {len(digests)} bugs, expected {bugs}")

        rows = [("parse + sign (baseline, in memory)", count, baseline)]
        with open_store(store_url or f"sqlite:///{root / 'store' / 'triage.sqlite'}",
                        home=root / "home") as store:  # testcase files stay in the temp dir
            paths = write_artifacts(root / "crashes" / "ops", count, bugs)
            ingester = Ingester(store)
            started = time.perf_counter()
            outcomes = [ingester.ingest(path).outcome for path in paths]
            rows.append(("parse + dedup + store", count,
                         _rate(count, time.perf_counter() - started)))
            if outcomes.count("new-bucket") != bugs:
                raise click.ClickException(f"{outcomes.count('new-bucket')} buckets, expected {bugs}")
            if repro_artifacts:
                paths = write_artifacts(root / "crashes2" / "ops", repro_artifacts, bugs)
                for path in paths:  # new content, so it is not deduplicated away
                    path.write_bytes(path.read_bytes() + b"repro")
                reproducer = Reproducer(repro_cmd or STUB_REPRO, build="coverage")
                ingester = Ingester(store, reproducer, repro_count=repro_count)
                started = time.perf_counter()
                for path in paths:
                    ingester.ingest(path)
                rows.append((f"... + reproduce x{repro_count}", repro_artifacts,
                             _rate(repro_artifacts, time.perf_counter() - started)))
            shown_url = store.display_url
    table = Table(title=f"triage throughput ({bugs} bugs, store {shown_url})")
    for column in ("pass", "artifacts", "artifacts/s", "vs baseline"):
        table.add_column(column, justify="right" if column != "pass" else "left")
    for name, n, rate in rows:
        table.add_row(name, str(n), f"{rate:,.1f}", f"{rate / baseline:.4f}x")
    console.print(table)
    if not repro_cmd and repro_artifacts:
        console.print("reproduction used the stub runner "
                      f"({shlex.join(STUB_REPRO[1:4])}); --repro-cmd times a real one")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--stub-repro":
        sys.exit(stub_repro(sys.argv[2]))
    bench_triage()
