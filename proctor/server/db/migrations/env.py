"""Alembic's entry point: run the migrations on the connection Proctor hands over.

Proctor always calls Alembic programmatically (`proctor.server.db.migrate`) with an open
connection in `config.attributes["connection"]`; the `alembic` command line also works when
`sqlalchemy.url` is set. Logging is left alone: the server's logging is not Alembic's to change.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from proctor.server.db.engine import create_engine_for
from proctor.server.db.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine_for(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


main()
