"""`blazefuzz`: the one command-line entry of the project.

Subcommands live in the modules that own them and are imported only when used,
so `blazefuzz triage list` does not pay for the fuzz build and vice versa.
A subcommand whose module is missing is an error of the installation, not of
the user; it shows as such.
"""
from __future__ import annotations

import importlib

import click

# name -> (module:attribute, one-line help shown by `blazefuzz --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("fuzz.run:command", "Fuzz one target (same as `python -m fuzz.run`)."),
    "build": ("fuzz.build:command", "Build the instrumented (ASan/UBSan + libFuzzer) engine."),
    "corpus": ("fuzz.corpus_cli:corpus", "Merge, minimize and inspect corpora."),
    "triage": ("triage.cli:triage", "Reproduce, deduplicate, minimize and review crashes."),
    "nightly": ("fuzz.nightly:nightly", "OSS-Fuzz style job: build, fuzz all, merge, triage, report."),
    "db": ("engine.cli:db", "Inspect and verify a BlazeDB database file."),
    "bench": ("fuzz.cli:bench", "Benchmarks (query, fuzz, triage); print ratios against baselines."),
}

BENCH_COMMANDS: dict[str, tuple[str, str]] = {
    "query": ("engine.bench:bench_query", "BlazeDB queries beside SQLite (json_extract + expression index)."),
    "fuzz": ("fuzz.bench:bench_fuzz", "exec/s, coverage and corpus size per target, ASan vs coverage-only."),
    "triage": ("triage.bench:bench_triage", "Artifacts per second through parse + dedup + store."),
    "cost": ("fuzz.bench_cost:bench_cost", "Instructions per input of a target (Valgrind), against a revision."),
}


def _resolve(spec: str) -> click.Command:
    module_name, attr = spec.split(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


class LazyGroup(click.Group):
    def __init__(self, *args, lazy: dict[str, tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self._lazy))

    def get_command(self, ctx, name):
        if name in self._lazy:
            return _resolve(self._lazy[name][0])
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        rows = [(name, self._lazy[name][1]) for name in sorted(self._lazy)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="blazefuzz")
def main():
    """BlazeFuzz: coverage-guided fuzzing and crash triage for BlazeDB.

    Exit codes: 0 success; 1 a finding (crash, failed check, regression);
    2 bad usage or bad input.
    """


@click.group(cls=LazyGroup, lazy=BENCH_COMMANDS)
def bench():
    """Benchmarks. Each prints its figures and a ratio against a baseline measured in the same run."""
