"""Bulk writes shared by the batch endpoint, the scheduler and the lifecycle verbs.

`bulk_insert` hands rows to the driver with as little per-row work as possible (PostgreSQL's
`COPY`, SQLite's `executemany` of tuples); `update_runs` writes the mirrored state columns of
many runs in one executemany UPDATE. Both keep statements per call constant, whatever the
number of rows, which is what keeps a batch of thousands of events cheap.
"""

from __future__ import annotations

import json
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Connection, Table, bindparam, insert, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .states import MIRROR_COLUMNS

#: The columns an UPDATE of a flow run's / a task run's current state writes.
FLOW_RUN_UPDATE = (*MIRROR_COLUMNS, "updated_at")
TASK_RUN_UPDATE = (*MIRROR_COLUMNS, "attempts", "updated_at")


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table`, handing them to the driver with
    as little per-row work as possible: PostgreSQL gets one `COPY ... FROM STDIN`, SQLite one
    `executemany` of plain tuples. Values go in as they are, except JSON columns, serialised as
    SQLAlchemy would. Driver errors come out as SQLAlchemy's (`IntegrityError`...), as from any
    other statement, so a lost race is retried the same way."""
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    values = _driver_values(connection, table, columns, rows)
    if dialect == "sqlite":
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", values)
    else:
        _copy(connection, table, columns, values)


def _driver_values(
    connection: Connection, table: Table, columns: list[str], rows: list[dict[str, Any]]
) -> list[Any]:
    """Each row as a tuple of `columns`' values, JSON ones serialised (None stays NULL)."""
    pick = itemgetter(*columns)
    if len(columns) == 1:
        return [(pick(row),) for row in rows]
    positions = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
    if not positions:
        return [pick(row) for row in rows]
    serialize = getattr(connection.dialect, "_json_serializer", None) or json.dumps
    values = []
    for row in rows:
        picked = list(pick(row))
        for i in positions:
            if picked[i] is not None:
                picked[i] = serialize(picked[i])
        values.append(tuple(picked))
    return values


def _copy(connection: Connection, table: Table, columns: list[str], values: list[Any]) -> None:
    from psycopg.sql import SQL, Identifier

    raw = connection.connection.dbapi_connection
    assert raw is not None
    statement = SQL("COPY {} ({}) FROM STDIN").format(
        Identifier(table.name), SQL(", ").join(Identifier(name) for name in columns)
    )
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in values:
                copy.write_row(row)
    except dbapi_error as exc:
        raise DBAPIError.instance(
            statement.as_string(raw), None, exc, dbapi_error, dialect=connection.dialect
        ) from exc


def update_runs(
    session: Session,
    table: Table,
    columns: tuple[str, ...],
    changed: dict[str, dict[str, Any]],
    skip: dict[str, dict[str, Any]],
) -> None:
    """One executemany UPDATE of `columns` for each run in `changed` (id -> its values), but
    those in `skip` (rows this transaction inserted with their values already)."""
    params = [
        {"run_id": run_id, **{column: values[column] for column in columns}}
        for run_id, values in changed.items()
        if run_id not in skip
    ]
    if params:
        statement = update(table).where(table.c.id == bindparam("run_id"))
        session.connection().execute(statement, params)
