"""proctor.tasks.sql on real SQLite, PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306)."""

from __future__ import annotations

import uuid

import pytest

from proctor import Flow, Parameter
from proctor.core.errors import TaskOptionError
from proctor.recording.memory import MemoryRecorder
from proctor.states import StateType
from proctor.tasks.sql import SqlInsert, SqlQuery

SERVERS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test",
}


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def database(request, tmp_path):
    """(url, table): a fresh table name on a real database, dropped afterwards."""
    url = f"sqlite:///{tmp_path / 'tasks.db'}" if request.param == "sqlite" \
        else SERVERS[request.param]
    table = f"orders_{uuid.uuid4().hex[:10]}"
    SqlQuery(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, customer VARCHAR(50), "
             f"total INTEGER)", url=url, fetch="none").run()
    try:
        yield url, table
    finally:
        SqlQuery(f"DROP TABLE {table}", url=url, fetch="none").run()


ROWS = [{"id": i, "customer": name, "total": 10 * i}
        for i, name in enumerate(["Ada", "O'Brien", "Lin", "Ada"], start=1)]


def test_insert_then_query_with_bound_parameters(database, basic_executor):
    url, table = database
    save = SqlInsert(table, url=url, batch_size=3)
    every = SqlQuery(f"SELECT id, customer, total FROM {table} WHERE total >= :least "
                     f"ORDER BY id", url=url)
    who = SqlQuery(f"SELECT id FROM {table} WHERE customer = :name ORDER BY id", url=url,
                   rows="tuples")
    first = SqlQuery(f"SELECT customer FROM {table} ORDER BY id", url=url, fetch="one")
    some = SqlQuery(f"SELECT id FROM {table} ORDER BY id", url=url, fetch="many", fetch_size=2,
                    rows="tuples")
    bump = SqlQuery(f"UPDATE {table} SET total = total + 1 WHERE customer = :name", url=url,
                    fetch="none")
    with Flow("sql", executor=basic_executor) as f:
        least = Parameter("least", default=20)
        inserted = save(ROWS)
        big = every(params={"least": least}, upstream_tasks=[inserted])
        quoted = who(params={"name": "O'Brien"}, upstream_tasks=[inserted])
        top = first(upstream_tasks=[inserted])
        two = some(upstream_tasks=[inserted])
        touched = bump(params={"name": "Ada"}, upstream_tasks=[big, quoted, top, two])
    state = f.run()
    assert state.is_successful(), state
    assert state.result[inserted].result == 4
    assert state.result[big].result == [
        {"id": 2, "customer": "O'Brien", "total": 20}, {"id": 3, "customer": "Lin", "total": 30},
        {"id": 4, "customer": "Ada", "total": 40}]
    assert state.result[quoted].result == [(2,)]  # the quote was a value, not SQL
    assert state.result[top].result == {"customer": "Ada"}
    assert state.result[two].result == [(1,), (2,)]
    assert state.result[touched].result == 2


def test_sql_errors_name_the_database_and_what_failed(database):
    url, table = database
    with Flow("sql-errors") as f:
        bad = SqlQuery("SELEC nothing", url=url)()
        missing = SqlQuery("SELECT * FROM no_such_table_here", url=url)()
        duplicate = SqlInsert(table, url=url)([{"id": 1, "customer": "a", "total": 1},
                                               {"id": 1, "customer": "b", "total": 2}])
        ragged = SqlInsert(table, url=url)([{"id": 7}, {"id": 8, "customer": "x"}])
    state = f.run()
    database_name = url.rsplit("/", 1)[-1]
    for node in (bad, missing):
        message = state.result[node].message
        assert state.result[node].type is StateType.FAILED
        assert message.startswith("query on ") and database_name in message, message
    assert state.result[duplicate].message.startswith(f"insert into {table} on ")
    assert "every row needs the same columns" in state.result[ragged].message
    left = SqlQuery(f"SELECT COUNT(*) AS n FROM {table}", url=url, fetch="one").run()
    assert left == {"n": 0}  # the failed insert left nothing behind (one transaction)


def test_a_refused_connection_is_retried_then_fails_without_the_password():
    recorder = MemoryRecorder()
    down = SqlQuery("SELECT 1", url="postgresql+psycopg://ada:pa55word@127.0.0.1:9/test",
                    max_retries=1, retry_delay=0)
    with Flow("sql-down") as f:
        out = down()
    state = f.run(observers=[recorder])
    message = state.result[out].message
    assert "cannot connect to postgresql+psycopg://ada:***@127.0.0.1:9/test" in message
    assert "pa55word" not in message
    assert recorder.history("sql_query") == ["Running", "Retrying", "Running", "Failed"]


def test_named_connections_and_options_checked_where_written(monkeypatch, tmp_path):
    monkeypatch.setenv("PROCTOR_CONNECTION_WAREHOUSE", f"sqlite:///{tmp_path / 'w.db'}")
    assert SqlQuery("SELECT 1 AS one", connection="warehouse", fetch="one").run() == {"one": 1}
    with pytest.raises(TaskOptionError, match="PROCTOR_CONNECTION_NOWHERE"):
        SqlQuery("SELECT 1", connection="nowhere")
    with pytest.raises(TaskOptionError, match="exactly one of url"):
        SqlQuery("SELECT 1")
    with pytest.raises(TaskOptionError, match="fetch='some'"):
        SqlQuery("SELECT 1", url="sqlite://", fetch="some")
    with pytest.raises(TaskOptionError, match="rows='xml'"):
        SqlQuery("SELECT 1", url="sqlite://", rows="xml")
    with pytest.raises(TaskOptionError, match="not a database URL"):
        SqlQuery("SELECT 1", url="not a url")
    with pytest.raises(TaskOptionError, match="must be a table name"):
        SqlInsert("orders; DROP TABLE x", url="sqlite://")
