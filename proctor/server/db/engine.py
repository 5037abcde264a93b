"""Engines and transactions for SQLite and PostgreSQL, behind one small `Database` object.

The API never opens connections itself: it asks a `Database` for a read transaction
(`read()`), a write transaction (`write()`), or to run a unit of work that is retried when a
concurrent writer got there first (`transact(work)`).

Why SQLite is set up the way it is:

- WAL journal: readers never block the writer and the writer never blocks readers.
- `busy_timeout`: a connection that finds the database locked waits (up to 30 s) instead of
  failing at once.
- Write transactions start with `BEGIN IMMEDIATE`. A plain (deferred) transaction that reads
  first and writes later must upgrade its lock mid-way; when two do that at once SQLite cannot
  wait its way out and fails one with "database is locked" whatever the busy timeout. Taking the
  write lock at BEGIN makes writers queue instead. The driver's own implicit BEGIN is switched
  off so that SQLAlchemy's `begin` event decides which BEGIN is sent.
- Within one process, writers also queue on a lock of their own before BEGIN. SQLite's busy
  handler waits by sleeping and polling, which is slow and unfair under many threads; a Python
  lock hands the database over in order and at once. Other processes on the same file still get
  the `BEGIN IMMEDIATE` + busy timeout guarantee.
- Foreign keys are off by default in SQLite; they are switched on for every connection.

PostgreSQL needs none of this: it runs at READ COMMITTED and the query verbs lock the rows they
change (`SELECT ... FOR UPDATE`). Deadlocks and serialization failures are retried by `transact`.

`last_outage_at` remembers when a transaction last failed because the database could not be
reached or used (an outage, a lost connection, a lock wait that ran out): meanwhile heartbeats
could not be recorded, so the reaper must not take the silence for dead agents. (A heartbeat
that only waited for a slow writer is stamped when its transaction begins, so it is never
recorded older than it is.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

T = TypeVar("T")

#: How long an SQLite connection waits for a lock held by another process, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Execution option that marks a connection as opened for writing (SQLite: BEGIN IMMEDIATE).
_WRITE_OPTION = "proctor_write"
#: PostgreSQL errors that mean "try the transaction again": serialization failure, deadlock.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def normalize_url(url: str) -> str:
    """Map the URL spellings people use to the drivers Proctor installs (psycopg 3)."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def dialect_of(url: str) -> str:
    """'sqlite' or 'postgresql' (the backend name without the driver)."""
    return make_url(normalize_url(url)).get_backend_name()


def _is_memory_sqlite(url: str) -> bool:
    database = make_url(url).database
    return not database or database == ":memory:"


def create_engine_for(url: str) -> Engine:
    """An engine for `url`, configured for concurrent use by the server's threads."""
    url = normalize_url(url)
    backend = dialect_of(url)
    if backend == "sqlite":
        return _sqlite_engine(url)
    if backend == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql:// URLs")


def _sqlite_engine(url: str) -> Engine:
    memory = _is_memory_sqlite(url)
    if not memory:
        # `PROCTOR_HOME` may not exist yet on a fresh machine; SQLite creates files, not folders.
        Path(make_url(url).database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if memory:
        # One shared connection, or every thread would see its own empty database.
        options["poolclass"] = StaticPool
    else:
        options.update(pool_size=10, max_overflow=30)
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN: `_begin` sends it
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        writing = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    return engine


def is_retryable(exc: BaseException) -> bool:
    """Did a transaction fail only because a concurrent one won a race (so a retry may pass)?"""
    if isinstance(exc, IntegrityError):
        return True  # e.g. two clients created the same id at once: the retry finds it
    if isinstance(exc, OperationalError):
        return getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES
    return False


class Database:
    """One database: its engine, its dialect name, and the transactions the API runs on it.

    Created by the app factory (never at import time) and disposed when the app stops.
    """

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.dialect = dialect_of(self.url)
        self.engine = create_engine_for(self.url)
        self._write_engine = self.engine.execution_options(**{_WRITE_OPTION: True})
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(bind=self._write_engine, expire_on_commit=False)
        sqlite = self.dialect == "sqlite"
        self._write_lock = threading.Lock() if sqlite else None
        # An in-memory SQLite database is one shared connection: readers must queue too.
        self._read_lock = self._write_lock if sqlite and _is_memory_sqlite(self.url) else None
        #: When a transaction last failed for want of a working database (epoch seconds).
        self.last_outage_at: float | None = None

    def _note_outage(self, exc: BaseException) -> None:
        if isinstance(exc, (InterfaceError, DisconnectionError)) or (
            isinstance(exc, OperationalError) and not is_retryable(exc)
        ):
            self.last_outage_at = time.time()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session in a read transaction (rolled back when it closes: reads change nothing)."""
        try:
            with self._read_lock or nullcontext(), self._sessions() as session:
                yield session
        except (OperationalError, InterfaceError, DisconnectionError) as exc:
            self._note_outage(exc)
            raise

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in a write transaction: committed when the block ends, else rolled back."""
        try:
            with self._write_lock or nullcontext(), self._write_sessions() as session:
                with session.begin():
                    yield session
        except (OperationalError, InterfaceError, DisconnectionError) as exc:
            self._note_outage(exc)
            raise

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A bare connection in a write transaction (for migrations and bulk maintenance)."""
        with self._write_lock or nullcontext(), self._write_engine.begin() as connection:
            yield connection

    def transact(self, work: Callable[[Session], T], *, attempts: int = 3) -> T:
        """Run `work(session)` in a write transaction; when it loses a race with a concurrent
        writer (duplicate key, deadlock), run it again so that it sees the winner's rows."""
        for attempt in range(1, attempts + 1):
            try:
                with self.write() as session:
                    return work(session)
            except (IntegrityError, OperationalError) as exc:
                if attempt == attempts or not is_retryable(exc):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def ping(self) -> None:
        """Raise when the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
            connection.rollback()

    def dispose(self) -> None:
        """Close every pooled connection (when the app stops, or a test ends)."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"
