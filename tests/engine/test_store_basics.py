"""engine._store.Store: the key/value contract of docs/CONTRACTS.md section 1."""
from __future__ import annotations

import pytest

from engine.errors import (
    ClosedError,
    CorruptDatabaseError,
    LockedError,
    ReadOnlyError,
    RecordTooLargeError,
    StorageError,
    TransactionError,
)
from tests.engine.store_support import (
    DB,
    FaultVFS,
    MemFS,
    Store,
    make_workload,
    model,
    native,
    run_until_error,
    setup_trees,
    state_of,
)


@pytest.fixture
def fs():
    return MemFS()


@pytest.fixture
def store(fs):
    s = Store(DB, vfs=fs)
    yield s
    s.close()


def test_a_new_store_is_empty_and_lists_created_trees_sorted(store):
    assert store.trees() == []
    assert store.create_tree("zeta") is True
    assert store.create_tree("alpha") is True
    assert store.create_tree("alpha") is False
    assert store.trees() == ["alpha", "zeta"]


def test_put_get_delete_report_what_they_did(store):
    store.create_tree("t")
    assert store.get("t", b"k") is None
    assert store.put("t", b"k", b"v1") is False
    assert store.put("t", b"k", b"v2") is True
    assert store.get("t", b"k") == b"v2"
    assert store.delete("t", b"k") is True
    assert store.delete("t", b"k") is False
    assert store.get("t", b"k") is None


def test_empty_keys_values_and_bytes_likes_are_accepted(store):
    store.create_tree("t")
    store.put("t", b"", b"")
    store.put("t", bytearray(b"ba"), memoryview(b"mv"))
    assert store.get("t", b"") == b""
    assert store.get("t", b"ba") == b"mv"


def test_unknown_tree_is_a_key_error_naming_it(store):
    with pytest.raises(KeyError) as caught:
        store.get("nope", b"k")
    assert caught.value.args == ("nope",)
    for call in (lambda: store.put("nope", b"k", b"v"), lambda: store.delete("nope", b"k"),
                 lambda: store.count("nope"), lambda: store.clear("nope"),
                 lambda: list(store.scan("nope"))):
        with pytest.raises(KeyError):
            call()
    assert store.drop_tree("nope") is False


def test_limits_raise_record_too_large_and_change_nothing(store):
    store.create_tree("t")
    assert native.MAX_KEY_SIZE == 1024 and native.MAX_VALUE_SIZE == 16 * 1024 * 1024
    store.put("t", b"k" * native.MAX_KEY_SIZE, b"ok")
    with pytest.raises(RecordTooLargeError):
        store.put("t", b"k" * (native.MAX_KEY_SIZE + 1), b"v")
    with pytest.raises(RecordTooLargeError):
        store.put("t", b"big", b"v" * (native.MAX_VALUE_SIZE + 1))
    assert store.count("t") == 1


def test_large_values_round_trip(store):
    store.create_tree("t")
    big = bytes(range(256)) * 40000          # ~10 MB: an overflow chain
    store.put("t", b"big", big)
    assert store.get("t", b"big") == big
    store.put("t", b"big", b"small")
    assert store.get("t", b"big") == b"small"
    store.check()


def test_scan_orders_bytewise_with_bounds_and_reverse(store):
    store.create_tree("t")
    keys = [b"", b"a", b"ab", b"b", b"\x00", b"\xff", b"a\x00"]
    for k in keys:
        store.put("t", k, b"v" + k)
    ordered = sorted(keys)
    assert [k for k, _ in store.scan("t")] == ordered
    assert [k for k, _ in store.scan("t", reverse=True)] == ordered[::-1]
    assert [k for k, _ in store.scan("t", b"a", b"b")] == [b"a", b"a\x00", b"ab"]
    assert [k for k, _ in store.scan("t", b"a", b"b", include_start=False, include_stop=True)] == \
        [b"a\x00", b"ab", b"b"]
    assert dict(store.scan("t"))[b"ab"] == b"vab"


def test_interleaved_scans_and_gets_return_their_own_items(store):
    """Scans and get() of one store share its result buffers; what each returns
    is its own copy, whatever the others read in between."""
    store.create_tree("s")
    store.create_tree("t")
    short = {b"%02d" % i: b"s" * i for i in range(20)}
    long = {b"key-%03d" % i: b"t" * (300 + 50 * i) for i in range(20)}
    for k, v in short.items():
        store.put("s", k, v)
    for k, v in long.items():
        store.put("t", k, v)
    got_s, got_t, fetched = [], [], []
    for (ks, vs), (kt, vt) in zip(store.scan("s"), store.scan("t", reverse=True)):
        got_s.append((ks, vs))
        got_t.append((kt, vt))
        fetched.append(store.get("t", kt))
    assert got_s == sorted(short.items())
    assert got_t == sorted(long.items(), reverse=True)
    assert fetched == [v for _, v in got_t]


def test_scan_survives_modification_of_the_tree(store):
    store.create_tree("t")
    for i in range(0, 2000, 2):
        store.put("t", b"%05d" % i, b"x")
    seen = []
    for key, _ in store.scan("t"):
        seen.append(key)
        n = int(key)
        store.delete("t", key)                       # delete what was just returned
        if n % 2 == 0:
            store.put("t", b"%05d" % (n + 1), b"odd")   # insert right after it
    # every even key, and every odd key inserted ahead of the cursor, once each
    assert seen == [b"%05d" % i for i in range(2000)]
    assert store.count("t") == 0


def test_a_scan_resumes_after_keys_of_every_length_while_the_tree_changes(store):
    """The cursor re-seeks from its copy of the last key after each change;
    short keys fit inside the cursor, longer ones move that copy to a buffer
    of its own, and a scan crossing from one to the other loses nothing."""
    store.create_tree("t")
    keys = sorted(bytes([65 + i % 26]) * n for i, n in enumerate((1, 15, 63, 64, 65, 66, 200, 1024)))
    for k in keys:
        store.put("t", k, b"v")
    seen = []
    for key, _ in store.scan("t"):
        seen.append(key)
        store.put("t", b"side", b"w")          # a change: the next step re-seeks
        store.delete("t", b"side")
    assert seen == keys


def test_lookups_keep_working_as_the_name_cache_grows_and_is_cleared(store):
    names = [f"tree-{i:02d}" for i in range(40)]      # well past the cache's first slots
    for name in names:
        store.create_tree(name)
        store.put(name, b"k", name.encode())
    assert [store.get(n, b"k") for n in names] == [n.encode() for n in names]
    store.begin()
    store.create_tree("doomed")
    store.rollback()                                  # clears the cache
    assert [store.get(n, b"k") for n in names] == [n.encode() for n in names]
    assert "doomed" not in store.trees()


def test_count_clear_and_drop(store):
    store.create_tree("t")
    for i in range(500):
        store.put("t", b"%04d" % i, b"v" * 100)
    assert store.count("t") == 500
    assert store.clear("t") == 500
    assert store.count("t") == 0
    assert store.drop_tree("t") is True
    assert store.trees() == []
    store.check()


def test_transactions_commit_and_roll_back(store):
    store.create_tree("t")
    store.put("t", b"keep", b"1")
    store.begin()
    assert store.in_transaction
    store.put("t", b"new", b"2")
    store.delete("t", b"keep")
    store.create_tree("u")
    assert store.get("t", b"new") == b"2"          # a transaction sees its own writes
    store.rollback()
    assert not store.in_transaction
    assert store.get("t", b"keep") == b"1" and store.get("t", b"new") is None
    assert store.trees() == ["t"]
    store.begin()
    store.put("t", b"new", b"2")
    store.commit()
    assert store.get("t", b"new") == b"2"


def test_transaction_misuse_is_a_transaction_error(store):
    with pytest.raises(TransactionError):
        store.commit()
    with pytest.raises(TransactionError):
        store.rollback()
    store.begin()
    with pytest.raises(TransactionError):
        store.begin()
    store.rollback()


def test_data_survives_close_and_reopen(fs):
    with Store(DB, vfs=fs) as s:
        s.create_tree("t")
        s.begin()
        for i in range(3000):
            s.put("t", b"%06d" % i, b"value-%d" % i)
        s.commit()
        s.delete("t", b"000007")
    with Store(DB, vfs=fs) as s:
        assert s.count("t") == 2999
        assert s.get("t", b"002999") == b"value-2999"
        assert s.get("t", b"000007") is None
        report = s.check()
        assert report["trees"]["t"]["entries"] == 2999
    assert sorted(fs.files()) == [DB, DB + "-wal"]


def test_os_files_work_the_same(tmp_path):
    path = tmp_path / "os.db"
    with Store(str(path)) as s:
        s.create_tree("t")
        s.put("t", b"k", b"v")
    with Store(path) as s:                          # os.PathLike accepted
        assert s.get("t", b"k") == b"v"
    assert path.stat().st_size % 4096 == 0
    assert (tmp_path / "os.db-wal").stat().st_size == 32   # checkpointed on close


def test_closed_store_raises_closed_error_and_close_is_idempotent(fs):
    s = Store(DB, vfs=fs)
    s.create_tree("t")
    s.close()
    s.close()
    assert s.closed
    with pytest.raises(ClosedError):
        s.get("t", b"k")
    with pytest.raises(ClosedError):
        s.begin()


def test_close_rolls_back_an_open_transaction(fs):
    s = Store(DB, vfs=fs)
    s.create_tree("t")
    s.begin()
    s.put("t", b"k", b"v")
    s.close()
    with Store(DB, vfs=fs) as s:
        assert s.get("t", b"k") is None


def test_missing_file_without_create_is_a_storage_error(fs, tmp_path):
    with pytest.raises(StorageError):
        Store("absent.db", vfs=fs, create=False)
    with pytest.raises(StorageError):
        Store(str(tmp_path / "absent.db"), create=False)
    assert fs.files() == []


def test_readonly_store_reads_and_refuses_writes(fs):
    with Store(DB, vfs=fs) as s:
        s.create_tree("t")
        s.put("t", b"k", b"v")
    before = {name: fs.read_file(name) for name in fs.files()}
    with Store(DB, vfs=fs, readonly=True) as r:
        assert r.get("t", b"k") == b"v"
        assert list(r.scan("t")) == [(b"k", b"v")]
        for write in (lambda: r.put("t", b"k", b"w"), lambda: r.delete("t", b"k"),
                      lambda: r.create_tree("u"), lambda: r.begin()):
            with pytest.raises(ReadOnlyError):
                write()
        assert r.get("t", b"k") == b"v"
    assert {name: fs.read_file(name) for name in fs.files()} == before, "a read-only Store wrote"


def test_readonly_store_sees_each_new_commit_and_never_an_uncommitted_one(fs):
    w = Store(DB, vfs=fs)
    w.create_tree("t")
    r = Store(DB, vfs=fs, readonly=True)
    for i in range(30):
        w.begin()
        w.put("t", b"n", b"%d" % i)
        w.put("t", b"m", b"%d" % i)
        assert r.get("t", b"n") == (b"%d" % (i - 1) if i else None)
        w.commit()
        assert r.get("t", b"n") == b"%d" % i == r.get("t", b"m")
        if i % 10 == 9:
            w.checkpoint()
    r.close()
    w.close()


def test_a_readonly_scan_sees_one_committed_state_from_first_to_last_item(fs):
    w = Store(DB, vfs=fs)
    w.create_tree("t")
    w.begin()
    for i in range(300):
        w.put("t", b"%04d" % i, b"old")
    w.commit()
    r = Store(DB, vfs=fs, readonly=True)
    seen = []
    for n, (key, value) in enumerate(r.scan("t")):
        seen.append(value)
        if n % 50 == 0:                       # the writer commits (and checkpoints) meanwhile
            w.begin()
            for i in range(300):
                w.put("t", b"%04d" % i, b"new%d" % n)
            w.commit()
            if n == 100:
                with pytest.raises(LockedError):   # the reader's snapshot pins the log
                    w.checkpoint()
    assert seen == [b"old"] * 300
    assert r.get("t", b"0000") == b"new250"     # the next call sees the newest commit
    w.checkpoint()                              # and the log can be checkpointed again
    assert r.get("t", b"0299") == b"new250"
    r.close()
    w.close()


def test_not_a_database_is_corrupt_and_not_overwritten(fs):
    fs.write_file(DB, b"hello, I am a text file")
    with pytest.raises(CorruptDatabaseError):
        Store(DB, vfs=fs)
    assert fs.read_file(DB) == b"hello, I am a text file"
    fs.write_file(DB, b"\x00" * 8192)
    with pytest.raises(CorruptDatabaseError) as caught:
        Store(DB, vfs=fs)
    assert caught.value.page == 0


def test_bad_arguments_are_type_and_value_errors(fs):
    with pytest.raises(TypeError):
        Store(DB, vfs=object())
    with pytest.raises(ValueError):
        Store(DB, vfs=fs, lock_timeout=-1)
    with pytest.raises(ValueError):
        Store(DB, vfs=fs, cache_pages=0)
    with Store(DB, vfs=fs) as s:
        s.create_tree("t")
        with pytest.raises(TypeError):
            s.put("t", "str key", b"v")
        with pytest.raises(TypeError):
            s.get(b"t", b"k")


def test_stats_count_pages_frames_syncs_and_cache(store):
    store.create_tree("t")
    for i in range(200):
        store.put("t", b"%04d" % i, b"v" * 200)
    st = store.stats()
    for field in ("pages", "free_pages", "wal_frames", "cache_hits", "cache_misses", "checkpoints",
                  "syncs", "commits"):
        assert field in st
    assert st["pages"] >= 10 and st["wal_frames"] > 0
    assert st["syncs"] >= 200          # one log sync per autocommitted put


def test_a_memfs_without_synced_copies_holds_the_same_database_and_refuses_a_power_loss():
    """MemFS(power_loss=False), which the ops and file fuzz targets run on: every
    sync is free, what is written is read back across close and reopen as on a
    MemFS(), and a power loss, which it could not simulate, is refused."""
    workload = make_workload(seed=7, transactions=30)
    states = {}
    for power_loss in (True, False):
        fs = MemFS(power_loss=power_loss)
        assert fs.power_loss is power_loss
        with Store(DB, vfs=fs, checkpoint_pages=8) as s:
            setup_trees(s)
            assert run_until_error(s, workload) == (len(workload), None)
        with Store(DB, vfs=fs) as again:
            states[power_loss] = state_of(again)
            again.check()
        states[power_loss, "file"] = fs.read_file(DB)
    assert states[True] == states[False] == model(workload, len(workload))
    assert states[True, "file"] == states[False, "file"]        # byte for byte (the log's salts differ)
    with pytest.raises(ValueError, match=r"keeps synced contents .*MemFS\(power_loss=False\)"):
        FaultVFS(MemFS(power_loss=False)).power_loss()
    with pytest.raises(TypeError):
        MemFS(False)                                                # keyword only


def test_memfs_files_can_be_read_written_and_removed():
    fs = MemFS()
    assert fs.files() == []
    fs.write_file("x", b"abc")
    assert fs.files() == ["x"] and fs.read_file("x") == b"abc"
    assert fs.remove("x") is True and fs.remove("x") is False
    with pytest.raises(FileNotFoundError):
        fs.read_file("x")
