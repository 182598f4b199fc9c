"""`blazefuzz bench query`: BlazeDB queries beside SQLite in one process.

SQLite side (Python's sqlite3): one table `docs(id TEXT PRIMARY KEY, data TEXT)`
holding each record as JSON, WAL mode, with expression indexes on
`json_extract(data, '$.k')` and `json_extract(data, '$.score')`; result rows are
parsed back with json.loads so both sides return dicts. Both databases live
in one temporary directory (or in memory with --memory).

Records: k = i (unique int, indexed), score = i % 10000 (indexed, 10 records
per value), x = a float in [0, 1), city = one of 50 strings, name = a string.

Workloads: indexed equality lookups (one row each), indexed range queries
(5 score values, 50 rows each), a full-scan filter (x > 0.9, ~10% of the
records), sum(x) over every record, and group_by(city) with count and sum.
The ratio is BlazeDB ops/s over SQLite ops/s (>1: BlazeDB faster).
"""
from __future__ import annotations

import json
import os
import random
import sqlite3
import tempfile
import time

import click


def _records(n: int, seed: int):
    rnd = random.Random(seed)
    cities = [f"city{c:02d}" for c in range(50)]
    for i in range(n):
        yield {"k": i, "score": i % 10000, "x": rnd.random(), "city": cities[rnd.randrange(50)],
               "name": f"user{i}"}


def _timed(fn, reps: int) -> float:
    """ops/s of fn() called reps times."""
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    dt = time.perf_counter() - t0
    return reps / dt if dt > 0 else float("inf")


def _timed_each(fn, args) -> float:
    """ops/s of fn(a) for each a in args."""
    t0 = time.perf_counter()
    for a in args:
        fn(a)
    dt = time.perf_counter() - t0
    return len(args) / dt if dt > 0 else float("inf")


class _Sqlite:
    def __init__(self, path: str):
        self.con = sqlite3.connect(path, isolation_level=None)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=NORMAL")
        self.con.execute("CREATE TABLE docs (id TEXT PRIMARY KEY, data TEXT NOT NULL)")
        self.con.execute("CREATE INDEX docs_k ON docs (json_extract(data, '$.k'))")
        self.con.execute("CREATE INDEX docs_score ON docs (json_extract(data, '$.score'))")

    def load(self, records, ids):
        self.con.execute("BEGIN")
        self.con.executemany("INSERT INTO docs VALUES (?, ?)",
                             ((str(i), json.dumps(r)) for i, r in zip(ids, records)))
        self.con.execute("COMMIT")

    def eq(self, k):
        return [json.loads(d) for (d,) in self.con.execute(
            "SELECT data FROM docs WHERE json_extract(data, '$.k') = ?", (k,))]

    def range(self, lo, hi):
        return [json.loads(d) for (d,) in self.con.execute(
            "SELECT data FROM docs WHERE json_extract(data, '$.score') >= ? "
            "AND json_extract(data, '$.score') < ?", (lo, hi))]

    def scan(self):
        return [json.loads(d) for (d,) in self.con.execute(
            "SELECT data FROM docs WHERE json_extract(data, '$.x') > 0.9")]

    def sum(self):
        return self.con.execute("SELECT sum(json_extract(data, '$.x')) FROM docs").fetchone()[0]

    def group(self):
        return self.con.execute(
            "SELECT json_extract(data, '$.city') AS c, count(*), sum(json_extract(data, '$.x')) "
            "FROM docs GROUP BY c ORDER BY c").fetchall()


class _Blaze:
    def __init__(self, path: str | None):
        from engine.db import BlazeDB
        from engine.query import F, count, sum_
        self.F, self.count, self.sum_ = F, count, sum_
        self.db = BlazeDB(path, checkpoint_pages=10000)
        self.db.create_index("k")
        self.db.create_index("score")

    def load(self, records, ids):
        self.db.insert_many([{**r, "id": i} for r, i in zip(records, ids)])

    def eq(self, k):
        return self.db.query().where(self.F("k") == k).all()

    def range(self, lo, hi):
        return self.db.query().where(self.F("score") >= lo, self.F("score") < hi).all()

    def scan(self):
        return self.db.query().where(self.F("x") > 0.9).all()

    def sum(self):
        return self.db.query().aggregate(s=self.sum_("x")).all()[0]["s"]

    def group(self):
        return self.db.query().group_by("city").aggregate(n=self.count(), s=self.sum_("x")).all()


@click.command("query")
@click.option("--records", "n", default=100_000, show_default=True, help="Records in each database.")
@click.option("--lookups", default=20_000, show_default=True, help="Indexed equality lookups.")
@click.option("--ranges", default=2_000, show_default=True, help="Indexed range queries.")
@click.option("--scans", default=3, show_default=True, help="Repetitions of each full-scan workload.")
@click.option("--memory", is_flag=True, help="Both databases in memory instead of temporary files.")
@click.option("--seed", default=1, show_default=True)
def bench_query(n, lookups, ranges, scans, memory, seed):
    """BlazeDB queries beside SQLite (json_extract + expression index)."""
    import uuid
    records = list(_records(n, seed))
    ids = [uuid.UUID(int=random.Random(seed + i).getrandbits(128)) for i in range(n)]
    rnd = random.Random(seed)
    keys = [rnd.randrange(n) for _ in range(lookups)]
    starts = [rnd.randrange(max(1, min(n, 10000) - 5)) for _ in range(ranges)]
    with tempfile.TemporaryDirectory(prefix="blazebench-") as tmp:
        sq = _Sqlite(":memory:" if memory else os.path.join(tmp, "bench.sqlite"))
        bz = _Blaze(None if memory else os.path.join(tmp, "bench.blazedb"))
        rows = []
        t0 = time.perf_counter()
        sq.load(records, ids)
        t_sq = time.perf_counter() - t0
        t0 = time.perf_counter()
        bz.load(records, ids)
        t_bz = time.perf_counter() - t0
        rows.append(("load (one transaction)", n / t_bz, n / t_sq))

        # Same answers first: a benchmark of wrong results would be worthless.
        assert [r["k"] for r in bz.eq(keys[0])] == [r["k"] for r in sq.eq(keys[0])]
        assert sorted(r["k"] for r in bz.range(starts[0], starts[0] + 5)) == \
            sorted(r["k"] for r in sq.range(starts[0], starts[0] + 5))
        assert len(bz.scan()) == len(sq.scan())
        assert abs(bz.sum() - sq.sum()) <= 1e-6 * max(1.0, abs(sq.sum()))
        assert [(g["city"], g["n"]) for g in bz.group()] == [(c, k) for c, k, _ in sq.group()]

        for label, b_fn, s_fn, reps in [
            ("indexed equality lookup", bz.eq, sq.eq, keys),
            ("indexed range (50 rows)", lambda s: bz.range(s, s + 5),
             lambda s: sq.range(s, s + 5), starts),
        ]:
            b = _timed_each(b_fn, reps)
            s = _timed_each(s_fn, reps)
            rows.append((label, b, s))
        rows.append((f"full-scan filter ({n} records)", _timed(bz.scan, scans), _timed(sq.scan, scans)))
        rows.append((f"sum over {n}", _timed(bz.sum, scans), _timed(sq.sum, scans)))
        rows.append((f"group_by over {n}", _timed(bz.group, scans), _timed(sq.group, scans)))
        bz.db.close()
        sq.con.close()

    where = "in memory" if memory else "on temporary files"
    click.echo(f"BlazeDB vs SQLite {sqlite3.sqlite_version} (json_extract + expression index), "
               f"{n} records, {where}")
    click.echo(f"{'workload':34} {'BlazeDB ops/s':>14} {'SQLite ops/s':>14} {'ratio':>7}")
    for label, b, s in rows:
        click.echo(f"{label:34} {b:14,.1f} {s:14,.1f} {b / s:6.2f}x")
