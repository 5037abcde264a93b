"""The migrations: they create every table on each backend, match the models exactly, can run
twice, and reset to empty. Plus the engine settings that SQLite's concurrency relies on."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from proctor.server.db import migrate
from proctor.server.db import queries as q
from proctor.server.db.engine import Database, normalize_url
from proctor.server.db.models import TABLE_NAMES, Base

EXPECTED_TABLES = {
    "flows", "flow_runs", "task_runs", "states", "logs", "deployments", "work_queues",
    "agents", "concurrency_limits", "concurrency_slots", "ui_sessions",
}


def test_the_models_declare_every_table():
    assert set(TABLE_NAMES) == EXPECTED_TABLES


@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression")
def test_migrations_create_every_table_and_match_the_models(database: Database):
    assert migrate.current_revision(database) == migrate.head_revision()
    assert set(inspect(database.engine).get_table_names()) >= EXPECTED_TABLES
    with database.engine.connect() as connection:
        dialect = connection.dialect.name

        def for_this_database(obj, name, type_, reflected, compare_to) -> bool:
            # An index declared for one database only (`ddl_if`) is not expected on another.
            condition = getattr(obj, "_ddl_if", None)
            return condition is None or condition.dialect in (None, dialect)

        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": for_this_database})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_run_list_indexes_exist(database: Database):
    found = inspect(database.engine).get_indexes("flow_runs")
    indexes = {tuple(ix["column_names"]) for ix in found}
    assert {("flow_id", "created_at"), ("state_type", "created_at"), ("created_at",)} <= indexes
    by_name = {ix["name"]: ix for ix in found}
    if database.dialect == "postgresql":  # newest started first, not started last
        with database.engine.connect() as connection:
            definition = connection.execute(text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = "
                "'ix_flow_runs_start_time_desc_state_type'")).scalar_one()
        assert "start_time DESC NULLS LAST, state_type" in definition
    else:
        assert by_name["ix_flow_runs_start_time_state_type"]["column_names"] == [
            "start_time", "state_type"]


def test_upgrade_twice_is_harmless_and_reset_empties(database: Database):
    database.transact(lambda s: q.upsert_flow(s, "etl"))
    migrate.upgrade(database)
    with database.read() as s:
        assert [f.name for f in q.list_flows(s)] == ["etl"]
    migrate.reset(database)
    with database.read() as s:
        assert q.list_flows(s) == []
    assert migrate.current_revision(database) == migrate.head_revision()


def test_a_fresh_sqlite_file_in_a_missing_folder(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'new' / 'home' / 'proctor.db'}")
    try:
        assert migrate.current_revision(database) is None
        migrate.upgrade(database)
        assert set(inspect(database.engine).get_table_names()) >= EXPECTED_TABLES
    finally:
        database.dispose()


def test_sqlite_connections_are_set_up_for_concurrency(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        with database.engine.connect() as connection:
            pragma = {
                name: connection.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            }
        assert pragma == {"journal_mode": "wal", "busy_timeout": 30_000, "foreign_keys": 1}
    finally:
        database.dispose()


def test_sqlite_write_transactions_begin_immediate(tmp_path: Path):
    """A write transaction holds the write lock from its first statement: a second connection
    cannot start writing meanwhile (it would wait, here it is told at once)."""
    import sqlite3

    path = tmp_path / "lock.db"
    database = Database(f"sqlite:///{path}")
    try:
        migrate.upgrade(database)
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        with database.write() as session:
            session.execute(text("SELECT 1"))  # a read only, yet the lock is taken
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        with database.read() as session:
            session.execute(text("SELECT 1"))
            other.execute("BEGIN IMMEDIATE")  # readers do not hold the write lock
            other.execute("ROLLBACK")
        other.close()
    finally:
        database.dispose()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_urls_use_psycopg_3(given: str, expected: str):
    assert normalize_url(given) == expected


def test_unknown_databases_are_refused():
    with pytest.raises(ValueError, match="unsupported database"):
        Database("mysql://root@localhost/test")
