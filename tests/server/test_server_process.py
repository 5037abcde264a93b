"""The real thing: `proctor server start` in its own process, spoken to over a TCP socket, and
`proctor server db upgrade|reset` on a real database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from proctor.cli.main import app as cli
from proctor.server.db import migrate
from proctor.server.db.engine import Database
from proctor.server.db.models import TABLE_NAMES
from proctor.server.db.queries import upsert_flow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A server process on a free port of 127.0.0.1, with its own home and SQLite file and an
    API key; stopped (and waited for) at the end. Yields its URL and its log file."""
    port = free_port()
    home = tmp_path / "home"
    log_path = tmp_path / "server.log"
    env = {
        **os.environ,
        "PROCTOR_HOME": str(home),
        "PROCTOR_DATABASE_URL": f"sqlite:///{home / 'server.db'}",
        "PROCTOR_API_KEY": "process-key",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "proctor.cli.main", "server", "start", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield url, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_run_recorded_over_http(server, tmp_path: Path):
    url, log_path = server
    headers = {"Authorization": "Bearer process-key"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
        assert httpx.get(f"{url}/api/flows").status_code == 401
        health = http.get("/api/health").json()
        assert health["status"] == "ok" and health["database"] == "sqlite"
        run = http.post("/api/flow_runs", json={"flow_name": "etl", "state": {"type": "RUNNING"}})
        assert run.status_code == 201
        run_id = run.json()["id"]
        task_id = "a" * 32
        batch = {
            "task_runs": [{"id": task_id, "flow_run_id": run_id, "task_key": "t",
                           "task_name": "t"}],
            "states": [
                {"id": "b" * 32, "flow_run_id": run_id, "task_run_id": task_id,
                 "state": {"type": "RUNNING"}},
                {"id": "c" * 32, "flow_run_id": run_id, "task_run_id": task_id,
                 "state": {"type": "SUCCESS"}},
            ],
            "logs": [{"id": "d" * 32, "flow_run_id": run_id, "level": 20, "message": "hello",
                      "timestamp": time.time()}],
        }
        assert http.post("/api/events", json=batch).json() == {
            "accepted": 4, "duplicates": 0, "rejected": []
        }
        done = http.post(f"/api/flow_runs/{run_id}/state", json={"state": {"type": "SUCCESS"}})
        assert done.status_code == 201
        again = http.post(f"/api/flow_runs/{run_id}/state", json={"state": {"type": "RUNNING"}})
        assert again.status_code == 409
        listed = http.get("/api/flow_runs", params={"state": "SUCCESS"}).json()["items"]
        assert [r["id"] for r in listed] == [run_id]
        logs = http.get(f"/api/flow_runs/{run_id}/logs").json()["items"]
        assert [line["message"] for line in logs] == ["hello"]
        too_big = http.post("/api/events", content=b"x" * (11 * 1024 * 1024),
                            headers={"content-type": "application/json"})
        assert too_big.status_code == 413
        assert 'proctor_flow_runs{state="SUCCESS"} 1' in http.get("/metrics").text
    output = log_path.read_text()
    assert f"Proctor server: {url}" in output
    assert (tmp_path / "home" / "server.db").exists()


def test_db_upgrade_and_reset_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("PROCTOR_DATABASE_URL", url)
    runner = CliRunner()

    result = runner.invoke(cli, ["server", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"upgraded from revision none to {migrate.head_revision()}" in result.output
    result = runner.invoke(cli, ["server", "db", "upgrade"])
    assert "is up to date" in result.output

    database = Database(url)
    try:
        database.transact(lambda s: upsert_flow(s, "kept"))
        refused = runner.invoke(cli, ["server", "db", "reset"], input="n\n")
        assert refused.exit_code == 1 and "Aborted" in refused.output
        assert _flow_count(database) == 1
        result = runner.invoke(cli, ["server", "db", "reset", "--yes"])
        assert result.exit_code == 0 and "was reset" in result.output
        assert _flow_count(database) == 0
        assert set(TABLE_NAMES) <= set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()


def _flow_count(database: Database) -> int:
    with database.engine.connect() as connection:
        return connection.exec_driver_sql("SELECT count(*) FROM flows").scalar_one()


def test_start_reports_an_unusable_database(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(
        cli, ["server", "start", "--database-url", f"sqlite:///{blocker}/x/y.db"]
    )
    assert result.exit_code != 0
