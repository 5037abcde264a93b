"""Fixtures of the server tests: one suite, run on SQLite and on PostgreSQL.

`database_url` is parameterised over both backends; every test that uses it (directly or via
`database` / `client`) runs twice. SQLite gets a fresh file per test (copied from one migrated
template, which is faster than migrating each time). PostgreSQL gets one fresh database per test
session, created on the server at `PROCTOR_TEST_POSTGRES_URL` (default: the local server,
user postgres) and dropped at the end; each test starts with its tables emptied.

Without a reachable PostgreSQL the PostgreSQL half is skipped, with the way to enable it, except
under CI (`CI=true`), where it fails: CI must not pass while testing one backend only.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The server's own imports are heavy; they load only when these tests run.
from proctor.server.db import migrate
from proctor.server.db.engine import Database
from proctor.server.db.models import TABLE_NAMES

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ENABLE_POSTGRES = (
    "start PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) "
    "or set PROCTOR_TEST_POSTGRES_URL"
)
#: Where test clients send their requests: a Host name the server answers (the default
#: `testserver` is not one; see proctor.server.api.guards).
BASE_URL = "http://127.0.0.1"



def pytest_configure(config: pytest.Config) -> None:
    # Starlette warns that its test client will move from httpx to another package one day.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")


def _admin_connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                           autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session (dropped at the end)."""
    import psycopg
    from psycopg import sql

    admin_url = os.environ.get("PROCTOR_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    try:
        admin = _admin_connect(admin_url)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL unreachable at {admin_url} ({exc}); {ENABLE_POSTGRES}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    name = f"proctor_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = admin_url.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    database = Database(url)
    try:
        migrate.upgrade(database)
    finally:
        database.dispose()
    yield url
    with _admin_connect(admin_url) as admin:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        admin.execute(drop.format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    database = Database(f"sqlite:///{path}")
    try:
        migrate.upgrade(database)
        with database.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        database.dispose()
    return path


def _empty_postgres(url: str) -> None:
    tables = ", ".join(TABLE_NAMES)
    with _admin_connect(url) as connection:
        connection.execute(f"TRUNCATE {tables} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "proctor.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A `Database` on `database_url`, disposed after the test."""
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def make_client(database_url: str, monkeypatch: pytest.MonkeyPatch):
    """make_client(**env) -> a started TestClient of an app made with those PROCTOR_* settings
    (e.g. PROCTOR_API_KEY="k"); closed after the test. The background services are off: tests
    drive the scheduler and reaper with `run_once(now)` at the times they choose."""
    from fastapi.testclient import TestClient

    from proctor.server.api.app import create_app

    clients: list[TestClient] = []
    for key in ("PROCTOR_API_KEY", "PROCTOR_API_MAX_BODY_BYTES", "PROCTOR_AGENT_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)

    def make(**env: str) -> TestClient:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        client = TestClient(create_app(database_url, services=False), base_url=BASE_URL)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    """A TestClient of an app over an empty database, with no API key."""
    return make_client()


@pytest.fixture
def new_run(client):
    """new_run(**fields) -> a flow run created through the API (flow 'etl' unless named)."""

    def create(**fields: Any) -> dict:
        body = {"flow_name": "etl", **fields}
        response = client.post("/api/flow_runs", json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    return create


def hex_id() -> str:
    """A fresh id in the API's format."""
    return uuid.uuid4().hex


@pytest.fixture
def ids():
    """ids() -> a fresh 32-hex id (fixtures are how tests here share helpers)."""
    return hex_id


@pytest.fixture
def deploy(client):
    """deploy(**fields) -> a deployment created or updated through the API (flow 'etl', name
    'nightly' and entrypoint 'flows/etl.py:etl' unless given)."""

    def upsert(**fields: Any) -> dict:
        body = {"flow_name": "etl", "name": "nightly", "entrypoint": "flows/etl.py:etl", **fields}
        response = client.post("/api/deployments", json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    return upsert
