"""SQL as tasks, with SQLAlchemy: queries with bound parameters, and many-row inserts.

    from proctor.tasks.sql import SqlInsert, SqlQuery

    recent = SqlQuery("SELECT id, total FROM orders WHERE day = :day", connection="warehouse",
                      fetch="all", rows="dicts")
    save = SqlInsert("orders_copy", url="sqlite:///copy.db")
    with Flow("orders") as f:
        save(recent(params={"day": "2026-12-06"}))

Parameters are always bound (`:name` placeholders, SQLAlchemy's `text()`), never formatted into
the SQL. `fetch` is "all" (a list), "one" (the first row, or None), "many" (`fetch_size` rows)
or "none" (for statements: the number of rows they touched). Rows come back as tuples
(`rows="tuples"`), dicts (`"dicts"`, the default) or a pandas DataFrame (`"dataframe"`, when
pandas is installed).

The database is `url=` (e.g. `postgresql+psycopg://user@127.0.0.1/db`,
`mysql+pymysql://root@127.0.0.1/test`, `sqlite:///file.db`) or `connection="name"`: the URL in
the environment variable `PROCTOR_CONNECTION_<NAME>`. One engine (a connection pool) per URL
per process. Errors name the database (its URL without the password) and what failed; a lost or
refused connection asks for a retry (`RETRY`, within the task's `max_retries`). Needs
`pip install proctor[sql]` (SQLAlchemy and the MariaDB driver) and, for PostgreSQL,
`proctor[postgres]`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from ..core.errors import TaskOptionError
from ..core.signals import FAIL, RETRY
from ..core.task import Task

FETCH = ("all", "one", "many", "none")
ROWS = ("dicts", "tuples", "dataframe")
_ENGINES: dict[str, Any] = {}
_ENGINES_LOCK = threading.Lock()


def _sqlalchemy(owner: str) -> Any:
    try:
        import sqlalchemy
    except ImportError:
        raise TaskOptionError(
            f"{owner} needs SQLAlchemy: pip install 'proctor[sql]'"
        ) from None
    return sqlalchemy


def resolve_url(owner: str, url: str | None, connection: str | None) -> str:
    """The database URL of `url=` or of the named `connection=` (its environment variable)."""
    if (url is None) == (connection is None):
        raise TaskOptionError(f"{owner}: give exactly one of url='dialect://...' or "
                              f"connection='name'")
    if connection is not None:
        variable = f"PROCTOR_CONNECTION_{str(connection).upper()}"
        url = os.environ.get(variable)
        if not url:
            raise TaskOptionError(f"{owner}: connection {connection!r} is not configured: set "
                                  f"{variable} to its URL, e.g. postgresql+psycopg://user@host/db")
    sqlalchemy = _sqlalchemy(owner)
    try:
        sqlalchemy.engine.make_url(url)
    except Exception as exc:
        raise TaskOptionError(f"{owner}: url {shown(url)!r} is not a database URL ({exc})") \
            from None
    return url


def shown(url: str) -> str:
    """A URL fit for a message: with its password hidden."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database>"


def _forget_engines_in_child() -> None:
    """After a fork (a worker of the processes executor), the parent's pools stay the parent's:
    the child lets go of them without closing their connections (SQLAlchemy's own advice), and
    makes its own when it needs one."""
    global _ENGINES_LOCK
    _ENGINES_LOCK = threading.Lock()  # another thread may have held it at the fork
    for engine in list(_ENGINES.values()):
        engine.dispose(close=False)
    _ENGINES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_engines_in_child)


def engine_for(url: str) -> Any:
    """The process's engine (connection pool) for `url`, made once."""
    engine = _ENGINES.get(url)
    if engine is None:
        with _ENGINES_LOCK:
            engine = _ENGINES.get(url)
            if engine is None:
                import sqlalchemy

                engine = _ENGINES[url] = sqlalchemy.create_engine(url, pool_pre_ping=True)
    return engine


def _describe(exc: Exception) -> str:
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines() or [""]
    return f"{type(cause).__name__}: {lines[0][:500]}"


def _fail(exc: Exception, where: str) -> Exception:
    """The signal a database error becomes: RETRY when the connection was lost on the way,
    FAIL otherwise (bad SQL, a constraint, a missing table)."""
    message = f"{where}: {_describe(exc)}"
    if getattr(exc, "connection_invalidated", False):
        return RETRY(message)
    return FAIL(message)


def connect(url: str) -> Any:
    """A connection from the pool of `url`; a connection that cannot be made asks for a retry
    (RETRY, within the task's max_retries), naming the database."""
    from sqlalchemy import exc as errors

    try:
        return engine_for(url).connect()
    except errors.SQLAlchemyError as exc:
        raise RETRY(f"cannot connect to {shown(url)}: {_describe(exc)}") from exc


class _SqlTask(Task):
    def _bind(self, url: str | None, connection: str | None) -> None:
        self.url = resolve_url(f"task {self.name!r}", url, connection)

    def _database(self) -> str:
        return shown(self.url)


class SqlQuery(_SqlTask):
    """Run one SQL statement with bound parameters; the result per `fetch` and `rows`."""

    def __init__(self, query: str | None = None, *, url: str | None = None,
                 connection: str | None = None, params: Mapping[str, Any] | None = None,
                 fetch: str = "all", fetch_size: int = 1000, rows: str = "dicts",
                 **options: Any) -> None:
        options.setdefault("name", "sql_query")
        super().__init__(**options)
        owner = f"task {self.name!r}"
        if fetch not in FETCH:
            raise TaskOptionError(f"{owner}: fetch={fetch!r}; use one of {', '.join(FETCH)}")
        if rows not in ROWS:
            raise TaskOptionError(f"{owner}: rows={rows!r}; use one of {', '.join(ROWS)}")
        if isinstance(fetch_size, bool) or not isinstance(fetch_size, int) or fetch_size < 1:
            raise TaskOptionError(f"{owner}: fetch_size={fetch_size!r} must be >= 1")
        if query is not None and (not isinstance(query, str) or not query.strip()):
            raise TaskOptionError(f"{owner}: query must be SQL text, got {query!r}")
        if params is not None and not isinstance(params, Mapping):
            raise TaskOptionError(f"{owner}: params= takes a dict of :name values")
        if rows == "dataframe":
            try:
                import pandas  # noqa: F401
            except ImportError:
                raise TaskOptionError(f"{owner}: rows='dataframe' needs pandas: pip install "
                                      f"pandas") from None
        self._bind(url, connection)
        self.query, self.params = query, dict(params or {})
        self.fetch, self.fetch_size, self.rows = fetch, fetch_size, rows

    def run(self, query: str | None = None, params: Mapping[str, Any] | None = None) -> Any:
        from sqlalchemy import exc as errors
        from sqlalchemy import text

        sql = query if query is not None else self.query
        if not sql:
            raise TaskOptionError(f"task {self.name!r}: no query; give SqlQuery('SELECT ...') "
                                  f"or call it with query=...")
        values = {**self.params, **(params or {})}
        where = f"query on {self._database()}"
        with connect(self.url) as conn:
            try:
                with conn.begin():
                    return self._fetch(conn.execute(text(sql), values))
            except errors.SQLAlchemyError as exc:
                raise _fail(exc, where) from exc

    def _fetch(self, result: Any) -> Any:
        if self.fetch == "none" or not result.returns_rows:
            return result.rowcount
        if self.fetch == "one":
            row = result.first()
            return None if row is None else self._shape([row], result.keys())[0]
        found = result.fetchmany(self.fetch_size) if self.fetch == "many" else result.fetchall()
        return self._shape(found, result.keys())

    def _shape(self, found: list, keys: Iterable[str]) -> Any:
        names = list(keys)
        if self.rows == "tuples":
            return [tuple(row) for row in found]
        if self.rows == "dataframe":
            import pandas

            return pandas.DataFrame([tuple(row) for row in found], columns=names)
        return [dict(zip(names, row, strict=True)) for row in found]


class SqlInsert(_SqlTask):
    """Insert many rows (dicts of column values) into `table` in one transaction; returns how
    many were inserted. Uses the driver's executemany, in batches of `batch_size`."""

    def __init__(self, table: str, *, url: str | None = None, connection: str | None = None,
                 batch_size: int = 10_000, **options: Any) -> None:
        options.setdefault("name", "sql_insert")
        super().__init__(**options)
        owner = f"task {self.name!r}"
        if not isinstance(table, str) or not table.replace("_", "").replace(".", "").isalnum():
            raise TaskOptionError(f"{owner}: table={table!r} must be a table name (letters, "
                                  f"digits, '_', optionally schema.table)")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise TaskOptionError(f"{owner}: batch_size={batch_size!r} must be >= 1")
        self._bind(url, connection)
        self.table, self.batch_size = table, batch_size
        self._statement: Any = None

    def run(self, rows: Iterable[Mapping[str, Any]]) -> int:
        from sqlalchemy import exc as errors

        batch = [dict(row) for row in rows or ()]
        if not batch:
            return 0
        columns = list(batch[0])
        for number, row in enumerate(batch):
            if list(row) != columns:
                raise FAIL(f"task {self.name!r}: row {number} has columns {sorted(row)}, the "
                           f"first row {sorted(columns)}: every row needs the same columns")
        where = f"insert into {self.table} on {self._database()}"
        statement = self._insert(columns)
        with connect(self.url) as conn:
            try:
                with conn.begin():
                    for start in range(0, len(batch), self.batch_size):
                        conn.execute(statement, batch[start:start + self.batch_size])
            except errors.SQLAlchemyError as exc:
                raise _fail(exc, where) from exc
        return len(batch)

    def _insert(self, columns: list[str]) -> Any:
        import sqlalchemy

        schema, _, name = self.table.rpartition(".")
        table = sqlalchemy.table(name, *(sqlalchemy.column(c) for c in columns),
                                 schema=schema or None)
        return sqlalchemy.insert(table)


__all__ = ["SqlInsert", "SqlQuery", "engine_for", "resolve_url"]
