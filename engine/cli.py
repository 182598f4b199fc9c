"""`blazefuzz db`: inspect and verify a BlazeDB database file.

Exit codes (the project's convention): 0 fine; 1 a finding (the database is
corrupt); 2 bad usage or input (no such file, cannot open it).
The file is opened read-only, so inspecting never changes it.
"""
from __future__ import annotations

import json
import os
import sys

import click

from engine.errors import BlazeError, CorruptDatabaseError


def _open(path: str):
    from engine.db import BlazeDB
    if not os.path.exists(path):
        raise click.UsageError(f"no such database file: {path}")
    return BlazeDB(path, readonly=True)


def _emit(data: dict, as_json: bool):
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
        return
    for key, value in data.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for k, v in value.items():
                click.echo(f"  {k}: {v}")
        else:
            click.echo(f"{key}: {value}")


@click.group()
def db():
    """Inspect and verify a BlazeDB database file."""


@db.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(file, as_json):
    """Verify every page, B+tree, the catalog, every record and every index of FILE.

    Exit 1 if anything is corrupt (the message names the page, frame, record or index)."""
    try:
        with _open(file) as database:
            report = database.check()
    except CorruptDatabaseError as exc:
        where = "".join(f" {n}={getattr(exc, n)}" for n in ("page", "frame")
                        if getattr(exc, n, None) is not None)
        click.echo(f"CORRUPT{where}: {exc}", err=True)
        sys.exit(1)
    except BlazeError as exc:
        click.echo(f"error: cannot check {file}: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
    _emit({"ok": True, **report}, as_json)


@db.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
def stats(file, as_json):
    """Page, log, cache, record and index statistics of FILE."""
    try:
        with _open(file) as database:
            data = database.stats()
            data["index_definitions"] = {i["name"]: i for i in database.indexes()}
    except CorruptDatabaseError as exc:
        click.echo(f"CORRUPT: {exc}", err=True)
        sys.exit(1)
    except BlazeError as exc:
        click.echo(f"error: cannot open {file}: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
    _emit(data, as_json)
