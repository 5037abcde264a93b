"""The recorder tells the server each task run's upstream task keys, so that a UI can draw the
flow run's task graph without the flow's code: a real server (uvicorn on 127.0.0.1 over a SQLite
file), real runs recorded to it, read back through the API."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from proctor import Flow, task
from proctor.client import ProctorClient
from proctor.recording import api as recording


@pytest.fixture
def server_url(tmp_path, monkeypatch) -> Iterator[str]:
    """The URL of a real API server over an empty SQLite database (stopped after the test)."""
    import uvicorn

    from proctor.server.api.app import create_app

    monkeypatch.setenv("PROCTOR_HOME", str(tmp_path / "client"))
    app = create_app(f"sqlite:///{tmp_path / 'proctor.db'}", services=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                             log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(10)


def recorded_upstream(url: str, flow_name: str) -> list[tuple[str, int | None, list[str]]]:
    """(task key, map index, upstream) of every task run of the flow's one run, sorted."""
    with ProctorClient(url) as client:
        runs = client.list_flow_runs(flow_name=flow_name)
        assert len(runs) == 1 and runs[0]["state"]["type"] == "SUCCESS"
        tasks = client.read_task_runs(runs[0]["id"])
    return sorted(
        ((t["task_key"], t["map_index"], t["upstream"]) for t in tasks),
        key=lambda row: (row[0], -1 if row[1] is None else row[1]),
    )


@task
def extract():
    return [1, 2, 3]


@task
def transform(x):
    return 10 * x


@task
def load(rows):
    return sum(rows)


@task
def notify():
    return "sent"


@pytest.mark.parametrize("executor", ["local", "threads:2"])
def test_extract_transform_map_load(server_url, executor):
    """Each mapped child gets its mapped task's upstream; order-only edges count too."""
    with Flow("graph", executor=executor) as f:
        rows = extract()
        loaded = load(transform.map(rows))
        notify(upstream_tasks=[loaded])
    assert f.run(api_url=server_url).is_successful()
    assert recorded_upstream(server_url, "graph") == [
        ("extract", None, []),
        ("load", None, ["transform"]),
        ("notify", None, ["load"]),
        ("transform", 0, ["extract"]),
        ("transform", 1, ["extract"]),
        ("transform", 2, ["extract"]),
    ]


def test_a_fan_in_wider_than_the_server_takes_is_cut_not_refused(
    server_url, monkeypatch, caplog
):
    """Past the server's limit the recorder sends the first keys and warns, rather than have
    the server refuse (and the recorder drop) the whole batch."""
    monkeypatch.setattr(recording, "UPSTREAM_LIMIT", 2)
    with Flow("wide") as f:
        load([transform(1), transform(2), transform(3)])
    with caplog.at_level(logging.WARNING, logger="proctor.recording"):
        assert f.run(api_url=server_url).is_successful()
    assert recorded_upstream(server_url, "wide") == [
        ("load", None, ["transform", "transform-2"]),
        ("transform", None, []),
        ("transform-2", None, []),
        ("transform-3", None, []),
    ]
    assert "waits for 3 tasks; the server is told of the first 2" in caplog.text
