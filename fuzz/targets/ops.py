"""Fuzz target `ops`: an op stream against BlazeDB and the reference model.

Input: an op stream (fuzz/opstream.py). Each op runs on BlazeDB (in a MemFS,
no fsync) and on fuzz/model.py; then the oracles, each raising
fuzz.oracles.OracleMismatch with its kind:

  error / result   same error class (a documented BlazeError predicted by the
                   model is an outcome, not a crash), else an equal result
  index-vs-scan    with indexes present, a query also runs in a form no index
                   can serve; when only the indexed form disagrees with the
                   model the mismatch is blamed on the index path
  partition        TLP, with indexes present: where(p) and where(~p) split
                   the records (and p & exists, ~p & exists, missing split
                   them for a field p)
  reopen           after close + reopen the records and indexes equal the model
  final-state, check   after the last op: every record equals the model's,
                   and check() passes with one entry per record in each index

Three kinds of repeated op run on neither side, since each would verify the
very state just verified (mutated inputs are full of such runs, and
libFuzzer keeps inputs whose runs are longer: a block run 8, 16 or 32 times
counts as new coverage):

  * a Check that directly follows a passed Check (a run of 0xFF bytes is a
    run of Checks, and they took an eighth of the ops target's time);
  * an Insert equal to the Insert just before it (same id, strictly equal
    record) when that one failed with the same documented error on both
    sides, a duplicate id say: a failed write changes nothing, so the repeat
    would fail again on the same state. Zero bytes decode as
    Insert(ID_TABLE[0], {}), and a grown corpus held six such repeats per
    input, a fifth of its ops;
  * a Reopen that follows two passed Reopens in a row. The first reopens
    what the ops before it wrote; the second, a database closed by a session
    that only opened it; a third would do the second again. (A Reopen
    costs about three inserts: close, open, and every record compared.)

Whatever the first op did to the database, the ops after it and the
final-state and check oracles still see. Only `ops` skips them
(`skip_repeats`): the crash target counts every VFS call to place its crash
point, and its inputs keep their meaning.

Anything else the engine raises propagates: a crash.

`Session` is the reusable core: the crash and stateful targets drive it too.
"""
from __future__ import annotations

from engine.errors import BlazeError
from fuzz import driver, mutator
from fuzz import opstream as O
from fuzz.driver import OP_HANDLERS as ENGINE_OPS
from fuzz.model import OP_HANDLERS as MODEL_OPS
from fuzz.model import Model
from fuzz.model_query import AGG_NAME, ID_ORDER
from fuzz.oracles import OracleMismatch, error_name
from fuzz.semantics_ref import okey, strict_equal, strict_equal_list
from fuzz.targets import memfs

DB_FILE = "ops.blazedb"
# Small cache and checkpoint threshold: short streams still reach eviction and auto-checkpoint.
DB_OPTIONS = {"cache_pages": 32, "checkpoint_pages": 8}


def _rows_equal(expected: list, actual: list, func: str) -> bool:
    """Aggregate rows: group values strictly; sum/avg by value (-0.0 == 0.0, see below)."""
    if len(expected) != len(actual):
        return False
    for e, a in zip(expected, actual):
        if e.keys() != a.keys():
            return False
        for k in e:
            if k == AGG_NAME and func in ("sum", "avg"):
                # The sign of a zero sum is not specified (semantics.md §6 sums
                # through fsum); numbers are compared as the total order does.
                if type(e[k]) is not type(a[k]) or okey(e[k]) != okey(a[k]):
                    return False
            elif not strict_equal(e[k], a[k]):
                return False
    return True


def results_equal(op, expected, actual) -> bool:
    kind = type(op)
    if kind is O.Query and op.form == "all":
        return strict_equal_list(expected, actual)
    if kind is O.Aggregate:
        return _rows_equal(expected, actual, op.func)
    return strict_equal(expected, actual)


class Session:
    """One database (opened by `open_db`), the model beside it, and the oracles."""

    def __init__(self, open_db, io_faults: tuple = (), skip_repeats: bool = False):
        self.open_db = open_db
        self.db = open_db()
        self.model = Model()
        self.ids = O.IdSpace()
        # Error classes re-raised as they are (the crash target's injected I/O
        # faults); `model_error` then says how the op went in the model.
        self.io_faults = io_faults
        self.model_error = None
        self.skip_repeats = skip_repeats
        # Set only with skip_repeats (see the module docstring):
        self._just_checked = False      # the previous op was a Check that passed
        self._failed_insert = None      # the previous op, an Insert that failed alike on both sides
        self._reopens = 0               # passed Reopens in a row just before

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None

    # ------------------------------------------------------------ one op
    def step(self, i: int, op) -> None:
        kind = type(op)
        # Repeats of what was just verified (see the module docstring).
        if kind is O.Check:
            if self._just_checked:
                return
        elif kind is O.Insert:
            if self._failed_insert is not None and self._repeats_failed_insert(op):
                return
        elif kind is O.Reopen and self._reopens >= 2:
            return
        self._just_checked = False
        self._failed_insert = None
        reopens, self._reopens = self._reopens, 0
        model_err = engine_err = None
        expected = actual = None
        try:
            # The handlers apply() and execute() dispatch to, called directly (fuzz.model.OP_HANDLERS).
            expected = MODEL_OPS[kind](self.model, op, self.ids)
        except BlazeError as exc:
            model_err = type(exc)
        where = None
        try:
            if kind is O.Reopen:
                self.db.close()
                self.db = self.open_db()
            elif kind is O.Query or kind is O.Count:
                # Built once: the read oracles below reuse it (as driver.execute would run it).
                where = driver.pred(op.where) if op.where is not None else None
                actual = (driver.run_query(driver.build_query(self.db, op, where), op.form)
                          if kind is O.Query else self.db.count(where))
            else:
                actual = ENGINE_OPS[kind](self.db, op, self.ids)
        except BlazeError as exc:
            if self.io_faults and isinstance(exc, self.io_faults):
                self.ids.note(op)
                self.model_error = model_err
                raise
            engine_err = type(exc)
            actual = str(exc)       # not exc: its traceback holds this frame (a reference cycle)
        self.ids.note(op)
        if model_err is not None or engine_err is not None:
            if model_err is not engine_err:
                raise OracleMismatch("error", i, op, error_name(model_err),
                                     f"{error_name(engine_err)}: {actual}" if engine_err else actual)
            if kind is O.Insert and self.skip_repeats:
                self._failed_insert = op
            return
        if kind is O.Query or kind is O.Count:
            self._check_read(i, op, expected, actual, where)
        elif not results_equal(op, expected, actual):
            raise OracleMismatch("result", i, op, expected, actual)
        if kind is O.Reopen:
            self.compare_state(i, op, "reopen")
            if self.skip_repeats:
                self._reopens = reopens + 1
        elif kind is O.Check:
            self._just_checked = self.skip_repeats

    def _repeats_failed_insert(self, op) -> bool:
        last = self._failed_insert
        return op.id == last.id and strict_equal(op.record, last.record)

    def _check_read(self, i, op, expected, actual, where):
        """Query/Count: the model, an unindexable twin, and the TLP partition.
        `where` is the engine predicate the op ran with (None: no filter)."""
        ok = results_equal(op, expected, actual)
        twin = None
        if self.model.indexes:
            scan_where = driver.unindexable_pred(where)
            if type(op) is O.Query:
                twin = driver.run_query(driver.build_query(self.db, op, scan_where), op.form)
            else:
                twin = self.db.count(scan_where)
            if not ok and results_equal(op, expected, twin):
                raise OracleMismatch("index-vs-scan", i, op, twin, actual,
                                     "the full scan agrees with the model")
        if not ok:
            raise OracleMismatch("result", i, op, expected, actual)
        if twin is not None and not results_equal(op, expected, twin):
            raise OracleMismatch("index-vs-scan", i, op, actual, twin,
                                 "the indexed plan agrees with the model, the full scan does not")
        # TLP targets the planner: without an index every part is a full scan
        # through the predicate code the model has just checked.
        if type(op) is O.Query and op.where is not None and self.model.indexes:
            self._partition(i, op, where)

    def _ids_where(self, p):
        return [r["id"] for r in self.db.query().where(p).select().all()]

    def _partition(self, i, op, p):
        everything = sorted(self.model.records, key=ID_ORDER)
        parts = [p, ~p]
        path = getattr(op.where, "path", None)
        if path is not None:
            f = driver.F(O.dotted(path))
            parts = [p & f.exists(), ~p & f.exists(), f.missing()]
        got = [self._ids_where(q) for q in parts]
        union = sorted((u for ids in got for u in ids), key=ID_ORDER)
        if union != everything:
            raise OracleMismatch("partition", i, op, [str(u) for u in everything],
                                 [[str(u) for u in ids] for ids in got],
                                 f"{len(parts)} parts of where(p) should split all records exactly once")

    # ------------------------------------------------------------ whole state
    def compare_state(self, i, op, kind: str) -> None:
        stored = list(self.db.fetch_all())
        expected = self.model.state()
        # The records as the engine returns them first: equal as they are means
        # equal in op-grammar form too (from_engine only renames NaNs, which
        # strict_equal treats as one value, and turns Vectors into Vecs, which
        # it never finds equal to a Vector). Converting every record took more
        # than the comparison; now only a record set with vectors pays for it.
        if not strict_equal_list(expected, stored):
            actual = [driver.from_engine(r) for r in stored]
            if not strict_equal_list(expected, actual):
                raise OracleMismatch(kind, i, op, expected, actual)
        want = [{"name": s.name, "fields": [O.dotted(p) for p in s.paths], "unique": s.unique}
                for s in (self.model.indexes[n] for n in self.model.index_names())]
        got = self.db.indexes()
        if got != want:
            raise OracleMismatch(kind, i, op, want, got, "index definitions")

    def finish(self, n_ops: int) -> None:
        """End of stream: records equal the model; check() passes and every index
        holds one entry per record."""
        self.compare_state(-1, None, "final-state")
        try:
            report = self.db.check()
        except BlazeError as exc:
            raise OracleMismatch("check", n_ops, None, "a clean check()", f"{type(exc).__name__}: {exc}")
        n = len(self.model.records)
        want = {"records": n, "indexes": {name: n for name in self.model.indexes}}
        got = {"records": report.get("records"), "indexes": dict(report.get("indexes", {}))}
        if got != want:
            raise OracleMismatch("check", n_ops, None, want, got, "check() report counts")

    def run(self, ops) -> None:
        for i, op in enumerate(ops):
            self.step(i, op)
        self.finish(len(ops))


# ---------------------------------------------------------------- the target



def run_ops(ops) -> None:
    """Run an op list through every oracle (raises OracleMismatch or crashes)."""
    fs = memfs.fresh(power_loss=False)
    session = Session(lambda: driver.BlazeDB(DB_FILE, vfs=fs, **DB_OPTIONS),
                      skip_repeats=True)
    try:
        session.run(ops)
    finally:
        session.close()


def test_one_input(data: bytes) -> None:
    run_ops(O.decode(data))


# Structure-aware mutation beside libFuzzer's own (fuzz/mutator.py), with --mutator structure.
custom_mutator = mutator.mutate


def decode_input(data: bytes) -> list:
    return O.decode(data)


def encode_input(ops) -> bytes:
    return O.encode(ops)


def describe_input(data: bytes) -> str:
    return O.to_python(O.decode(data))
