"""Apply the Alembic migrations from inside Python: on server start and from `proctor server db`.

The migration scripts ship inside the package (`proctor/server/db/migrations`), so an installed
Proctor migrates its database with no `alembic.ini` and no source checkout. Each run holds the
database's write lock for its whole transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: an
advisory lock), so two servers starting at once do not both try to create the tables.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from .engine import Database

#: Where the migration scripts live (inside the installed package).
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Key of the PostgreSQL advisory lock that serializes migrations ("proctor" in ASCII).
_PG_MIGRATION_LOCK = 0x70726F63746F72


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")


def head_revision() -> str:
    """The newest revision the installed code knows."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None, "no migration scripts found"
    return head


def current_revision(database: Database) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the database up to `revision` (creating every table on an empty database)."""
    with database.write_connection() as connection:
        _lock(connection)
        command.upgrade(_config(connection), revision)


def downgrade(database: Database, revision: str) -> None:
    """Take the database back to `revision` ("base": no tables), e.g. to test an upgrade over
    data written by an older version."""
    with database.write_connection() as connection:
        _lock(connection)
        command.downgrade(_config(connection), revision)


def reset(database: Database) -> None:
    """Drop every Proctor table and create them again, empty. Destroys all recorded data."""
    with database.write_connection() as connection:
        _lock(connection)
        config = _config(connection)
        command.downgrade(config, "base")
        command.upgrade(config, "head")
