"""Runs recorded to a real server process on 127.0.0.1, read back through the API."""

import os
import socket
import subprocess
import sys
import time

import pytest

from proctor import Flow, flow, get_run_context, get_run_logger, task
from proctor.client import ProctorClient
from proctor.recording.api import ApiRecorder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`proctor server start` in a subprocess, on a fixed port, restartable."""

    def __init__(self, port: int, home) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "PROCTOR_HOME": str(home)}
        self.env.pop("PROCTOR_DATABASE_URL", None)
        self.env.pop("PROCTOR_API_KEY", None)
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proctor.cli.main", "server", "start", "--port",
             str(self.port)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        with ProctorClient(self.url, timeout=1) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited: {self.process.stderr.read().decode()}")
                try:
                    client.health()
                    return
                except Exception:
                    time.sleep(0.1)
        raise RuntimeError("server did not answer /api/health within 30 s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def server(tmp_path):
    proc = ServerProcess(free_port(), tmp_path / "server-home")
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture
def client(server):
    with ProctorClient(server.url) as c:
        yield c


@task(max_retries=1, retry_delay=0)
def extract(n):
    get_run_logger().info("extracting %d rows", n)
    if get_run_context().task_run.attempt == 1:
        raise OSError("flaky source")
    return list(range(n))


@task
def double(x):
    return 2 * x


@task
def explode(rows):
    raise ValueError("bad rows")


def states_of(client, task_run):
    return [s["name"] for s in client.read_task_run_states(task_run["id"])]


def test_flow_run_task_runs_states_and_logs_reach_the_server(server, client, executor):
    with Flow("recorded", executor=executor) as f:
        rows = extract(3)
        doubled = double.map(rows)
        explode(doubled)
    state = f.run(api_url=server.url)
    assert state.is_failed()

    runs = client.list_flow_runs(flow_name="recorded")
    assert len(runs) == 1
    run = runs[0]
    assert run["state"]["type"] == "FAILED" and "explode" in run["state"]["message"]
    assert [s["name"] for s in client.read_flow_run_states(run["id"])] == [
        "Running", "Failed"
    ]
    tasks = client.read_task_runs(run["id"])
    by_key = {}
    for t in tasks:
        by_key.setdefault(t["task_key"], []).append(t)
    assert sorted(by_key) == ["double", "explode", "extract"]
    assert sorted(t["map_index"] for t in by_key["double"]) == [0, 1, 2]
    assert states_of(client, by_key["extract"][0]) == ["Running", "Retrying", "Running", "Success"]
    assert states_of(client, by_key["explode"][0]) == ["Running", "Failed"]
    logs = client.read_logs(run["id"])
    messages = [line["message"] for line in logs]
    assert any("extracting 3 rows" in m for m in messages)
    failure = next(
        line for line in logs if "Task run failed: ValueError: bad rows" in line["message"]
    )
    assert "Traceback" in failure["message"]
    assert failure["task_run_id"] == by_key["explode"][0]["id"]
    assert "Flow run 'recorded' finished: Failed" in messages[-1]


def test_flow_function_records_through_environment(server, client, monkeypatch):
    monkeypatch.setenv("PROCTOR_API_URL", server.url)

    @flow(name="env-recorded")
    def pipeline(n: int = 2):
        return sum(f.result() for f in double.map(list(range(n))))

    assert pipeline(n=4) == 12
    run = client.list_flow_runs(flow_name="env-recorded")[0]
    assert run["parameters"] == {"n": 4}
    assert run["state"]["type"] == "SUCCESS"
    assert len(client.read_task_runs(run["id"])) == 4


def test_server_down_then_back_delivers_leftovers_once(tmp_path):
    server = ServerProcess(free_port(), tmp_path / "late-home")
    with Flow("early") as f:
        double.map([1, 2, 3])
    recorder = ApiRecorder(server.url, close_timeout=0.5)
    state = f.run(observers=[recorder])
    assert state.is_successful()  # the run did not wait for a server that is not there
    assert recorder.close() is False
    server.start()
    try:
        with Flow("later") as g:
            double(1)
        g.run(api_url=server.url)  # its recorder sends the leftovers first
        with ProctorClient(server.url) as client:
            early = client.list_flow_runs(flow_name="early")
            assert len(early) == 1 and early[0]["state"]["type"] == "SUCCESS"
            tasks = client.read_task_runs(early[0]["id"])
            assert len(tasks) == 3
            assert all(states_of(client, t) == ["Running", "Success"] for t in tasks)
    finally:
        server.kill()


def test_bounded_queue_spills_to_disk_in_order(server, client):
    recorder = ApiRecorder(server.url, max_pending=5, batch_size=3)
    with Flow("spilled") as f:
        double.map(list(range(20)))
    assert f.run(observers=[recorder]).is_successful()
    assert recorder.close() is True
    run = client.list_flow_runs(flow_name="spilled")[0]
    tasks = client.read_task_runs(run["id"])
    assert len(tasks) == 20
    assert all(states_of(client, t) == ["Running", "Success"] for t in tasks)
    assert run["state"]["type"] == "SUCCESS"


def test_killing_the_server_mid_run_loses_nothing_and_duplicates_nothing(server, client):
    @task
    def slow(i):
        time.sleep(0.05)
        return i

    killed = []

    @task
    def killer():
        server.kill()
        killed.append(True)

    @task
    def restarter(_):
        server.start()

    with Flow("survivor", executor="threads:2") as f:
        first = slow.map(list(range(10)))
        k = killer(upstream_tasks=[first])
        later = slow.map(list(range(10, 20)), upstream_tasks=[k])
        restarter(later)
    state = f.run(api_url=server.url)
    assert state.is_successful() and killed == [True]
    run = client.list_flow_runs(flow_name="survivor")[0]
    assert run["state"]["type"] == "SUCCESS"
    tasks = client.read_task_runs(run["id"])
    assert len(tasks) == 22  # 10 + killer + 10 + restarter
    for t in tasks:
        assert states_of(client, t) == ["Running", "Success"]  # each once, none twice
    assert [s["name"] for s in client.read_flow_run_states(run["id"])] == ["Running", "Success"]


def test_recording_cli_reads_back(server, client):
    with Flow("cli-read") as f:
        explode(double(1))
    f.run(api_url=server.url)
    run = client.list_flow_runs(flow_name="cli-read")[0]
    env = {**os.environ, "PROCTOR_API_URL": server.url, "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "proctor.cli.main", "runs"]
    ls = subprocess.run([*cmd, "ls"], capture_output=True, text=True, env=env, timeout=60)
    assert ls.returncode == 0 and run["id"] in ls.stdout and "Failed" in ls.stdout
    inspect = subprocess.run([*cmd, "inspect", run["id"]], capture_output=True, text=True,
                             env=env, timeout=60)
    assert inspect.returncode == 0
    assert "explode" in inspect.stdout and "TriggerFailed" not in inspect.stdout
    logs = subprocess.run([*cmd, "logs", run["id"], "--follow"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert logs.returncode == 0 and "ValueError: bad rows" in logs.stdout
    missing = subprocess.run([*cmd, "inspect", "0" * 32], capture_output=True, text=True,
                             env=env, timeout=60)
    assert missing.returncode == 2 and "Error:" in missing.stderr


def test_serve_runs_on_a_schedule_and_records_each_run(server, client):
    from proctor import flow as flow_decorator
    from proctor.schedules import IntervalSchedule

    @flow_decorator(name="served")
    def served(n: int = 1):
        return double(n)

    state = served.serve("every-second", IntervalSchedule("1s"), parameters={"n": 4},
                         api_url=server.url, max_runs=2)
    assert state.is_successful() and state.result == 8
    runs = client.list_flow_runs(flow_name="served")
    assert len(runs) == 2 and all(r["state"]["type"] == "SUCCESS" for r in runs)
    assert all(r["parameters"] == {"n": 4} for r in runs)


def test_serve_needs_a_server_and_a_schedule(monkeypatch):
    from proctor.core.errors import FlowRunFailedError, TaskOptionError

    monkeypatch.delenv("PROCTOR_API_URL", raising=False)
    with Flow("unserved") as f:
        double(1)
    with pytest.raises(FlowRunFailedError, match="no server to record to"):
        f.serve("x", max_runs=1)
    with pytest.raises(TaskOptionError, match="is not a schedule"):
        f.serve("x", api_url="http://127.0.0.1:9", max_runs=1)
