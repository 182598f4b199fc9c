"""`blazefuzz triage ...`: the daemon and the review commands.

Every command takes `--store URL` (default: $BLAZEFUZZ_TRIAGE_STORE, else the
SQLite file .blazefuzz/triage.sqlite, or $BLAZEFUZZ_HOME/triage.sqlite; see
triage/store.py). Exit codes: 0 success, 1 a finding (`repro` reproduced the
crash), 2 bad usage, bad input or an unusable store (one line on stderr).
"""
from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from triage.errors import TriageError
from triage.models import STATUSES, Bucket, HistoryEvent, utcnow
from triage.queries import SORT_KEYS

SEVERITIES = ("high", "medium", "low")


class TriageGroup(click.Group):
    """Turns every TriageError into `blazefuzz triage: error: ...` and exit 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TriageError as exc:
            message = " ".join(str(exc).split())  # one line, whatever the message holds
            click.echo(f"blazefuzz triage: error: {message}", err=True)
            ctx.exit(exc.exit_code)


def store_option(func):
    return click.option("--store", "store_url", envvar="BLAZEFUZZ_TRIAGE_STORE", metavar="URL",
                        help="Triage store (SQLAlchemy URL; default .blazefuzz/triage.sqlite).")(func)


def repro_options(func):
    func = click.option("--repro-cmd", metavar="CMD", envvar="BLAZEFUZZ_REPRO_CMD",
                        help="Reproduction command template with {target} and {file} "
                             "(default: python -m fuzz.run --target {target} --repro {file}).")(func)
    func = click.option("--build", type=click.Choice(["asan", "coverage", "planted"]),
                        help="Build the runner reproduces with.")(func)
    func = click.option("--timeout", type=float, default=120.0, show_default=True,
                        help="Wall-clock seconds per reproduction run.")(func)
    func = click.option("--memory-mb", type=int, default=4096, show_default=True,
                        help="RSS limit per reproduction run.")(func)
    return func


def _open(store_url):
    from triage.store import open_store
    return open_store(store_url)


def _reproducer(repro_cmd, build, timeout, memory_mb):
    from triage.reproduce import Limits, Reproducer
    limits = Limits(wall_seconds=timeout, cpu_seconds=max(1, int(timeout)), memory_mb=memory_mb)
    return Reproducer(repro_cmd, limits=limits, build=build)


def _console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        console = Console(highlight=False, width=200)
    return console


@click.group(cls=TriageGroup, context_settings={"help_option_names": ["-h", "--help"]})
def triage():
    """Reproduce, deduplicate, minimize and review crashes.

    The store defaults to the SQLite file .blazefuzz/triage.sqlite in the working
    directory ($BLAZEFUZZ_HOME/triage.sqlite when set); --store takes any
    SQLAlchemy URL, e.g. postgresql://user@host/db for many daemons on many machines.
    """


# -- ingest ------------------------------------------------------------------------------------

@triage.command()
@store_option
@click.option("--crashes", "crash_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Directory to watch (repeatable; default ./crashes).")
@click.option("--once", is_flag=True, help="Process what is there now, then exit.")
@click.option("--repro-count", type=click.IntRange(1, 100), default=3, show_default=True,
              help="Reproduction runs per artifact.")
@click.option("--no-repro", is_flag=True, help="Do not reproduce; sign the sidecar's report.")
@click.option("--no-minimize", is_flag=True, help="Do not minimize new buckets' reproducers.")
@click.option("--minimize-budget", type=float, default=120.0, show_default=True,
              help="Seconds per minimization.")
@click.option("--settle", type=float, default=1.0, show_default=True,
              help="Seconds an artifact must be still before it is processed.")
@repro_options
def daemon(store_url, crash_dirs, once, repro_count, no_repro, no_minimize, minimize_budget,
           settle, repro_cmd, build, timeout, memory_mb):
    """Watch crash directories; reproduce, dedup, minimize every new artifact."""
    from triage.daemon import TriageDaemon
    from triage.ingest import Ingester
    from triage.minimize import DEFAULT_BYTE_COMMAND, Minimizer

    store = _open(store_url)
    reproducer = _reproducer(repro_cmd, build, timeout, memory_mb)
    minimizer = None
    if not no_minimize:
        byte_command = DEFAULT_BYTE_COMMAND if not repro_cmd else None
        minimizer = Minimizer(reproducer, budget_seconds=minimize_budget, byte_command=byte_command)
    ingester = Ingester(store, None if no_repro else reproducer, repro_count=repro_count)
    dirs = [Path(d) for d in crash_dirs] or [Path("crashes")]
    console = Console(stderr=True, highlight=False)
    runner = TriageDaemon(ingester, dirs, minimizer=minimizer, console=console,
                          settle_seconds=settle)
    console.print(f"triage store: {escape(store.display_url)}")
    try:
        stats = runner.run_once() if once else runner.run_forever()
    except KeyboardInterrupt:
        stats = runner.stats
    finally:
        store.close()
    console.print(f"triage: {stats.line()}")


@triage.command()
@store_option
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--keep", is_flag=True, help="Leave the original files where they are.")
@click.option("--repro-count", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--no-repro", is_flag=True, help="Do not reproduce; sign the sidecar's report.")
@click.option("--minimize", "do_minimize", is_flag=True, help="Minimize new buckets' reproducers.")
@repro_options
def ingest(store_url, paths, keep, repro_count, no_repro, do_minimize, repro_cmd, build,
           timeout, memory_mb):
    """Ingest artifact files (or every artifact under directories) once."""
    from triage.daemon import TriageDaemon, find_artifacts
    from triage.ingest import Ingester
    from triage.minimize import Minimizer

    store = _open(store_url)
    reproducer = _reproducer(repro_cmd, build, timeout, memory_mb)
    ingester = Ingester(store, None if no_repro else reproducer, repro_count=repro_count,
                        keep_original=keep)
    runner = TriageDaemon(ingester, [], minimizer=Minimizer(reproducer) if do_minimize else None,
                          console=Console(stderr=True, highlight=False))
    files = []
    for raw in paths:
        path = Path(raw)
        files.extend(find_artifacts([path]) if path.is_dir() else [path])
    try:
        for path in files:
            runner.process(path)
    finally:
        store.close()
    click.echo(f"triage: {runner.stats.line()}", err=True)
    if runner.stats.errors:
        sys.exit(2)


# -- review ------------------------------------------------------------------------------------

def parse_since(text: str) -> datetime:
    """`2026-11-25`, `2026-11-25T10:00`, or a span back from now: `30m`, `12h`, `7d`."""
    match = re.fullmatch(r"(\d+)([smhdw])", text.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
        return utcnow() - timedelta(**{unit[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is neither ISO-8601 nor a span like 12h or 7d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


@triage.command("list")
@store_option
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES))
@click.option("--target")
@click.option("--severity", "severities", multiple=True, type=click.Choice(SEVERITIES))
@click.option("--since", help="Last seen at or after: ISO date/time or a span (12h, 7d).")
@click.option("--sort", type=click.Choice(SORT_KEYS), default="id", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(store_url, statuses, target, severities, since, sort, as_json):
    """List buckets (one per distinct bug)."""
    from triage.export import summary_dict
    from triage.queries import summaries

    since_at = parse_since(since) if since else None
    with _open(store_url) as store:
        rows = store.read(lambda s: summaries(s, statuses=statuses, target=target,
                                              severities=severities, since=since_at, sort=sort))
    if as_json:
        click.echo(json.dumps([summary_dict(row) for row in rows], indent=2))
        return
    table = Table(show_lines=False)
    for column in ("id", "status", "severity", "count", "reliable", "targets", "crash type",
                   "top frame", "last seen"):
        table.add_column(column)
    for row in rows:
        bucket = row.bucket
        frames = bucket.frames
        table.add_row(str(bucket.id), bucket.status, bucket.severity, str(row.count),
                      row.reliability_short, escape(",".join(row.targets)), escape(bucket.crash_type),
                      escape(str(frames[0]) if frames else "-"), _when(row.last_seen))
    console = _console()
    if rows:
        console.print(table)
    else:
        console.print("no buckets match")


@triage.command()
@store_option
@click.argument("bucket_id", type=int)
def show(store_url, bucket_id):
    """Signature, stack, counts, history, reliability, readable reproducer, repro command."""
    from triage.present import bucket_text
    with _open(store_url) as store:
        text = bucket_text(store, bucket_id)
    click.echo(text)


@triage.command()
@store_option
@click.argument("bucket_id", type=int)
@click.option("--times", type=click.IntRange(1, 100), default=3, show_default=True)
@repro_options
def repro(store_url, bucket_id, times, repro_cmd, build, timeout, memory_mb):
    """Re-run a bucket's reproducer; exit 1 if it still crashes with its signature."""
    from triage.present import terminal_safe
    from triage.verify import rerun_bucket
    reproducer = _reproducer(repro_cmd, build, timeout, memory_mb)
    with _open(store_url) as store:
        outcome = rerun_bucket(store, bucket_id, reproducer, times, purpose="repro")
    click.echo(outcome.describe())
    for run in outcome.reproduction.runs[-1:]:
        click.echo(terminal_safe(run.output.rstrip()[-4000:]))
    sys.exit(1 if outcome.matches else 0)


@triage.command()
@store_option
@click.argument("bucket_id", type=int)
@click.option("--budget", type=float, default=120.0, show_default=True, help="Seconds.")
@click.option("--no-bytes", is_flag=True, help="Skip libFuzzer's -minimize_crash stage.")
@repro_options
def minimize(store_url, bucket_id, budget, no_bytes, repro_cmd, build, timeout, memory_mb):
    """Minimize a bucket's reproducer (bytes, then ops), keeping its signature."""
    from triage.minimize import DEFAULT_BYTE_COMMAND, Minimizer, minimize_testcase
    from triage.queries import detail
    reproducer = _reproducer(repro_cmd, build, timeout, memory_mb)
    byte_command = None if (no_bytes or repro_cmd) else DEFAULT_BYTE_COMMAND
    minimizer = Minimizer(reproducer, budget_seconds=budget, byte_command=byte_command)
    with _open(store_url) as store:
        testcase = store.read(lambda s: detail(s, bucket_id)).testcase
        result = minimize_testcase(store, testcase.id, minimizer)
        path = store.testcase_path(testcase.sha256, ".min")
    ops = (f", {result.original_ops} -> {result.minimized_ops} ops"
           if result.original_ops is not None else "")
    click.echo(f"bucket #{bucket_id}: {result.original_size} -> {result.size} bytes{ops} "
               f"({result.checks} checks); minimized case at {path}")
    for note in result.notes:
        click.echo(f"  {note}")


@triage.command()
@store_option
@click.argument("bucket_id", type=int)
@click.argument("status", type=click.Choice(STATUSES))
@click.option("--note", default="", help="Why (kept in the bucket's history).")
def mark(store_url, bucket_id, status, note):
    """Set a bucket's status (new, confirmed, fixed, flaky, wontfix)."""
    from triage.errors import UnknownBucketError
    from triage.store import actor

    def update(session):
        bucket = session.get(Bucket, bucket_id)
        if bucket is None:
            raise UnknownBucketError(f"no bucket #{bucket_id}; `blazefuzz triage list` shows the ids")
        old = bucket.status
        bucket.status = status
        session.add(HistoryEvent(bucket_id=bucket_id, event="status", actor=actor(),
                                 detail=f"{old} -> {status}" + (f": {note}" if note else "")))
        return old
    with _open(store_url) as store:
        old = store.write(update, what="mark a bucket")
    click.echo(f"bucket #{bucket_id}: {old} -> {status}")


@triage.command("verify-fixed")
@store_option
@click.option("--times", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--build-id", help="Id of the build under test (default: fuzz.build's id of "
              "the build each bucket is re-run on).")
@repro_options
def verify_fixed(store_url, times, build_id, repro_cmd, build, timeout, memory_mb):
    """Re-run every open bucket; mark fixed what no longer reproduces (records the build id)."""
    from triage.verify import verify_open_buckets
    reproducer = _reproducer(repro_cmd, build, timeout, memory_mb)
    with _open(store_url) as store:
        outcomes = verify_open_buckets(store, reproducer, times, build_id)
    for outcome in outcomes:
        click.echo(outcome.describe())
    fixed = sum(1 for o in outcomes if o.marked_fixed)
    click.echo(f"verify-fixed: {len(outcomes)} open buckets, {fixed} fixed")


@triage.command()
@store_option
@click.option("--format", "fmt", type=click.Choice(["json", "sarif"]), default="json",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="File to write (default stdout).")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES))
def export(store_url, fmt, out, statuses):
    """Export buckets as JSON or SARIF 2.1.0."""
    from triage.export import to_json, to_sarif
    with _open(store_url) as store:
        document = (to_sarif if fmt == "sarif" else to_json)(store, statuses=statuses)
    text = json.dumps(document, indent=2, default=str) + "\n"
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)


@triage.command("export-test")
@store_option
@click.argument("bucket_id", type=int)
@click.option("--out", type=click.Path(dir_okay=False),
              help="File to write (default tests/regression/test_bucket_<ID>.py).")
def export_test(store_url, bucket_id, out):
    """Write a standalone pytest regression test replaying the minimized reproducer."""
    from triage.export import regression_test
    with _open(store_url) as store:
        source = regression_test(store, bucket_id)
    path = Path(out or f"tests/regression/test_bucket_{bucket_id}.py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    click.echo(f"wrote {path}")


@triage.command()
@store_option
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Directory for index.html and one page per bucket.")
def report(store_url, out):
    """Write a static, offline HTML report (sortable index + one page per bucket)."""
    from triage.report import write_report
    with _open(store_url) as store:
        index = write_report(store, Path(out))
    click.echo(f"wrote {index}")


@triage.command()
@store_option
def quarantine(store_url):
    """List artifacts that could not be ingested, and where they are kept."""
    from triage.present import terminal_safe
    from triage.queries import quarantined
    with _open(store_url) as store:
        entries = store.read(quarantined)
    for entry in entries:
        click.echo(terminal_safe(f"{entry.id}\t{_when(entry.at)}\t{entry.stored_path}\t{entry.reason}"))
    if not entries:
        click.echo("quarantine is empty")
