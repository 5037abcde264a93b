"""The recorder sends a task run with its first state, and still works with a server that
predates that field (one that ignores it): read back, every run has its whole history."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from proctor import Flow, task
from proctor.client import ProctorClient
from proctor.recording.api import ApiRecorder, _split, event_id


@task
def double(x):
    return 2 * x


class Wire:
    """What the recorder sent to `/api/events`; with `old_server`, each task run's `state` is
    removed before the app sees it, as a server that does not know the field ignores it."""

    def __init__(self, app, old_server: bool) -> None:
        self.app = app
        self.old_server = old_server
        self.bodies: list[dict] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/api/events":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = json.loads(b"".join(chunks))
        self.bodies.append(json.loads(json.dumps(body)))
        if self.old_server:
            for item in body.get("task_runs", []):
                item.pop("state", None)
        raw = json.dumps(body).encode()
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        headers.append((b"content-length", str(len(raw)).encode()))
        await self.app({**scope, "headers": headers}, replay, send)


@pytest.fixture(params=[False, True], ids=["server", "older-server"])
def server(request, tmp_path):
    import uvicorn

    from proctor.server.api.app import create_app

    wire = Wire(create_app(f"sqlite:///{tmp_path / 'proctor.db'}", services=False),
                old_server=request.param)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(wire, host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    wire.url = f"http://127.0.0.1:{port}"
    try:
        yield wire
    finally:
        instance.should_exit = True
        thread.join(10)


def histories(url: str, flow_name: str) -> list[list[str]]:
    with ProctorClient(url) as client:
        run = client.list_flow_runs(flow_name=flow_name)[0]
        assert run["state"]["type"] == "SUCCESS"
        tasks = client.read_task_runs(run["id"])
        assert all(t["attempts"] == 1 and t["state_type"] == "SUCCESS" for t in tasks)
        return [[s["name"] for s in client.read_task_run_states(t["id"])] for t in tasks]


def test_every_history_arrives_whichever_the_server(server, tmp_path, monkeypatch):
    monkeypatch.setenv("PROCTOR_HOME", str(tmp_path / "client"))
    # small batches, so that some task runs' later states travel in a later batch than the
    # task run itself: those are the ones sent folded while the server's answer is not known
    recorder = ApiRecorder(server.url, batch_size=7, max_batch_items=7, flush_interval=0.01)
    with Flow("folded") as f:
        double.map(list(range(30)))
    assert f.run(observers=[recorder]).is_successful()
    assert recorder.close() is True
    assert histories(server.url, "folded") == [["Running", "Success"]] * 30
    carried = [t for body in server.bodies for t in body["task_runs"] if "state" in t]
    assert carried, "no task run was sent with its first state"
    assert recorder._server_folds is (not server.old_server)
    if not server.old_server:
        # once the server showed it takes the field, every task run travels with its state
        last = server.bodies[-3:]
        assert all("state" in t for body in last for t in body["task_runs"])


def test_a_task_run_and_all_its_states_in_one_batch(server, tmp_path, monkeypatch):
    monkeypatch.setenv("PROCTOR_HOME", str(tmp_path / "client"))
    recorder = ApiRecorder(server.url)
    with Flow("one-batch") as f:
        double.map(list(range(5)))
    assert f.run(observers=[recorder]).is_successful()
    assert recorder.close() is True
    assert histories(server.url, "one-batch") == [["Running", "Success"]] * 5


def test_split_keeps_each_run_in_order():
    flow_run = "f" * 32

    def task_run(name):
        return ("task_run", {"id": name * 32, "flow_run_id": flow_run, "task_key": name,
                             "task_name": name, "state": {"id": event_id(), "type": "RUNNING"}})

    def final(name):
        return ("state", {"id": event_id(), "flow_run_id": flow_run, "task_run_id": name * 32,
                          "state": {"type": "SUCCESS"}})

    batch = [task_run("a"), final("a"), task_run("b"), ("log", {"id": event_id()})]
    task_runs, states, logs, carried = _split(batch, None)
    # "a" has another state in the batch: sent apart, first; "b" has none: sent folded
    assert [("state" in t) for t in task_runs] == [False, True] and carried == 1
    assert [s["state"]["type"] for s in states] == ["RUNNING", "SUCCESS"]
    assert states[0]["id"] == batch[0][1]["state"]["id"] and "id" not in states[0]["state"]
    assert len(logs) == 1
    assert _split(batch, True)[3] == 2 and len(_split(batch, True)[1]) == 1
    assert _split(batch, False)[3] == 0 and len(_split(batch, False)[1]) == 3
    assert "state" in batch[0][1]  # the queued items themselves are left as they were


def test_a_request_prepared_ahead_is_used_only_while_its_items_are_next(tmp_path, monkeypatch):
    from proctor.recording.api import _Request

    monkeypatch.setenv("PROCTOR_HOME", str(tmp_path))
    # a batch size and an interval that keep the sender waiting: the test picks the requests
    recorder = ApiRecorder("http://127.0.0.1:9", close_timeout=0, max_batch_items=2,
                           batch_size=10**9, flush_interval=3600)
    try:
        for i in range(5):
            recorder._queue.append(("log", {"id": event_id(), "message": str(i)}))
        with recorder._cond:
            first = recorder._pick(recorder._queue, 0)
            second = recorder._pick(recorder._queue, len(first))
        assert [item["message"] for _, item in first + second] == ["0", "1", "2", "3"]
        ahead = _Request(second, recorder._queue, True, len(second), 0, b"{}")
        assert not recorder._is_next(ahead)  # the first request's items are still queued
        recorder._done(recorder._queue, len(first))
        assert recorder._is_next(ahead)
        recorder._done(recorder._queue, 1)
        assert not recorder._is_next(ahead)
    finally:
        recorder._queue.clear()
        recorder.close()
