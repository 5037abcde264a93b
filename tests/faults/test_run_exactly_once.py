"""Work runs once, and only the code meant to run runs (issue items 5, 6, 7, 9, 10, 14).

Real processes: a server per database (SQLite, PostgreSQL), `proctor agent start` agents, the
flow processes they start; faults are real too: a claim whose answer never reached its agent,
a server killed for longer than a run's old 15 s delivery limit, a database cut off from a
server that stays up (PostgreSQL behind a TCP relay the test cuts; SQLite locked by another
writer), a flow process killed by a signal as an out-of-memory kill would, two servers sharing
one PROCTOR_HOME, and deployments whose entrypoints point outside the agent's code roots.
Each flow's tasks log every start to a file, so "ran once" is counted, not assumed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from proctor.client import ProctorClient
from tests.faults.lifecycle_helpers import (
    PATIENCE,
    TcpProxy,
    flow_env,
    open_gate,
    open_task_runs,
    starts,
    unused_port,
    wait_for,
    wait_for_state,
    wait_until_running,
    write_flow,
)
from tests.integration.conftest import (
    FAST_SERVICES,
    AgentProcess,
    ProctorServer,
    database_env,
)


@pytest.fixture
def make_server(request, database_kind, tmp_path):
    """make_server(database_url_filter=None, **env) -> a started server of this test alone on a
    fresh database of the module's kind; `database_url_filter` rewrites its database URL."""
    contexts = []
    servers: list[ProctorServer] = []

    def make(url_filter=None, **env: str) -> ProctorServer:
        context = database_env(request, database_kind)
        database = dict(context.__enter__())
        contexts.append(context)
        if url_filter is not None and "PROCTOR_DATABASE_URL" in database:
            database["PROCTOR_DATABASE_URL"] = url_filter(database["PROCTOR_DATABASE_URL"])
        server = ProctorServer(tmp_path / f"server-{len(servers)}",
                               {**FAST_SERVICES, **database, **env})
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()
    for context in reversed(contexts):
        context.__exit__(None, None, None)


@pytest.fixture
def agents(tmp_path):
    started: list[AgentProcess] = []

    def start(url: str, queue: str, *options: str) -> AgentProcess:
        agent = AgentProcess(url, queue, tmp_path, *options)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()


def deploy_hold(client: ProctorClient, tmp_path: Path, flow: str, **fields) -> dict:
    flow_file = write_flow(tmp_path)
    deployment, _ = client.upsert_deployment({
        "flow_name": flow, "name": "d", "entrypoint": f"{flow_file}:flow",
        "work_queue_name": flow, **fields,
    })
    return deployment


def set_flow_env(monkeypatch, tmp_path: Path, flow: str, **extra: str) -> None:
    """What the agent (started after this) hands to its flow processes."""
    env = flow_env(tmp_path, flow, **extra)
    for key in ("TEST_GATE", "TEST_STARTS", "TEST_FLOW_NAME", *extra):
        monkeypatch.setenv(key, env[key])


def history(client: ProctorClient, run_id: str) -> list[str]:
    return [s["type"] for s in client.read_flow_run_states(run_id)]


def runs_of(client: ProctorClient, deployment_id: str) -> list[dict]:
    return client.list_flow_runs(deployment_id=deployment_id)


# -- 5. a claim the agent never heard of is given back, then run once ------------------------
def test_a_claim_whose_answer_was_lost_is_released_and_run_once(
    make_server, tmp_path, monkeypatch
):
    from proctor.agent import Agent, AgentSettings

    server = make_server()
    flow = f"lost-claim-{time.time_ns()}"
    set_flow_env(monkeypatch, tmp_path, flow, TEST_WIDTH="2")
    open_gate(tmp_path, flow)
    with ProctorClient(server.url) as client:
        deployment = deploy_hold(client, tmp_path, flow)
        run = client.create_deployment_run(deployment["id"])
        agent = Agent(AgentSettings(api_url=server.url, work_queue=flow, poll_interval=0.1,
                                    heartbeat_interval=0.2, workdir=tmp_path))
        # The agent's claim timed out on its side (a slow writer held the database), and the
        # server committed it afterwards: the run is PENDING, held by this live agent, which
        # never heard of it.
        [lost] = client.claim_runs(flow, agent.id, 1)
        assert lost["flow_run"]["id"] == run["id"]
        assert client.read_flow_run(run["id"])["state_type"] == "PENDING"
        loop = threading.Thread(target=agent.start, daemon=True)
        loop.start()
        try:
            wait_for_state(client, run["id"], {"SUCCESS", "FAILED", "CRASHED"})
        finally:
            agent.request_stop()
            loop.join(PATIENCE)
        states = history(client, run["id"])
    assert states[:3] == ["SCHEDULED", "PENDING", "SCHEDULED"]  # released, not left PENDING
    assert states[-1] == "SUCCESS"
    assert sorted(line.split()[1] for line in starts(tmp_path, flow)) == ["0", "1"]


# -- 6. a run that succeeded while the server was down ends SUCCESS --------------------------
def test_a_run_that_ends_while_the_server_is_down_is_recorded_as_it_ended(
    make_server, agents, tmp_path, monkeypatch
):
    server = make_server()
    flow = f"server-down-{time.time_ns()}"
    set_flow_env(monkeypatch, tmp_path, flow, TEST_WIDTH="3")
    # A script would give up delivering after this many seconds; an agent's flow process must
    # not (it delivers for as long as its agent holds the run).
    monkeypatch.setenv("PROCTOR_API_FLUSH_TIMEOUT", "1")
    with ProctorClient(server.url) as client:
        deployment = deploy_hold(client, tmp_path, flow, retries=2)
        agent = agents(server.url, flow)
        run = client.create_deployment_run(deployment["id"])
        wait_until_running(client, flow, tasks=1)
    server.stop()  # the server dies...
    open_gate(tmp_path, flow)  # ...and the run finishes while it is away
    wait_for(lambda: len(starts(tmp_path, flow)) == 3, "the run's 3 tasks to run")
    time.sleep(3)  # well past the flush timeout above
    server.start()
    with ProctorClient(server.url) as client:
        ended = wait_for_state(client, run["id"], {"SUCCESS", "CRASHED", "FAILED"})
        assert ended["state_type"] == "SUCCESS", agent.output()
        assert "CRASHED" not in history(client, run["id"])
        assert open_task_runs(client, run["id"]) == []
        assert len(runs_of(client, deployment["id"])) == 1  # no retry was made
    assert len(starts(tmp_path, flow)) == 3


def test_a_run_the_server_ended_is_killed_by_its_agent(make_server, agents, tmp_path,
                                                       monkeypatch):
    server = make_server()
    flow = f"fenced-{time.time_ns()}"
    set_flow_env(monkeypatch, tmp_path, flow, TEST_WIDTH="2")
    with ProctorClient(server.url) as client:
        deployment = deploy_hold(client, tmp_path, flow)
        agent = agents(server.url, flow)
        run = client.create_deployment_run(deployment["id"])
        wait_until_running(client, flow, tasks=1)
        [worker] = [p for p in psutil.process_iter(["cmdline"])
                    if run["id"] in " ".join(p.info["cmdline"] or [])]
        # The server gave up on the run (as the reaper does when heartbeats stop).
        client.set_flow_run_state(run["id"], {"type": "CRASHED", "message": "declared lost"})
        worker.wait(PATIENCE)  # killed by its agent on its next heartbeat
        open_gate(tmp_path, flow)
        time.sleep(1)
        ended = client.read_flow_run(run["id"])
    assert ended["state_type"] == "CRASHED", agent.output()
    assert ended["state"]["message"] == "declared lost"
    assert len(starts(tmp_path, flow)) == 1  # the second task never started
    assert "killing its process" in agent.output()


# -- 7. a database outage longer than the agent timeout crashes nothing ----------------------
def _postgres_via(proxy: TcpProxy):
    def rewrite(url: str) -> str:
        return url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")

    return rewrite


def test_a_database_outage_longer_than_the_agent_timeout_runs_nothing_twice(
    make_server, agents, tmp_path, monkeypatch, database_kind
):
    proxy = TcpProxy(("127.0.0.1", 5432)) if database_kind == "postgresql" else None
    try:
        server = make_server(_postgres_via(proxy) if proxy else None)
        flow = f"db-outage-{time.time_ns()}"
        set_flow_env(monkeypatch, tmp_path, flow, TEST_WIDTH="1")
        with ProctorClient(server.url) as client:
            deployment = deploy_hold(client, tmp_path, flow, retries=3)
            agents(server.url, flow, "--limit", "4")
            runs = [client.create_deployment_run(deployment["id"]) for _ in range(4)]
            wait_for(lambda: len(starts(tmp_path, flow)) == 4, "4 runs to start their task")
            outage = 5.0  # PROCTOR_AGENT_TIMEOUT is 3 s
            if proxy is not None:
                proxy.cut()
                time.sleep(outage)
                proxy.mend()
            else:
                with sqlite3.connect(Path(server.env["PROCTOR_HOME"]) / "proctor.db",
                                     timeout=30) as lock:
                    lock.execute("BEGIN EXCLUSIVE")
                    time.sleep(outage)
                    lock.rollback()
            time.sleep(4.5)  # the reaper's grace after the outage (3 s), and then some
            open_gate(tmp_path, flow)
            for run in runs:
                ended = wait_for_state(client, run["id"], {"SUCCESS", "CRASHED", "CANCELLED"})
                assert ended["state_type"] == "SUCCESS", history(client, run["id"])
                assert "CRASHED" not in history(client, run["id"])
            assert len(runs_of(client, deployment["id"])) == 4  # no retries
        assert len(starts(tmp_path, flow)) == 4  # 4 units of work, 4 starts
    finally:
        if proxy is not None:
            proxy.close()


# -- 9. a flow process killed by a signal is retried as the deployment says ------------------
KILLABLE_FLOW = '''
import os
import time

from proctor import Flow, task


@task
def work():
    marker = os.environ["TEST_MARKER"]
    with open(os.environ["TEST_STARTS"], "a") as fh:
        fh.write(f"{os.getpid()} work\\n")
    if not os.path.exists(marker):
        with open(marker, "w") as fh:
            fh.write(str(os.getpid()))
        while True:  # the first attempt waits to be killed
            time.sleep(0.1)
    return "done"


with Flow(os.environ["TEST_FLOW_NAME"]) as flow:
    work()
'''


def test_a_flow_process_killed_by_a_signal_is_retried(make_server, agents, tmp_path,
                                                       monkeypatch):
    server = make_server()
    flow = f"oom-{time.time_ns()}"
    marker = tmp_path / f"{flow}.marker"
    set_flow_env(monkeypatch, tmp_path, flow, TEST_MARKER=str(marker))
    flow_file = write_flow(tmp_path, "killable.py", KILLABLE_FLOW)
    with ProctorClient(server.url) as client:
        deployment, _ = client.upsert_deployment({
            "flow_name": flow, "name": "d", "entrypoint": f"{flow_file}:flow",
            "work_queue_name": flow, "retries": 1,
        })
        agent = agents(server.url, flow)
        run = client.create_deployment_run(deployment["id"])
        pid = int(wait_for(lambda: marker.exists() and marker.read_text(), "the first attempt"))
        os.kill(pid, signal.SIGKILL)  # what the out-of-memory killer does
        crashed = wait_for_state(client, run["id"], {"CRASHED"})
        assert "killed by signal 9" in crashed["state"]["message"], agent.output()
        retry = wait_for(lambda: [r for r in runs_of(client, deployment["id"])
                                  if r.get("retry_of") == run["id"]], "the retry")[0]
        done = wait_for_state(client, retry["id"], {"SUCCESS", "FAILED", "CRASHED"})
        assert done["state_type"] == "SUCCESS", agent.output()
        assert len(runs_of(client, deployment["id"])) == 2
    assert len(starts(tmp_path, flow)) == 2


# -- 10. events a run could not deliver go to its own server only ----------------------------
RECORD_SCRIPT = '''
import sys

from proctor import Flow, task


@task
def one():
    return 1


with Flow(sys.argv[2]) as flow:
    one()
print(flow.run(api_url=sys.argv[1]).type.value)
'''


def _record(tmp_path: Path, url: str, flow: str, home: Path) -> str:
    script = tmp_path / "record.py"
    script.write_text(RECORD_SCRIPT)
    env = {**os.environ, "PROCTOR_HOME": str(home), "PROCTOR_API_FLUSH_TIMEOUT": "1"}
    done = subprocess.run([sys.executable, str(script), url, flow], env=env, cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=PATIENCE)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_undelivered_events_wait_for_their_own_server(make_server, tmp_path):
    home = tmp_path / "home"
    server_b = make_server()
    port_a = unused_port()  # server A is down while its run is recorded
    url_a = f"http://127.0.0.1:{port_a}"
    assert _record(tmp_path, url_a, "for-a", home) == "SUCCESS"
    assert _record(tmp_path, server_b.url, "for-b", home) == "SUCCESS"
    with ProctorClient(server_b.url) as client:
        assert [r["flow_name"] for r in client.list_flow_runs()] == ["for-b"]
    server_a = ProctorServer(tmp_path / "server-a", dict(FAST_SERVICES))
    server_a.port, server_a.url = port_a, url_a
    try:
        server_a.start()
        sync = subprocess.run(
            [sys.executable, "-m", "proctor.cli.main", "runs", "sync", "--api-url", url_a],
            env={**os.environ, "PROCTOR_HOME": str(home)}, capture_output=True, text=True,
            timeout=PATIENCE,
        )
        assert sync.returncode == 0, sync.stdout + sync.stderr
        with ProctorClient(url_a) as client:
            [run] = client.list_flow_runs()
            assert (run["flow_name"], run["state_type"]) == ("for-a", "SUCCESS")
    finally:
        server_a.stop()
    with ProctorClient(server_b.url) as client:
        assert [r["flow_name"] for r in client.list_flow_runs()] == ["for-b"]


# -- 14. an agent runs only the code under its roots; parameters never on a command line -----
EVIL = textwrap.dedent('''
    import os
    from pathlib import Path

    Path(os.environ["TEST_EVIL_MARKER"]).write_text("imported")

    from proctor import Flow, task

    @task
    def boom():
        return 1

    with Flow("evil") as flow:
        boom()
''')

BLOB_FLOW = '''
import os
import time

from proctor import flow, task


@task
def size(blob):
    while not os.path.exists(os.environ["TEST_GATE"]):
        time.sleep(0.05)
    return len(blob)


@flow(name=os.environ["TEST_FLOW_NAME"])
def blob_flow(blob: str):
    return size(blob)
'''


def test_an_agent_refuses_code_outside_its_roots(make_server, agents, tmp_path, monkeypatch,
                                                 tmp_path_factory):
    server = make_server()
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    evil = elsewhere / "evil.py"
    evil.write_text(EVIL)
    marker = elsewhere / "imported"
    monkeypatch.setenv("TEST_EVIL_MARKER", str(marker))
    roots = tmp_path / "code"
    roots.mkdir()
    (roots / "link.py").symlink_to(evil)
    relative = os.path.relpath(evil, roots)
    queue = f"roots-{time.time_ns()}"
    with ProctorClient(server.url) as client:
        agent = AgentProcess(server.url, queue, roots, "--code-root", str(roots))
        try:
            for name, entrypoint in (("absolute", f"{evil}:flow"),
                                     ("relative", f"{relative}:flow"),
                                     ("symlink", "link.py:flow")):
                deployment, _ = client.upsert_deployment({
                    "flow_name": "evil", "name": name, "entrypoint": entrypoint,
                    "work_queue_name": queue,
                })
                run = client.create_deployment_run(deployment["id"])
                failed = wait_for_state(client, run["id"], {"FAILED", "SUCCESS", "CRASHED"})
                message = failed["state"]["message"]
                assert failed["state_type"] == "FAILED", agent.output()
                assert "outside this agent's code roots" in message
                assert str(roots.resolve()) in message
                assert "--code-root" in message
        finally:
            agent.stop()
    assert not marker.exists(), "the refused file was imported"


def test_parameters_reach_the_flow_through_a_file_not_the_command_line(
    make_server, agents, tmp_path, monkeypatch
):
    server = make_server()
    flow = f"blob-{time.time_ns()}"
    set_flow_env(monkeypatch, tmp_path, flow)
    flow_file = write_flow(tmp_path, "blob.py", BLOB_FLOW)
    blob = "secret-" + "x" * 200_000  # "Argument list too long" on a command line
    with ProctorClient(server.url) as client:
        deployment, _ = client.upsert_deployment({
            "flow_name": flow, "name": "d", "entrypoint": f"{flow_file}:blob_flow",
            "work_queue_name": flow,
        })
        agent = agents(server.url, flow)
        run = client.create_deployment_run(deployment["id"], {"blob": blob})
        wait_until_running(client, flow, tasks=1)
        for proc in psutil.process_iter(["cmdline"]):
            line = " ".join(proc.info["cmdline"] or [])
            assert "secret-xxx" not in line, "a parameter is visible in ps"
        open_gate(tmp_path, flow)
        done = wait_for_state(client, run["id"], {"SUCCESS", "FAILED", "CRASHED"})
        assert done["state_type"] == "SUCCESS", agent.output()

