"""`blazefuzz corpus merge|minimize|stats --target NAME`: corpus upkeep through libFuzzer.

Corpora (see fuzz/run.py): corpus/<T>/ holds the small committed seeds,
corpus/<T>/grown/ the working corpus the runner grows (git-ignored).

  merge     copies into DEST (default: the committed seeds corpus/<T>/) only the
            units of the SOURCES (default: the working corpus) that add coverage
            over what DEST already has: libFuzzer's -merge=1 (or -set_cover_merge=1).
            This is how grown units are "merged back deliberately".
  minimize  rewrites the working corpus as a smallest set with the same coverage:
            a set-cover merge into a fresh directory that then replaces it
            (the old one is kept until the new one is complete).
  stats     files and bytes of seeds and working corpus, and the coverage they
            reach (one -runs=0 pass; --no-coverage skips it).

Crashing inputs met on the way are skipped by libFuzzer and written to
crashes/<T>/ as artifacts (with sidecars); the command then exits 1.
"""
from __future__ import annotations

import re
import shutil
import statistics
import sys
from pathlib import Path

import click

from fuzz import run as frun
from fuzz import stats as fstats

MERGE_RE = re.compile(r"MERGE-OUTER: (\d+) new files with (\d+) new features added; (\d+) new coverage edges")


def _cfg(target: str, flavor: str) -> frun.RunConfig:
    return frun.RunConfig(target=target, flavor=flavor, seeds=False)


def _fail(message: str) -> None:
    click.echo(f"blazefuzz corpus: error: {message}", err=True)
    sys.exit(2)


def _units(directory: Path) -> list[Path]:
    """Corpus units: regular files, recursively (as libFuzzer reads a corpus dir)."""
    if not directory.is_dir():
        return []
    return [p for p in directory.rglob("*") if p.is_file() and not p.name.startswith(".")]


def merge_dirs(cfg: frun.RunConfig, dest: Path, sources: list[Path], *, set_cover: bool) -> dict:
    """libFuzzer merge of `sources` into `dest`; returns {"added", "features", "edges", ...}."""
    dest.mkdir(parents=True, exist_ok=True)
    mode = "-set_cover_merge=1" if set_cover else "-merge=1"
    shot = frun.run_libfuzzer(cfg, [mode, f"-timeout={cfg.timeout}", str(dest.resolve()),
                                    *(str(s.resolve()) for s in sources)])
    m = MERGE_RE.search(shot.output)
    if shot.returncode != 0 and not m:
        raise frun.UsageError(f"merge failed (exit {shot.returncode}); see {shot.log}")
    added, features, edges = (int(g) for g in m.groups()) if m else (0, 0, 0)
    return {"added": added, "features": features, "edges": edges, "crashes": shot.new_artifacts,
            "log": shot.log}


def _report_crashes(result: dict) -> None:
    for path in result["crashes"]:
        click.echo(f"crashing input written to {path}", err=True)
    if result["crashes"]:
        sys.exit(1)


@click.group("corpus", context_settings={"help_option_names": ["-h", "--help"]})
def corpus():
    """Merge, minimize and inspect fuzz corpora (libFuzzer -merge / -set_cover_merge)."""


target_option = click.option("--target", "-t", required=True, help="Target name (blazefuzz run --list).")
build_option = click.option("--build", "flavor", type=click.Choice(["asan", "coverage"]),
                            default="coverage", show_default=True,
                            help="Build whose coverage decides (coverage-only is faster).")


@corpus.command("merge")
@target_option
@build_option
@click.option("--from", "sources", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Source corpus directory (repeatable) [default: corpus/NAME/grown].")
@click.option("--into", type=click.Path(file_okay=False, path_type=Path),
              help="Destination [default: the committed seeds, corpus/NAME].")
@click.option("--set-cover", is_flag=True, help="Use -set_cover_merge=1 (smaller result).")
def merge(target, flavor, sources, into, set_cover):
    """Add to DEST the units of the sources that bring new coverage."""
    try:
        cfg = _cfg(target, flavor)
        frun.check_target(target)
        dest = into or cfg.seeds_dir()
        sources = list(sources) or [cfg.corpus_dir()]
        missing = [s for s in sources if not s.is_dir()]
        if missing:
            raise frun.UsageError(f"source corpus {missing[0]} does not exist")
        if dest.resolve() == cfg.seeds_dir().resolve():
            # libFuzzer reads directories recursively: keep grown/ out of the seeds' view.
            result = _merge_into_seeds(cfg, dest, sources, set_cover)
        else:
            result = merge_dirs(cfg, dest, sources, set_cover=set_cover)
    except frun.UsageError as exc:
        _fail(str(exc))
    click.echo(f"merged into {dest}: {result['added']} new units, {result['features']} new features, "
               f"{result['edges']} new edges")
    _report_crashes(result)


def _merge_into_seeds(cfg: frun.RunConfig, seeds: Path, sources: list[Path], set_cover: bool) -> dict:
    staging = cfg.root / ".blazefuzz" / "merge" / cfg.short / "seeds"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for unit in frun.seed_files(seeds):
        shutil.copyfile(unit, staging / unit.name)
    before = {p.name for p in staging.iterdir()}
    result = merge_dirs(cfg, staging, sources, set_cover=set_cover)
    for unit in staging.iterdir():
        if unit.name not in before:
            shutil.copyfile(unit, seeds / unit.name)
    shutil.rmtree(staging, ignore_errors=True)
    return result


def minimize_dir(cfg: frun.RunConfig, directory: Path) -> dict:
    """Replace `directory` by its set-cover merge; the old one stays until the new one is whole.

    The scratch directories live under .blazefuzz/ (git-ignored), not beside the corpus."""
    scratch = cfg.root / ".blazefuzz" / "merge" / cfg.short
    scratch.mkdir(parents=True, exist_ok=True)
    fresh, old = scratch / "minimizing", scratch / "old"
    shutil.rmtree(fresh, ignore_errors=True)
    result = merge_dirs(cfg, fresh, [directory], set_cover=True)
    shutil.rmtree(old, ignore_errors=True)
    shutil.move(directory, old)          # a rename; a copy across file systems
    shutil.move(fresh, directory)
    shutil.rmtree(old, ignore_errors=True)
    return result


@corpus.command("minimize")
@target_option
@build_option
@click.option("--corpus", "corpus_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Corpus to minimize in place [default: corpus/NAME/grown].")
def minimize(target, flavor, corpus_dir):
    """Replace the working corpus by a smallest subset with the same coverage."""
    try:
        cfg = _cfg(target, flavor)
        frun.check_target(target)
        directory = (corpus_dir or cfg.corpus_dir())
        if not directory.is_dir():
            raise frun.UsageError(f"corpus {directory} does not exist")
        before = describe(_units(directory))
        result = minimize_dir(cfg, directory)
    except frun.UsageError as exc:
        _fail(str(exc))
    after = describe(_units(directory))
    click.echo(f"minimized {directory}: {before['units']} -> {after['units']} units, "
               f"{before['bytes']} -> {after['bytes']} bytes")
    _report_crashes(result)


def describe(units: list[Path]) -> dict:
    sizes = sorted(p.stat().st_size for p in units)
    return {"units": len(sizes), "bytes": sum(sizes), "min": sizes[0] if sizes else 0,
            "median": int(statistics.median(sizes)) if sizes else 0, "max": sizes[-1] if sizes else 0}


def coverage_of(cfg: frun.RunConfig, dirs: list[Path]) -> dict:
    """cov/ft/corpus reached by executing the dirs once (libFuzzer -runs=0)."""
    dirs = [d for d in dirs if d.is_dir()]
    shot = frun.run_libfuzzer(cfg, ["-runs=0", f"-timeout={cfg.timeout}", *map(str, dirs)])
    inited = [s for s in map(fstats.parse_status, shot.output.splitlines()) if s]
    if not inited:
        raise frun.UsageError(f"coverage run failed (exit {shot.returncode}); see {shot.log}")
    last = inited[-1]
    return {"cov": last.cov, "ft": last.ft, "corpus_units": last.corpus_units,
            "corpus_bytes": last.corpus_bytes, "crashes": shot.new_artifacts}


@corpus.command("stats")
@target_option
@build_option
@click.option("--corpus", "corpus_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Working corpus [default: corpus/NAME/grown].")
@click.option("--coverage/--no-coverage", default=True, show_default=True,
              help="Also run the corpus once to measure the coverage it reaches.")
def stats(target, flavor, corpus_dir, coverage):
    """Size of seeds and working corpus, and the coverage they reach."""
    try:
        cfg = _cfg(target, flavor)
        frun.check_target(target)
        working = corpus_dir or cfg.corpus_dir()
        seeds = frun.seed_files(cfg.seeds_dir())
        rows = [("seeds", cfg.seeds_dir(), describe(seeds)), ("working", working, describe(_units(working)))]
        for name, path, d in rows:
            click.echo(f"{name:8} {d['units']:6} units {d['bytes']:9} bytes  "
                       f"size min/median/max {d['min']}/{d['median']}/{d['max']}  ({path})")
        if coverage:
            inside = cfg.seeds_dir().resolve() in working.resolve().parents
            # libFuzzer reads directories recursively: the seeds dir already holds grown/.
            cov = coverage_of(cfg, [cfg.seeds_dir()] if inside else [working, cfg.seeds_dir()])
            click.echo(f"coverage ({flavor} build): cov {cov['cov']} ft {cov['ft']} "
                       f"corpus {cov['corpus_units']} units / {cov['corpus_bytes']} bytes after dedup")
            _report_crashes(cov)
    except frun.UsageError as exc:
        _fail(str(exc))
