"""The fuzz targets: registry, seed corpora, and oracles that fire on real bugs.

Each target must replay its committed seeds clean on the normal build, and
each oracle must raise OracleMismatch when BlazeDB misbehaves (simulated here
by patching the engine), so a quiet fuzzer means a correct engine.
"""
from __future__ import annotations

import gc
import random
from pathlib import Path

import pytest

from engine.errors import TransactionError
from fuzz import build as fbuild
from fuzz import opstream as O
from fuzz import seeds, targets
from fuzz import values as V
from fuzz.oracles import KINDS, OracleMismatch
from fuzz.targets import codec as codec_target
from fuzz.targets import crash as crash_target
from fuzz.targets import file as file_target
from fuzz.targets import memfs
from fuzz.targets import ops as ops_target

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
STRUCTURED = ("ops", "crash")


def seed_files(target):
    return sorted(p for p in (CORPUS / target).iterdir() if p.is_file())


# ---------------------------------------------------------------- registry and interface

def test_registry_names_every_target():
    assert targets.names() == ["ops", "codec", "file", "crash", "stateful"]
    with pytest.raises(KeyError, match="unknown fuzz target"):
        targets.get("nope")


@pytest.mark.parametrize("name", ["ops", "codec", "file", "crash", "stateful"])
def test_each_target_has_the_contract_functions(name):
    module = targets.get(name)
    assert callable(module.test_one_input)
    assert callable(module.describe_input)
    if name in STRUCTURED:  # the minimizer's interface: an exact round trip through a list
        for path in seed_files(name):
            items = module.decode_input(path.read_bytes())
            assert module.decode_input(module.encode_input(items)) == items
            assert O.from_msgpack(O.to_msgpack(items)) == items
            assert any(type(op) in O.OP_KINDS for op in items)


def test_crash_items_survive_losing_the_crash_point():
    items = crash_target.decode_input((CORPUS / "crash" / "torn-write-churn").read_bytes())
    assert type(items[0]) is crash_target.CrashPoint
    shrunk = crash_target.decode_input(crash_target.encode_input(items[1:]))
    assert shrunk == [crash_target.DEFAULT_CRASH, *items[1:]]


@pytest.mark.parametrize("name", ["ops", "codec", "file", "crash"])
def test_describe_input_is_python(name):
    module = targets.get(name)
    for path in seed_files(name)[:3]:
        compile(module.describe_input(path.read_bytes()), str(path), "exec")


# ---------------------------------------------------------------- seed corpora

@pytest.mark.parametrize("name", ["ops", "codec", "file", "crash", "stateful"])
def test_seed_corpus_replays_clean(name):
    module = targets.get(name)
    files = seed_files(name)
    assert len(files) >= 4, f"corpus/{name}/ needs seeds (python -m fuzz.seeds)"
    for path in files:
        module.test_one_input(path.read_bytes())


def test_seeds_are_regenerated_deterministically(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    written = seeds.generate(first)
    seeds.generate(second)
    for path in written:
        rel = path.relative_to(first)
        if not path.name.endswith("-with-wal"):   # a WAL header holds random salts
            assert (second / rel).read_bytes() == path.read_bytes(), rel
        assert (CORPUS.parent / rel).exists(), f"{rel} is not committed; run python -m fuzz.seeds"


def test_seeds_never_contain_the_planted_bug_trigger():
    for path in seed_files("ops"):
        ops = O.decode(path.read_bytes())
        inserted = [op.id for op in ops if type(op) is O.Insert]
        inserted += [u for op in ops if type(op) is O.InsertMany for u, _ in op.items]
        assert all(u.bytes[-1] != 0x2A for u in inserted), path.name


def test_dictionaries_are_libfuzzer_format():
    for name in ("ops", "crash", "codec", "file"):
        lines = (CORPUS / f"{name}.dict").read_text().splitlines()
        entries = [line for line in lines if line and not line.startswith("#")]
        assert entries
        for line in entries:
            key, _, value = line.partition("=")
            assert key.isidentifier() and value.startswith('"') and value.endswith('"'), line


# ---------------------------------------------------------------- the ops target's oracles

def stream(*ops):
    return O.encode(list(ops))


def test_ops_target_runs_random_streams_clean():
    rnd = random.Random(7)
    for _ in range(150):
        ops_target.test_one_input(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 250))))


def test_ops_target_leaves_no_reference_cycles():
    """Every input frees its objects by reference counting: cyclic garbage (a
    handle referring to itself, a kept exception holding its frame) would wake
    the cycle collector every few inputs, a tenth of the target's time."""
    rnd = random.Random(11)
    inputs = [path.read_bytes() for path in seed_files("ops")]
    inputs += [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 250))) for _ in range(100)]
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for data in inputs:
            ops_target.test_one_input(data)
        gc.collect()
        left = sorted({type(o).__qualname__ for o in gc.garbage})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []


def test_a_delete_that_leaves_the_record_is_caught(monkeypatch):
    # What the planted B+tree bug does: delete() says True, the record stays.
    from engine.db import BlazeDB
    monkeypatch.setattr(BlazeDB, "delete", lambda self, rid: True)
    data = stream(O.Insert(V.ID_TABLE[0x2A], {"a": 1}), O.Delete(0))
    with pytest.raises(OracleMismatch) as info:
        ops_target.test_one_input(data)
    assert info.value.kind == "final-state"
    with pytest.raises(OracleMismatch) as info:
        ops_target.test_one_input(stream(O.Insert(V.ID_TABLE[1], {}), O.Delete(0), O.Fetch(0)))
    assert info.value.kind == "error" and info.value.index == 2


def test_a_wrong_error_class_is_caught(monkeypatch):
    from engine.db import BlazeDB

    def fetch(self, rid):
        raise TransactionError("nope")
    monkeypatch.setattr(BlazeDB, "fetch", fetch)
    with pytest.raises(OracleMismatch) as info:
        ops_target.test_one_input(stream(O.Insert(V.ID_TABLE[1], {}), O.Fetch(0)))
    assert info.value.kind == "error"
    assert "Fetch" in str(info.value).splitlines()[0]


def test_an_index_only_wrong_answer_is_blamed_on_the_index(monkeypatch):
    from engine.db import BlazeDB
    real = BlazeDB._run_query

    def lossy(self, q):
        rows = real(self, q)
        indexed = q.where_ is not None and q.where_.op != "or"
        return rows[1:] if indexed and self._indexes else rows
    monkeypatch.setattr(BlazeDB, "_run_query", lossy)
    data = stream(O.Insert(V.ID_TABLE[1], {"a": 1}), O.Insert(V.ID_TABLE[2], {"a": 1}),
                  O.CreateIndex((("a",),), False), O.Query(O.Cmp(("a",), "==", 1), (), None, None))
    with pytest.raises(OracleMismatch) as info:
        ops_target.test_one_input(data)
    assert info.value.kind == "index-vs-scan"


def test_state_lost_on_reopen_is_caught(monkeypatch):
    from engine.db import BlazeDB
    real_init = BlazeDB.__init__
    opened = []

    def forgetful(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        opened.append(self)
        if len(opened) > 1:
            self.delete_all()
    monkeypatch.setattr(BlazeDB, "__init__", forgetful)
    with pytest.raises(OracleMismatch) as info:
        ops_target.test_one_input(stream(O.Insert(V.ID_TABLE[1], {"a": 1}), O.Reopen()))
    assert info.value.kind == "reopen"


VECTOR_RECORD = {"v": V.Vec([1.5, -0.0]), "n": float("nan"), "l": [V.Vec([2.0])]}


def test_stored_vectors_and_nans_compare_equal_to_the_model():
    ops_target.test_one_input(stream(O.Insert(V.ID_TABLE[1], VECTOR_RECORD), O.Reopen()))


def test_a_vector_the_engine_changed_is_caught(monkeypatch):
    from engine.db import BlazeDB
    from engine.types import Vector
    real = BlazeDB.fetch_all

    def nudged(self, *args):
        for record in real(self, *args):
            if "v" in record:
                record = {**record, "v": Vector([1.5, 0.0])}    # -0.0 lost
            yield record
    monkeypatch.setattr(BlazeDB, "fetch_all", nudged)
    with pytest.raises(OracleMismatch) as info:
        ops_target.test_one_input(stream(O.Insert(V.ID_TABLE[1], VECTOR_RECORD), O.Reopen()))
    assert info.value.kind == "reopen"


def _counting_calls(monkeypatch, method: str) -> list:
    """Patches BlazeDB.<method> to note each call's arguments in the list returned."""
    from engine.db import BlazeDB
    real = getattr(BlazeDB, method)
    calls = []

    def counted(self, *args):
        calls.append(args)
        return real(self, *args)
    monkeypatch.setattr(BlazeDB, method, counted)
    return calls


def test_a_run_of_checks_runs_check_once_then_once_more_at_the_end(monkeypatch):
    calls = _counting_calls(monkeypatch, "check")
    ops_target.test_one_input(stream(O.Insert(V.ID_TABLE[1], {"a": 1}), *[O.Check()] * 20))
    assert len(calls) == 2            # the first Check of the run, and the end-of-stream check()
    assert ops_target.test_one_input(b"\xff" * 64) is None and len(calls) == 4


def test_a_check_after_any_other_op_runs_again(monkeypatch):
    calls = _counting_calls(monkeypatch, "check")
    ops_target.test_one_input(stream(O.Check(), O.Fetch(0), O.Check(), O.Begin(), O.Check(),
                                     O.Rollback(), O.Check()))
    assert len(calls) == 5


def test_a_skipped_check_still_catches_what_the_first_one_broke(monkeypatch):
    # check() itself losing a record: the run's later checks are skipped, the final state is not.
    from engine.db import BlazeDB
    real = BlazeDB.check

    def destructive_check(self):
        report = real(self)
        self.delete_all()
        return report
    monkeypatch.setattr(BlazeDB, "check", destructive_check)
    with pytest.raises(OracleMismatch) as info:
        ops_target.test_one_input(stream(O.Insert(V.ID_TABLE[1], {"a": 1}), O.Check(), O.Check()))
    assert info.value.kind == "final-state"


def test_the_crash_target_runs_every_check(monkeypatch):
    # Its crash point counts VFS calls, so skipping one would move the crash in old inputs.
    calls = _counting_calls(monkeypatch, "check")
    crash_target.test_one_input(crash_target.encode_input((0, 250, 0), [O.Insert(V.ID_TABLE[1], {}),
                                                                         *[O.Check()] * 5]))
    assert len(calls) >= 5


DUP = V.ID_TABLE[1]


def test_a_run_of_equal_failing_inserts_runs_the_first_failure_only(monkeypatch):
    calls = _counting_calls(monkeypatch, "insert")
    ops_target.test_one_input(stream(*[O.Insert(DUP, {"a": 1.5})] * 10))
    assert len(calls) == 2            # the insert that succeeds, and the first duplicate
    calls.clear()
    ops_target.test_one_input(b"\x00" * 60)   # zero bytes: Insert(ID_TABLE[0], {}) twenty times
    assert len(calls) == 2


def test_an_insert_after_a_failed_one_runs_unless_it_is_the_same_insert(monkeypatch):
    calls = _counting_calls(monkeypatch, "insert")
    ops_target.test_one_input(stream(
        O.Insert(DUP, {"a": 1}),
        O.Insert(DUP, {"a": 1}),         # fails: a duplicate
        O.Insert(DUP, {"a": 1.0}),       # another record (a float), runs
        O.Insert(DUP, {"a": True}),      # equal to 1 in Python, not to the engine: runs
        O.Insert(DUP, {"a": True}),      # the same failed insert: skipped
        O.Insert(V.ID_TABLE[2], {"a": True}),   # another id: runs, and succeeds
        O.Insert(V.ID_TABLE[2], {"a": True}),   # after a success: runs (and fails)
        O.Fetch(0),
        O.Insert(V.ID_TABLE[2], {"a": True}),   # not directly after the failure: runs
    ))
    assert len(calls) == 7


def test_a_skipped_insert_still_catches_what_the_failed_one_broke(monkeypatch):
    # A duplicate insert that loses a record on its way out: the repeat is
    # skipped, the final state is still compared.
    from engine.db import BlazeDB
    real = BlazeDB.insert

    def destructive_insert(self, record):
        try:
            return real(self, record)
        except ops_target.BlazeError:
            self.delete_all()
            raise
    monkeypatch.setattr(BlazeDB, "insert", destructive_insert)
    with pytest.raises(OracleMismatch) as info:
        ops_target.test_one_input(stream(O.Insert(DUP, {}), O.Insert(DUP, {}), O.Insert(DUP, {})))
    assert info.value.kind == "final-state"


def test_the_crash_target_runs_every_insert(monkeypatch):
    calls = _counting_calls(monkeypatch, "insert")
    crash_target.test_one_input(crash_target.encode_input((0, 250, 0), [O.Insert(DUP, {})] * 5))
    assert len(calls) == 5


def test_a_run_of_reopens_reopens_twice(monkeypatch):
    calls = _counting_calls(monkeypatch, "close")
    ops_target.test_one_input(stream(O.Insert(DUP, {"a": 1}), *[O.Reopen()] * 20))
    assert len(calls) == 3            # two reopens, and the close at the end
    calls.clear()
    ops_target.test_one_input(stream(O.Reopen(), O.Reopen(), O.Check(), O.Reopen(), O.Reopen(),
                                     O.Reopen(), O.Fetch(0), O.Reopen()))
    assert len(calls) == 6            # a run starts again after any other op


def test_the_second_reopen_of_a_run_still_runs(monkeypatch):
    # It closes a session that did nothing but open: a close that loses every
    # record there is caught by that Reopen's own comparison.
    from engine.db import BlazeDB
    real = BlazeDB.close
    closes = []

    def lossy_close(self):
        closes.append(self)
        if len(closes) == 2:
            self.delete_all()
        return real(self)
    monkeypatch.setattr(BlazeDB, "close", lossy_close)
    with pytest.raises(OracleMismatch) as info:
        ops_target.test_one_input(stream(O.Insert(DUP, {}), O.Reopen(), O.Reopen(), O.Reopen()))
    assert info.value.kind == "reopen"      # the second Reopen compares after the lossy close


def test_the_crash_target_runs_every_reopen(monkeypatch):
    calls = _counting_calls(monkeypatch, "close")
    crash_target.test_one_input(crash_target.encode_input((0, 250, 0), [O.Reopen()] * 5))
    assert len(calls) >= 5


def test_oracle_mismatch_message_names_index_op_kind_expected_actual():
    exc = OracleMismatch("result", 3, O.Count(None), 2, 1)
    first, *rest = str(exc).splitlines()
    assert first.startswith("[result] op #3 Count:")
    assert any("expected: 2" in line for line in rest) and any("actual: 1" in line for line in rest)
    assert set(KINDS) >= {"result", "error", "index-vs-scan", "partition", "reopen", "final-state",
                          "check", "roundtrip", "recovery", "corrupt-open"}
    with pytest.raises(ValueError):
        OracleMismatch("made-up", 0, None, 1, 2)
    # Byte-level targets name the failing step instead of an op.
    assert str(OracleMismatch("roundtrip", 0, "decode", 1, 2)).startswith("[roundtrip] op #0 decode:")
    assert str(OracleMismatch("final-state", -1, None, 1, 2)).startswith("[final-state] op #-1 end:")


# ---------------------------------------------------------------- codec, file, crash

def test_codec_target_modes_run_clean_on_random_input():
    rnd = random.Random(3)
    for mode in (0x00, 0x01, 0x42, 0x99):
        for _ in range(300):
            codec_target.test_one_input(bytes([mode]) + bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 60))))


def test_codec_target_catches_a_non_canonical_encoder(monkeypatch):
    data = (CORPUS / "codec" / "record-all-types").read_bytes()
    monkeypatch.setattr(codec_target, "_encode", lambda record: b"BZ\x01\x00")
    with pytest.raises(OracleMismatch) as info:
        codec_target.test_one_input(data)
    assert info.value.kind == "roundtrip"


def test_codec_target_catches_an_index_key_out_of_order(monkeypatch):
    monkeypatch.setattr(codec_target, "_index_key", lambda values: b"same")
    data = (CORPUS / "codec" / "index-key-strings").read_bytes()
    with pytest.raises(OracleMismatch):
        codec_target.test_one_input(data)


def test_file_target_survives_damaged_files():
    good = (CORPUS / "file" / "crud-checkpointed").read_bytes()
    rnd = random.Random(11)
    for _ in range(60):
        bad = bytearray(good)
        for _ in range(rnd.randint(1, 6)):
            bad[rnd.randrange(4, len(bad))] ^= 1 << rnd.randrange(8)
        file_target.test_one_input(bytes(bad))
    for cut in (4, 100, 4100, len(good) - 1):
        file_target.test_one_input(good[:cut])


def test_file_target_reseals_pages_unless_the_top_bit_says_not_to():
    good = (CORPUS / "file" / "crud-checkpointed").read_bytes()
    db_bytes, wal_bytes = file_target.split_input(good)
    assert wal_bytes == b"" and file_target.reseals(good)
    damaged = bytearray(db_bytes)
    damaged[4096 + 50] ^= 0x10                              # inside page 1, behind its checksum
    resealing = file_target.encode_input(bytes(damaged))
    raw = file_target.encode_input(bytes(damaged), reseal=False)
    assert raw[3] & 0x80 and file_target.split_input(raw) == file_target.split_input(resealing)
    assert file_target.database_files(raw)[0] == bytes(damaged)
    resealed = file_target.database_files(resealing)[0]
    assert resealed != bytes(damaged) and resealed[:4096 + 4092] == bytes(damaged)[:4096 + 4092]
    assert resealed.hex() in file_target.describe_input(resealing)      # the reproducer stands alone
    for data in (resealing, raw):
        file_target.test_one_input(data)       # open works or CorruptDatabaseError, either way


@pytest.mark.parametrize("kind", [0, 1, 2, 3])
def test_crash_target_every_kind_on_a_write_heavy_stream(kind):
    ops = O.decode((CORPUS / "ops" / "churn").read_bytes())
    for n in range(0, 40, 3):
        crash_target.test_one_input(crash_target.encode_input((kind, n, n * 7 % 256), ops))


def test_only_the_crash_target_runs_on_a_memfs_that_can_lose_power():
    """ops and file never simulate a power loss: their MemFS keeps no synced
    copies, so a sync costs them nothing. The crash target's keeps them."""
    unsynced, synced = memfs.shared(power_loss=False), memfs.shared(power_loss=True)
    assert not unsynced.power_loss and synced.power_loss
    ops_target.test_one_input(O.encode([O.Insert(V.ID_TABLE[1], {"a": 1})]))
    assert ops_target.DB_FILE in unsynced.files()
    file_target.test_one_input(b"")
    assert file_target.DB_FILE in unsynced.files()
    crash_target.test_one_input(crash_target.encode_input((2, 5, 0), [O.Insert(V.ID_TABLE[1], {"a": 1})]))
    assert crash_target.DB_FILE in synced.files() and crash_target.DB_FILE not in unsynced.files()


def test_crash_target_catches_lost_commits(monkeypatch):
    real = crash_target.BlazeDB
    opens = []

    def open_losing_the_wal(path, *, vfs, **kwargs):
        opens.append(path)
        if len(opens) > 1:
            memfs.shared().remove(path + "-wal")     # as if recovery ignored the log
        return real(path, vfs=vfs, **kwargs)
    monkeypatch.setattr(crash_target, "BlazeDB", open_losing_the_wal)
    data = crash_target.encode_input((2, 5, 0), [O.Insert(V.ID_TABLE[1], {"a": 1})])
    with pytest.raises(OracleMismatch) as info:
        crash_target.test_one_input(data)
    assert info.value.kind == "recovery"


# ---------------------------------------------------------------- the planted build

@pytest.mark.fuzzbuild
@pytest.mark.skipif(fbuild.toolchain_missing() is not None,
                    reason=f"no instrumented build possible: {fbuild.toolchain_missing()}")
def test_ops_target_finds_the_planted_btree_bug():
    """Under -DBLAZEDB_PLANT_BUGS a delete leaves keys ending in 0x2A: the ops
    target must report it as an OracleMismatch, not pass and not crash."""
    import subprocess
    import sys

    script = (
        "from fuzz import opstream as O, values as V\n"
        "from fuzz.targets import ops\n"
        "from fuzz.oracles import OracleMismatch\n"
        "data = O.encode([O.Insert(V.ID_TABLE[0x2A], {'a': 1}), O.Delete(0)])\n"
        "try:\n    ops.test_one_input(data)\nexcept OracleMismatch as e:\n"
        "    print('FOUND', e.kind)\nelse:\n    print('MISSED')\n")
    env = fbuild.build("planted").env()
    out = subprocess.run([sys.executable, "-c", script], check=False, env=env, capture_output=True, text=True,
                         timeout=120, cwd=CORPUS.parent)
    assert "FOUND final-state" in out.stdout, out.stdout + out.stderr[-2000:]
