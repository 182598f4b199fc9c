"""The triage store: where it lives, its schema, SQLite settings, and clear errors."""
from __future__ import annotations

import sqlite3
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from tests.triage import support
from triage import store as store_module
from triage.errors import CorruptStoreError, StoreError, StoreUnavailableError
from triage.models import Bucket
from triage.store import default_url, open_store, parse_url

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

store, store_url = support.store, support.store_url  # shared fixtures


def test_default_store_is_a_sqlite_file_under_blazefuzz_home(tmp_path, monkeypatch):
    monkeypatch.delenv("BLAZEFUZZ_TRIAGE_STORE", raising=False)
    monkeypatch.setenv("BLAZEFUZZ_HOME", str(tmp_path / "home"))
    assert default_url() == f"sqlite:///{tmp_path / 'home' / 'triage.sqlite'}"
    with open_store() as opened:
        assert opened.data_dir == tmp_path / "home"
        assert opened.testcase_path("ab" * 32) == tmp_path / "home/testcases/ab" / ("ab" * 32)
    assert (tmp_path / "home" / "triage.sqlite").is_file()


def test_default_home_is_dot_blazefuzz_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("BLAZEFUZZ_TRIAGE_STORE", raising=False)
    monkeypatch.delenv("BLAZEFUZZ_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_url() == "sqlite:///.blazefuzz/triage.sqlite"


def test_open_creates_the_schema_at_the_newest_revision_and_reopening_keeps_data(store_url):
    with open_store(store_url) as first:
        first.write(lambda s: s.add(Bucket(signature_digest="d" * 64, signature_key="k",
                                           crash_type="KeyError", frames_json="[]", kind="crash",
                                           title="", status="new", severity="low",
                                           severity_rank=1)))
        revision = first.read(lambda s: s.execute(text("select version_num from alembic_version")).scalar())
    assert revision == "0001_initial"
    with open_store(store_url) as second:
        assert second.read(lambda s: s.query(Bucket).count()) == 1


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(store):
    def pragmas(session):
        return (session.execute(text("PRAGMA journal_mode")).scalar(),
                session.execute(text("PRAGMA busy_timeout")).scalar(),
                session.execute(text("PRAGMA synchronous")).scalar())
    mode, timeout, synchronous = store.read(pragmas)
    assert mode == "wal"
    assert timeout == store_module.SQLITE_BUSY_TIMEOUT_MS
    assert synchronous == 2  # FULL: a committed ingest survives power loss


def test_postgres_scheme_means_psycopg():
    assert parse_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert parse_url("sqlite:///x.sqlite").drivername == "sqlite"


def test_a_bad_url_is_a_store_error_naming_the_expected_form():
    with pytest.raises(StoreError, match="bad store URL"):
        open_store("not a url")


def test_a_directory_given_as_the_store_file_is_refused(tmp_path):
    with pytest.raises(StoreError, match="is a directory"):
        open_store(f"sqlite:///{tmp_path}")


def test_a_corrupt_store_file_is_reported_at_once_and_left_in_place(tmp_path):
    path = tmp_path / "triage.sqlite"
    garbage = b"this is not a database" * 300
    path.write_bytes(garbage)
    with pytest.raises(CorruptStoreError, match="not a usable database.*move the file aside"):
        open_store(f"sqlite:///{path}", retry_seconds=30)  # no retrying a corrupt file
    assert path.read_bytes() == garbage


def test_cli_reports_a_corrupt_store_in_one_line_with_exit_2(tmp_path):
    from triage.cli import triage
    path = tmp_path / "triage.sqlite"
    path.write_bytes(b"\0garbage" * 1000)
    result = CliRunner().invoke(triage, ["list", "--store", f"sqlite:///{path}"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("blazefuzz triage: error: triage store")


def test_a_locked_sqlite_store_is_retried_then_reported(store_url, monkeypatch):
    monkeypatch.setattr(store_module, "SQLITE_BUSY_TIMEOUT_MS", 50)
    opened = open_store(store_url, retry_seconds=0.5)
    holder = sqlite3.connect(opened.url.database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailableError, match="stayed locked or unreachable"):
            opened.write(lambda s: s.execute(text("DELETE FROM buckets")))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    opened.write(lambda s: s.execute(text("DELETE FROM buckets")))  # usable once released
    opened.close()


def test_an_unreachable_server_is_retried_with_backoff_then_reported():
    with pytest.raises(StoreUnavailableError, match=r"through \d+ attempts over 0.6s"):
        open_store("postgresql://postgres@127.0.0.1:1/test", retry_seconds=0.6)


@pytest.mark.postgres
def test_postgres_store_opens_migrates_and_writes(pg_url, tmp_path):
    with open_store(pg_url, home=tmp_path) as opened:
        assert opened.testcases_dir == tmp_path / "testcases"  # server store: files under home
        opened.write(lambda s: s.add(Bucket(signature_digest="e" * 64, signature_key="k",
                                            crash_type="KeyError", frames_json="[]", kind="crash",
                                            title="", status="new", severity="low",
                                            severity_rank=1)))
        assert opened.read(lambda s: s.query(Bucket).count()) == 1
    with open_store(pg_url, home=tmp_path) as again:  # second open: schema already at head
        assert again.read(lambda s: s.query(Bucket).count()) == 1


@pytest.fixture
def pg_url():
    yield from postgres_schema()


def postgres_schema():
    """A fresh schema on the local server for one test, dropped afterwards (or a skip)."""
    import psycopg
    try:
        admin = psycopg.connect("host=127.0.0.1 port=5432 dbname=test user=postgres",
                                connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 (database test) is not available: {exc}")
    schema = f"triage_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


def test_the_migrations_build_exactly_the_models_schema(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from triage.models import Base

    def diff(session):
        context = MigrationContext.configure(session.connection())
        return compare_metadata(context, Base.metadata)
    assert store.read(diff) == []
