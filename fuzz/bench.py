"""`blazefuzz bench fuzz`: throughput and coverage per target, ASan build vs coverage-only.

Each (target, build) pair fuzzes for --seconds from a fresh copy of the
committed seeds (so runs compare like with like and the working corpus is
left alone), then reports exec/s (libFuzzer's own average), coverage (cov
edges, ft features) and corpus size reached. The ratio column is ASan over
coverage-only: what the sanitizers cost. Goals (issue 4, one core):
ops >= 2,000 exec/s and codec >= 20,000 exec/s under ASan.

For targets with decode_input (ops, crash, ...) the mean number of ops per
input of the corpus reached is shown: exec/s of op streams depends on it. The
ops goal is stated for streams of about 16 ops, so ops runs with
-max_len=128 (DESIGN_MAX_LEN: mutated streams average 6-8 bytes per op; 128
bytes gave a corpus of 17 ops per input in 45 s here); without a cap libFuzzer
grows ops inputs to about 28 ops. `--max-len` overrides it for every target
(0: libFuzzer's default).

Machine speed moves every figure (this machine has run the same build at
half the speed on another day), so each row also carries a baseline measured
in the same run: `pipeline/s` replays the corpus that row reached in this
process, on the normal build, uninstrumented and without libFuzzer: the
ceiling for such inputs on this machine today. `of pipeline` is exec/s over
it, what instrumentation and fuzzing cost, which compares across days and
machines. It can pass 1 for a cheap target: a corpus keeps the inputs that
reached new code, which run longer than the average mutant libFuzzer runs.

A crash ends that pair's run early; its artifact goes to crashes/<T>/ as usual
(a finding is never thrown away) and the row says so.
"""
from __future__ import annotations

import contextlib
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

import click

from fuzz import run as frun
from fuzz.harness import tune_gc

GOALS = {"ops": 2000, "codec": 20000}      # exec/s under ASan
DESIGN_MAX_LEN = {"ops": 128}              # bytes: streams of about 16 ops
FLAVORS = ("asan", "coverage")


class QuietDisplay(frun.Display):
    """Swallows the fuzzer's output: a benchmark prints only its table."""

    def __init__(self, target: str, flavor: str):
        super().__init__(target, flavor, live=False)

    def line(self, text: str) -> None:
        pass

    def status(self, agg, crashes, raw, force=False) -> None:
        pass


def ops_per_input(target: str, corpus: Path, limit: int = 500) -> float | None:
    """Mean op count of the corpus' inputs, for targets with decode_input (CONTRACTS.md §4)."""
    try:
        files = sorted(p for p in corpus.iterdir() if p.is_file())[:limit]
        inputs = [p.read_bytes() for p in files]
    except OSError:  # a figure we can do without
        return None
    return mean_ops(target, inputs)


def mean_ops(target: str, inputs: list[bytes]) -> float | None:
    """Mean op count of `inputs`, for targets with decode_input; None for others.

    Imports the target here (normal build): a benchmark without it still prints the rest."""
    try:
        from fuzz import targets

        decode = getattr(targets.get(target), "decode_input", None)
        if decode is None:
            return None
        counts = [len(decode(data)) for data in inputs]
    except Exception:  # noqa: BLE001 (a figure we can do without)
        return None
    return round(sum(counts) / len(counts), 1) if counts else None


PIPELINE_SECONDS = 5.0


def pipeline_rate(target: str, corpus: Path, seconds: float = PIPELINE_SECONDS) -> float | None:
    """Inputs per second of `corpus` through the target's test_one_input in this
    process (normal build, no instrumentation), over about `seconds` after one
    warm-up pass. An input that raises still counts: it did its work."""
    try:
        from fuzz.harness import load_target

        run = load_target(target)
        datas = [p.read_bytes() for p in sorted(corpus.iterdir()) if p.is_file()]
    except Exception:  # noqa: BLE001 (a figure we can do without)
        return None
    if not datas:
        return None

    def one_pass(deadline=None) -> int:
        done = 0
        for data in datas:
            try:
                run(data)
            except Exception:  # noqa: BLE001, S110 (counted like any other input)
                pass
            done += 1
            if deadline is not None and time.perf_counter() > deadline:
                break
        return done

    with fuzzing_gc():
        one_pass()
        start = time.perf_counter()
        deadline = start + seconds
        done = 0
        while time.perf_counter() < deadline:
            done += one_pass(deadline)
        elapsed = time.perf_counter() - start
    return round(done / elapsed, 1)


@contextlib.contextmanager
def fuzzing_gc():
    """The collector as the harness tunes it (tune_gc), undone after: with the
    defaults, this process' own objects made the baseline slower than fuzzing."""
    old = gc.get_threshold()
    tune_gc()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*old)


def max_len_for(target: str, override: int | None) -> int | None:
    chosen = DESIGN_MAX_LEN.get(target) if override is None else override
    return chosen or None


def measure(target: str, flavor: str, seconds: int, workdir: Path, max_len: int | None = None) -> dict:
    cfg = frun.RunConfig(target=target, flavor=flavor, max_time=seconds, live=False,
                         corpus=workdir / f"{target}-{flavor}" / "corpus",
                         stats=workdir / f"{target}-{flavor}" / "stats.jsonl",
                         extra=[f"-max_len={max_len}"] if max_len else [])
    result = frun.fuzz(cfg, display=QuietDisplay(target, flavor))
    last = result.last or {}
    execs = result.final.get("number_of_executed_units", last.get("execs", 0))
    rate = result.exec_per_sec
    return {"target": target, "build": flavor, "exec_per_sec": rate, "execs": execs, "max_len": max_len,
            "cov": last.get("cov"), "ft": last.get("ft"), "corpus_units": last.get("corpus_units"),
            "corpus_bytes": last.get("corpus_bytes"), "exit_code": result.exit_code,
            "findings": [str(p) for p in result.findings],
            "ops_per_input": ops_per_input(target, cfg.corpus_dir()) if "." not in target else None,
            "pipeline_per_sec": pipeline_rate(target, cfg.corpus_dir()),
            "note": ("stopped by a finding" if result.findings else
                     result.message if result.exit_code == 2 else "")}


def _ratio(a, b) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def render(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="blazefuzz bench fuzz")
    for col in ("target", "build", "exec/s", "cov", "ft", "corpus", "max_len", "ops/input", "execs",
                "asan/cov exec/s", "pipeline/s", "of pipeline", "goal", "note"):
        table.add_column(col, justify="left" if col in ("target", "build", "note", "goal") else "right")
    by_key = {(r["target"], r["build"]): r for r in rows}
    for r in rows:
        other = by_key.get((r["target"], "coverage"))
        ratio = _ratio(r["exec_per_sec"], other and other["exec_per_sec"]) if r["build"] == "asan" else ""
        goal = GOALS.get(r["target"])
        verdict = "" if r["build"] != "asan" or goal is None else (
            f">= {goal:,}: {'met' if r['exec_per_sec'] >= goal else 'NOT met'}")
        table.add_row(r["target"], r["build"], f"{r['exec_per_sec']:,}", str(r["cov"] or "-"),
                      str(r["ft"] or "-"), f"{r['corpus_units'] or 0}/{(r['corpus_bytes'] or 0) / 1024:.1f}KB",
                      str(r.get("max_len") or "-"),
                      "-" if r.get("ops_per_input") is None else str(r["ops_per_input"]),
                      f"{r['execs']:,}", ratio,
                      "-" if r.get("pipeline_per_sec") is None else f"{r['pipeline_per_sec']:,.0f}",
                      _ratio(r["exec_per_sec"], r.get("pipeline_per_sec")), verdict, r["note"])
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(table)


@click.command("fuzz")
@click.option("--seconds", type=click.IntRange(min=1), default=30, show_default=True,
              help="Fuzzing time per target and build.")
@click.option("--targets", help="Comma-separated targets [default: every registered target].")
@click.option("--builds", default=",".join(FLAVORS), show_default=True,
              help="Comma-separated builds to compare (asan, coverage, planted).")
@click.option("--max-len", type=click.IntRange(min=0),
              help="libFuzzer -max_len for every target [default: 128 for ops (about 16 ops per "
                   "stream, the goal's design point), libFuzzer's own for the others]; 0: libFuzzer's.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the figures as JSON.")
def bench_fuzz(seconds, targets, builds, max_len, json_path):
    """exec/s, coverage and corpus size per target, ASan vs coverage-only."""
    names = [t.strip() for t in targets.split(",") if t.strip()] if targets else frun.registered_targets()
    flavors = [b.strip() for b in builds.split(",") if b.strip()]
    try:
        if not names:
            raise frun.UsageError("no targets to benchmark (none registered in fuzz/targets/)")
        for name in names:
            frun.check_target(name)
        bad = [f for f in flavors if f not in frun.fbuild.FLAVORS]
        if bad:
            raise frun.UsageError(f"unknown build {bad[0]!r}; choose from {', '.join(frun.fbuild.FLAVORS)}")
        rows = []
        with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as tmp:
            for name in names:
                for flavor in flavors:
                    click.echo(f"bench: {name} under {flavor} for {seconds}s ...", err=True)
                    rows.append(measure(name, flavor, seconds, Path(tmp), max_len_for(name, max_len)))
    except frun.UsageError as exc:
        click.echo(f"blazefuzz bench fuzz: error: {exc}", err=True)
        sys.exit(2)
    render(rows)
    if json_path:
        json_path.write_text(json.dumps({"seconds": seconds, "rows": rows}, indent=2) + "\n")
