"""What the recorder does with events a server cannot or will not take: nothing is lost but the
one event refused, and a refused API key loses nothing.

Text a database cannot store is cleaned before it leaves (checked against the real server on
SQLite and PostgreSQL); a refused batch is narrowed down to the event refused (checked against a
real HTTP listener on 127.0.0.1 that refuses one marked event, as a server would refuse a bad
one)."""

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from proctor import Flow, get_run_logger, task
from proctor.client import ProctorClient
from proctor.recording.api import ApiRecorder, clean_text

BAD_TEXT = "nul\x00 and a lone surrogate \ud800 here"


def test_clean_text_replaces_what_no_database_stores():
    assert clean_text(BAD_TEXT) == "nul\ufffd and a lone surrogate \ufffd here"
    assert clean_text("plain") == "plain" and clean_text("déjà vu ✓") == "déjà vu ✓"


@task
def messy():
    get_run_logger().warning(BAD_TEXT)
    raise ValueError(BAD_TEXT)


def test_text_with_nul_and_surrogates_reaches_the_server_cleaned(orchestrator):
    with Flow("messy") as flow:
        messy()
    state = flow.run(api_url=orchestrator.url, parameters=None)
    assert state.is_failed()
    with ProctorClient(orchestrator.url) as client:
        run = client.list_flow_runs(flow_name="messy")[0]
        [task_run] = client.read_task_runs(run["id"])
        assert task_run["state"]["type"] == "FAILED"
        assert "nul\ufffd and a lone surrogate \ufffd here" in task_run["state"]["message"]
        messages = [line["message"] for line in client.read_logs(run["id"])]
    assert "nul\ufffd and a lone surrogate \ufffd here" in messages
    assert any("Task run failed: ValueError: nul\ufffd" in m for m in messages)
    assert "Flow run 'messy' finished: Failed" in messages[-1]


# -- a listener that refuses what a server would refuse ------------------------------------------
class Listener:
    """POST /api/flow_runs -> 201; POST /api/events -> 422 when a log line holds "POISON",
    else 200 with the counts; every other answer given by `status` (e.g. 401)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.logs: list[str] = []
        self.refused = 0
        self.status: int | None = None
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the name http.server dispatches to
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                code, answer = listener.answer(self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            if self.status is not None:
                return self.status, {"detail": "missing or wrong API key"}
            if path == "/api/flow_runs":
                return 201, {**body, "state": None}
            logs = body.get("logs", [])
            if any("POISON" in line["message"] for line in logs):
                self.refused += 1
                return 422, {"detail": [{"loc": ["body", "logs"], "msg": "refused"}]}
            self.logs.extend(line["message"] for line in logs)
            count = len(body.get("states", [])) + len(logs) + sum(
                2 if item.get("state") else 1 for item in body.get("task_runs", []))
            return 200, {"accepted": count, "duplicates": 0, "rejected": []}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    made = Listener()
    yield made
    made.close()


@task
def chatter(n):
    for i in range(n):
        get_run_logger().info(f"POISON line {i}" if i == 37 else f"line {i}")


def test_a_refused_batch_is_narrowed_to_the_one_event_refused(listener, caplog):
    with Flow("chatty") as flow:
        chatter(100)
    recorder = ApiRecorder(listener.url, close_timeout=20, batch_size=10**6,
                           flush_interval=3600)
    caplog.set_level(logging.WARNING, logger="proctor.recording")
    assert flow.run(observers=[recorder]).is_successful()
    assert recorder.close() is True
    lines = [m for m in listener.logs if m.startswith("line ")]
    assert lines == [f"line {i}" for i in range(100) if i != 37]  # in order, only one missing
    assert not any("POISON" in m for m in listener.logs)
    assert listener.refused >= 2  # the whole batch, then the parts holding it
    texts = [r.getMessage() for r in caplog.records]
    assert any("sending it in parts" in t for t in texts)
    assert any("refused a recorded log" in t for t in texts)


def test_a_refused_api_key_keeps_every_event_for_later(listener, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PROCTOR_HOME", str(tmp_path))
    listener.status = 401
    with Flow("locked-out") as flow:
        chatter(5)
    recorder = ApiRecorder(listener.url, close_timeout=1)
    caplog.set_level(logging.ERROR, logger="proctor.recording")
    assert flow.run(observers=[recorder]).is_successful()
    assert recorder.close() is False  # not delivered ...
    outbox = list((tmp_path / "outbox").glob("*/*.jsonl"))
    kept = "".join(p.read_text() for p in outbox)
    assert outbox and all(f"line {i}" in kept for i in range(5))  # ... but kept
    assert any("refused this client's API key" in r.getMessage() for r in caplog.records)

    listener.status = None  # the right key now: the next recorder in this home sends them
    with Flow("let-in") as other:
        chatter(1)
    again = ApiRecorder(listener.url, close_timeout=20)
    assert other.run(observers=[again]).is_successful()
    assert again.close() is True
    assert listener.logs.count("line 0") == 2  # the kept run's, then the new run's
    assert all(f"line {i}" in listener.logs for i in range(1, 5))
    assert not list((tmp_path / "outbox").glob("*/*.jsonl"))


def test_runs_sync_sends_the_outbox_without_a_run(listener, tmp_path, monkeypatch):
    import os
    import subprocess
    import sys

    monkeypatch.setenv("PROCTOR_HOME", str(tmp_path))
    listener.status = 401
    with Flow("kept") as flow:
        chatter(3)
    recorder = ApiRecorder(listener.url, close_timeout=0.5)
    flow.run(observers=[recorder])
    assert recorder.close() is False
    env = {**os.environ, "PROCTOR_HOME": str(tmp_path)}

    def sync(*extra):
        return subprocess.run([sys.executable, "-m", "proctor.cli.main", "runs", "sync",
                               "--api-url", listener.url, *extra],
                              env=env, capture_output=True, text=True, timeout=60)

    refused = sync("--timeout", "1")
    assert refused.returncode == 1
    assert "what is left stays in" in refused.stderr
    assert list((tmp_path / "outbox").glob("*/*.jsonl"))  # still kept
    listener.status = None
    done = sync()
    assert done.returncode == 0, done.stderr
    assert "Sent the events of earlier runs" in done.stdout
    assert [m for m in listener.logs if m.startswith("line ")] == ["line 0", "line 1", "line 2"]
    assert any("started" in m for m in listener.logs)
    again = sync()
    assert again.returncode == 0 and "Nothing to send" in again.stdout
