"""`blazefuzz bench cost`: instructions per input of a target, counted by Valgrind.

exec/s moves with the machine (this one has run the same build at half the
speed on another day) and with whatever else it runs, so a change of a few
percent hides in it. The number of instructions a target executes per input
does not: Valgrind's cachegrind counts them the same, to about 0.1%, run
after run, loaded machine or not. As in SQLite's speed tests, that makes it
the measure of a change to the target's own cost. The same workload is
counted on another revision in the same run, `--against REV` (default HEAD:
what the uncommitted changes cost), and the ratio printed.

What is counted: the target's test_one_input over the workload in one
process, on the normal build (Valgrind cannot run ASan builds), with the
collector tuned as the harness tunes it; that is decoding, model, engine and
oracles, Python and C. ASan, libFuzzer and Atheris add their share while
fuzzing: `bench fuzz`'s `of pipeline` column is that part.

Instructions are not time. Above all, a copy or fill done with `rep
movsb`/`stosb` (glibc's memcpy and memset beyond about 4 KB here) counts
one instruction per byte under Valgrind, 16,384 for a 16 KB copy against
about 450 for a 4 KB one, while the CPU moves either in a few hundred
cycles: the store's multi-page copies (a WAL commit's frames) weigh more
here than on the clock.
Compare revisions by this figure; read time from `bench fuzz`.

How: two processes run under cachegrind, one loading the target and running
the workload once (the warm-up: imports, caches, specialised bytecode), the
other the same and then the workload again. Their difference is one pass:
divided by the number of inputs, the figure. Python's string hashing is
fixed (PYTHONHASHSEED=0), so dict and set order repeat too.

Workload: `--inputs N` mutants of the target's committed seeds, a few of
libFuzzer's byte mutations each, from a fixed seed and cut to the target's
design length (`bench fuzz`'s -max_len: 128 bytes for ops; 256 for the
others); or every file of `--corpus DIR`, a grown corpus say.

Another revision (`--against REV`) is checked out into a temporary git
worktree, its C core built there (normal build) and removed afterwards; its
code must have fuzz.harness.load_target and tune_gc (every revision since
the harness had them).
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import msgpack

from engine._native import NATIVE_DIR_ENV
from fuzz import run as frun
from fuzz.bench import max_len_for, mean_ops

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_INPUTS = 300
DEFAULT_SEED = 1
OTHER_MAX_LEN = 256            # bytes, for targets without a design length
VALGRIND = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")
_I_REFS = re.compile(r"^==\d+== I\s+refs:\s+([\d,]+)\s*$", re.MULTILINE)
# Variables that would load the instrumented build or change what runs.
_DROPPED_ENV = ("LD_PRELOAD", NATIVE_DIR_ENV, "BLAZEFUZZ_BUILD_ID", "BLAZEFUZZ_BUILD_FLAVOR",
                "PYTHONPATH")

# Runs in the checkout being measured (its root is the working directory, so
# its `fuzz` and `engine` are the ones imported): argv = target, workload
# file, passes.
WORKER = """
import sys
import msgpack
from fuzz.harness import load_target, tune_gc
target, path, passes = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(path, "rb") as f:
    inputs = msgpack.unpackb(f.read())
run = load_target(target)
tune_gc()
for _ in range(passes):
    for data in inputs:
        try:
            run(data)
        except Exception:
            pass
"""


class CostError(Exception):
    """The count could not be taken: exit code 2 with a one-line message."""


def _mutate(rnd: random.Random, data: bytes, seeds: list[bytes], longest: int) -> bytes:
    """A few of libFuzzer's byte mutations: what a fuzzing run executes are
    mutants of its corpus, not random bytes (those decode to far fewer ops)."""
    b = bytearray(data)
    for _ in range(rnd.randint(1, 5)):
        pos = rnd.randint(0, len(b))
        choice = rnd.randrange(5)
        if choice == 0 and b:                       # change a byte
            b[min(pos, len(b) - 1)] = rnd.randrange(256)
        elif choice == 1:                           # insert a byte, or 3-128 repeated ones
            byte = bytes([rnd.choice((0, 0xFF, rnd.randrange(256)))])
            b[pos:pos] = byte * (1 if rnd.random() < 0.5 else rnd.randint(3, 128))
        elif choice == 2 and b:                     # erase a range
            del b[pos:pos + rnd.randint(1, len(b))]
        elif choice == 3 and b:                     # copy a range elsewhere
            start = rnd.randrange(len(b))
            b[pos:pos] = b[start:start + rnd.randint(1, len(b))]
        else:                                       # splice with another seed
            other = rnd.choice(seeds)
            cut = rnd.randint(0, len(other))
            b = b[:pos] + other[cut:]
    return bytes(b[:longest])


def workload(target: str, n: int, seed: int = DEFAULT_SEED) -> list[bytes]:
    """n mutants of the target's committed seeds (random bytes for a target
    without seeds), made from `seed`, each at most the target's design length."""
    longest = max_len_for(target, None) or OTHER_MAX_LEN
    rnd = random.Random(f"{target}:{seed}")
    seeds = [p.read_bytes() for p in frun.seed_files(frun.RunConfig(target=target).seeds_dir())]
    seeds = [s for s in seeds if s] or [b""]
    return [_mutate(rnd, rnd.choice(seeds), seeds, longest) for _ in range(n)]


def corpus_workload(directory: Path) -> list[bytes]:
    if not directory.is_dir():
        raise CostError(f"{directory}: not a directory")
    inputs = [p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()]
    if not inputs:
        raise CostError(f"{directory}: no input files")
    return inputs


def parse_instructions(stderr: str) -> int:
    """The `I refs` total of cachegrind's summary."""
    found = _I_REFS.findall(stderr)
    if len(found) != 1:
        raise CostError("cachegrind printed no instruction total; its output ended with: "
                        + repr(stderr.strip()[-300:]))
    return int(found[0].replace(",", ""))


def _count(root: Path, python: str, target: str, workload_file: Path, passes: int) -> int:
    env = {k: v for k, v in os.environ.items()
           if k not in _DROPPED_ENV and not k.startswith(("ASAN_", "UBSAN_"))}
    env["PYTHONHASHSEED"] = "0"
    cmd = [*VALGRIND, python, "-c", WORKER, target, str(workload_file), str(passes)]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True,
                          errors="replace", check=False)
    if proc.returncode != 0:
        raise CostError(f"{target} in {root} exited with {proc.returncode} under cachegrind: "
                        + repr(proc.stderr.strip()[-400:]))
    return parse_instructions(proc.stderr)


def instructions_per_input(root: Path, target: str, inputs: list[bytes],
                           python: str = sys.executable) -> float:
    """Instructions of one pass of `inputs` through `target` in checkout `root`, per input."""
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        workload_file = Path(tmp) / "workload.msgpack"
        workload_file.write_bytes(msgpack.packb(inputs))
        with ThreadPoolExecutor(max_workers=2) as pool:   # the two processes, one per core
            warm, both = pool.map(lambda passes: _count(root, python, target, workload_file, passes),
                                  (1, 2))
    return (both - warm) / len(inputs)


@contextlib.contextmanager
def checkout(rev: str, repo: Path = ROOT, python: str = sys.executable):
    """`rev` in a temporary git worktree with its C core built (normal build); removed after."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-cost-rev-"))
    tree = tmp / "tree"
    try:
        added = subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), rev],
                               capture_output=True, text=True, check=False)
    except OSError as exc:              # no git: nothing was added
        shutil.rmtree(tmp, ignore_errors=True)
        raise CostError(f"cannot run git to check out {rev!r}: {exc}") from None
    try:
        if added.returncode != 0:
            raise CostError(f"cannot check out {rev!r}: {added.stderr.strip() or added.stdout.strip()}")
        built = subprocess.run([python, "setup.py", "-q", "build_ext", "--inplace"], cwd=tree,
                               capture_output=True, text=True, check=False)
        if built.returncode != 0:
            raise CostError(f"building the C core of {rev!r} failed: {built.stderr.strip()[-400:]!r}")
        yield tree
    finally:
        if added.returncode == 0:
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)],
                           capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def render(rows: list[dict], against: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="blazefuzz bench cost (instructions per input, normal build)")
    columns = ["target", "inputs", "ops/input", "instructions/input"]
    if against:
        columns += [f"{against}", f"/ {against}"]
    for col in columns:
        table.add_column(col, justify="left" if col == "target" else "right")
    for r in rows:
        cells = [r["target"], str(r["inputs"]),
                 "-" if r["ops_per_input"] is None else str(r["ops_per_input"]),
                 f"{r['instructions_per_input']:,.0f}"]
        if against:
            cells += [f"{r['against_instructions_per_input']:,.0f}",
                      f"{r['instructions_per_input'] / r['against_instructions_per_input']:.3f}"]
        table.add_row(*cells)
    Console(width=160).print(table)


@click.command("cost")
@click.option("--targets", default="ops", show_default=True, help="Comma-separated targets.")
@click.option("--inputs", "n_inputs", type=click.IntRange(min=1), default=DEFAULT_INPUTS,
              show_default=True, help="Workload size: mutants of the target's committed seeds.")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="Seed of the workload's mutations.")
@click.option("--corpus", type=click.Path(file_okay=False, path_type=Path),
              help="Use every file of this directory as the workload instead.")
@click.option("--against", metavar="REV", default="HEAD", show_default=True,
              help="Also count this git revision (main~3, a tag, ...) and print the ratio; "
                   "'none': only this checkout.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the figures as JSON.")
def bench_cost(targets, n_inputs, seed, corpus, against, json_path):
    """Instructions per input of a target (Valgrind), against another revision (HEAD)."""
    from rich.console import Console

    names = [t.strip() for t in targets.split(",") if t.strip()]
    against = None if against.lower() == "none" else against
    status = Console(stderr=True)
    rows = []
    try:
        if shutil.which("valgrind") is None:
            raise CostError("valgrind is not installed (scripts/setup.sh installs it; "
                            "or apt-get install valgrind)")
        if not names:
            raise CostError("no targets given")
        for name in names:
            frun.check_target(name)
        workloads = {name: corpus_workload(corpus) if corpus else workload(name, n_inputs, seed)
                     for name in names}
        with contextlib.ExitStack() as stack:
            other = None
            if against:
                with status.status(f"checking out and building {against} ..."):
                    other = stack.enter_context(checkout(against))
            for name in names:
                inputs = workloads[name]
                with status.status(f"counting {name}: {len(inputs)} inputs under cachegrind ..."):
                    row = {"target": name, "inputs": len(inputs),
                           "ops_per_input": mean_ops(name, inputs),
                           "instructions_per_input": instructions_per_input(ROOT, name, inputs)}
                if other is not None:
                    with status.status(f"counting {name} at {against} ..."):
                        row["against_instructions_per_input"] = instructions_per_input(other, name, inputs)
                rows.append(row)
    except (CostError, frun.UsageError) as exc:
        click.echo(f"blazefuzz bench cost: error: {exc}", err=True)
        sys.exit(2)
    render(rows, against)
    if json_path:
        json_path.write_text(json.dumps({"against": against, "seed": None if corpus else seed,
                                         "corpus": str(corpus) if corpus else None, "rows": rows},
                                        indent=2) + "\n")
