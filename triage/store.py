"""Opening the triage store: one SQLAlchemy engine, its schema migrated, its file area.

Where things live (documented here, shown by `blazefuzz triage --help`):

- the home directory is `$BLAZEFUZZ_HOME`, else `.blazefuzz/` in the working
  directory;
- the default store is the SQLite file `<home>/triage.sqlite`;
  `$BLAZEFUZZ_TRIAGE_STORE` or `--store URL` picks another one. Any SQLAlchemy
  URL works; `postgresql://...` is read as `postgresql+psycopg://...`;
- testcase files (the content-addressed copies, see triage/ingest.py) live in
  `testcases/` beside a SQLite store file, and in `<home>/testcases/` for a
  server store; rejected artifacts in `quarantine/` beside them.

SQLite is opened in WAL mode with a busy timeout and synchronous=FULL (a
committed ingest survives power loss too, so the artifact may be moved after
it). Transactions begin explicitly: `BEGIN IMMEDIATE` for writers, so two
writers never deadlock on a read-to-write lock upgrade.

A store that is locked or unreachable is retried with exponential backoff for
`retry_seconds` (default 15, `$BLAZEFUZZ_STORE_RETRY_SECONDS`), then reported
as StoreUnavailableError; a file that is not a database is CorruptStoreError
at once. The schema is created/upgraded by Alembic at open, under a lock
(SQLite's writer lock, PostgreSQL's advisory lock), so many processes may open
a fresh store at the same moment.
"""
from __future__ import annotations

import getpass
import os
import socket
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from triage.errors import CorruptStoreError, StoreError, StoreUnavailableError

HOME_ENV = "BLAZEFUZZ_HOME"
STORE_URL_ENV = "BLAZEFUZZ_TRIAGE_STORE"
RETRY_ENV = "BLAZEFUZZ_STORE_RETRY_SECONDS"
DEFAULT_RETRY_SECONDS = 15.0
SQLITE_BUSY_TIMEOUT_MS = 5000
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
PG_MIGRATION_LOCK = 0x626C617A  # "blaz": advisory lock id serializing schema upgrades

T = TypeVar("T")


def default_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or ".blazefuzz")


def default_url(home: Path | None = None) -> str:
    return os.environ.get(STORE_URL_ENV) or f"sqlite:///{(home or default_home()) / 'triage.sqlite'}"


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"bad store URL {url!r}: expected e.g. sqlite:///path/triage.sqlite "
                         f"or postgresql://user@host/db") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def actor() -> str:
    """Who did it, for history events: user@host:pid."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in a container
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


def _is_corruption(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return "file is not a database" in text or "malformed" in text


def _is_permanent(exc: DBAPIError) -> bool:
    """Errors no retry can fix: a SQLite file that cannot be opened (path, permissions)."""
    return "unable to open database file" in str(exc.orig).lower()


class Store:
    """An open triage store. Use `session()` for reads, `write(fn)` for writes."""

    def __init__(self, url: URL, engine: Engine, data_dir: Path, retry_seconds: float):
        self.url = url
        self.engine = engine
        self.data_dir = data_dir
        self.testcases_dir = data_dir / "testcases"
        self.quarantine_dir = data_dir / "quarantine"
        self.retry_seconds = retry_seconds
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")

    @property
    def display_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def testcase_path(self, sha256: str, suffix: str = "") -> Path:
        """Content-addressed file of a testcase: testcases/ab/abcdef...[suffix]."""
        return self.testcases_dir / sha256[:2] / f"{sha256}{suffix}"

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def write(self, fn: Callable[[Session], T], *, what: str = "write to the triage store") -> T:
        """Run fn(session) in one write transaction and commit; retried when locked/unreachable.

        fn must be safe to run again from scratch (it is, when it only touches the
        session): a retry starts a fresh transaction."""
        def attempt() -> T:
            with Session(self._writer, expire_on_commit=False) as session:
                with session.begin():
                    return fn(session)
        return self.retrying(attempt, what=what)

    def read(self, fn: Callable[[Session], T], *, what: str = "read the triage store") -> T:
        def attempt() -> T:
            with self.session() as session:
                return fn(session)
        return self.retrying(attempt, what=what)

    def retrying(self, fn: Callable[[], T], *, what: str) -> T:
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.05
        attempts = 0
        while True:
            attempts += 1
            try:
                return fn()
            except DBAPIError as exc:
                if _is_corruption(exc):
                    raise CorruptStoreError(
                        f"triage store {self.display_url} is not a usable database "
                        f"({str(exc.orig).splitlines()[0]}): move the file aside and run again; "
                        f"testcase files under {self.testcases_dir} are kept") from exc
                transient = ((isinstance(exc, OperationalError) or exc.connection_invalidated)
                             and not _is_permanent(exc))
                if not transient or time.monotonic() + delay > deadline:
                    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                    if not transient:
                        raise StoreError(f"could not {what} at {self.display_url}: {reason}") from exc
                    raise StoreUnavailableError(
                        f"could not {what}: store {self.display_url} stayed locked or unreachable "
                        f"through {attempts} attempts over {self.retry_seconds:g}s ({reason})") from exc
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, see _on_begin
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _make_engine(url: URL) -> Engine:
    try:
        if url.get_backend_name() == "sqlite":
            memory = url.database in (None, "", ":memory:")
            engine = create_engine(url, poolclass=StaticPool if memory else None,
                                   connect_args={"check_same_thread": False})
            _install_sqlite_hooks(engine)
            return engine
        connect_args = {"connect_timeout": 5} if url.get_backend_name() == "postgresql" else {}
        # No pre-ping: a dropped connection surfaces as OperationalError and Store.retrying
        # starts over on a fresh one, without a round trip per checkout.
        return create_engine(url, connect_args=connect_args)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"no database driver for store URL {url.render_as_string(True)}: {exc}") from exc


def migrate(store: Store) -> None:
    """Bring the schema to the newest Alembic revision (no-op when it already is)."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()

    def current() -> str | None:
        with store.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    if store.retrying(current, what="open the triage store") == head:
        return

    def upgrade() -> None:
        with store._writer.begin() as conn:  # BEGIN IMMEDIATE: the SQLite writer lock
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    try:
        store.retrying(upgrade, what="create or upgrade the triage store's schema")
    except CommandError as exc:
        raise StoreError(f"triage store {store.display_url} has a schema this blazefuzz does "
                         f"not know ({exc}); upgrade blazefuzz") from exc


def open_store(url: str | None = None, *, home: Path | None = None,
               retry_seconds: float | None = None) -> Store:
    """Open (creating and migrating if needed) the triage store at `url`."""
    home = Path(home) if home is not None else default_home()
    parsed = parse_url(url or default_url(home))
    if retry_seconds is None:
        retry_seconds = float(os.environ.get(RETRY_ENV) or DEFAULT_RETRY_SECONDS)
    data_dir = home
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        db_path = Path(parsed.database)
        if db_path.is_dir():
            raise StoreError(f"store path {db_path} is a directory; give the SQLite file, "
                             f"e.g. {db_path / 'triage.sqlite'}")
        data_dir = db_path.parent
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store directory {data_dir}: {exc.strerror}") from exc
    store = Store(parsed, _make_engine(parsed), data_dir, retry_seconds)
    try:
        migrate(store)
    except BaseException:
        store.close()
        raise
    return store


@contextmanager
def opened(url: str | None = None, **kwargs):
    store = open_store(url, **kwargs)
    try:
        yield store
    finally:
        store.close()
