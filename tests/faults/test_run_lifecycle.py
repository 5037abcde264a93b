"""Every run ends in the state it really reached, whatever stops its process (issue items 1-4).

Real processes throughout: a `proctor server start` per database (SQLite, PostgreSQL), flow runs
started with `proctor run` as a user starts them (recording straight to the server, no agent),
then killed (SIGKILL), interrupted (Ctrl-C to the process group, SIGTERM, a closed terminal),
cancelled from the API, or pointed at a Dask scheduler that is not there. After each, the run is
final and true, within the documented timeout, and none of its task runs is left open.

The servers here time agents and processes out after 3 s (`PROCTOR_AGENT_TIMEOUT`), and flow
processes heartbeat every 0.5 s (tests/conftest.py).
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from proctor.client import ProctorClient
from tests.faults.lifecycle_helpers import (
    PATIENCE,
    flow_env,
    open_task_runs,
    run_log,
    start_recorded_run,
    task_runs,
    unused_port,
    wait_for,
    wait_for_state,
    wait_until_running,
    write_flow,
)
from tests.integration.conftest import FAST_SERVICES, ProctorServer, database_env


@pytest.fixture
def make_server(request, database_kind, tmp_path):
    """make_server(**env) -> a started server of this test on a fresh database of the module's
    kind, with FAST_SERVICES overridden by `env`."""
    stack = []

    def make(**env: str) -> ProctorServer:
        context = database_env(request, database_kind)
        database = context.__enter__()
        stack.append(context)
        server = ProctorServer(tmp_path / f"server-{len(stack)}",
                               {**FAST_SERVICES, **database, **env})
        stack.append(server)
        server.start()
        return server

    yield make
    for item in reversed(stack):
        if isinstance(item, ProctorServer):
            item.stop()
        else:
            item.__exit__(None, None, None)


@pytest.fixture
def api(orchestrator):
    with ProctorClient(orchestrator.url) as client:
        yield client


def assert_task_runs_closed(client: ProctorClient, run_id: str, state: str, words: str) -> None:
    left = open_task_runs(client, run_id)
    assert left == [], f"task runs still open: {[(t['task_key'], t['state_type']) for t in left]}"
    closed = [t for t in task_runs(client, run_id)
              if words in (t["state"] or {}).get("message", "")]
    assert closed and all(t["state_type"] == state for t in closed)


# -- 1. a recorded run whose process is SIGKILLed ends CRASHED --------------------------------
def test_a_killed_recorded_run_without_an_agent_ends_crashed(orchestrator, api, tmp_path):
    flow = f"killed-{time.time_ns()}"
    proc = start_recorded_run(tmp_path, orchestrator.url, flow)
    try:
        run = wait_until_running(api, flow, tasks=2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        # PROCTOR_AGENT_TIMEOUT is 3 s and the reaper passes every 0.5 s: well within 60 s.
        crashed = wait_for_state(api, run["id"], {"CRASHED"})
    finally:
        if proc.poll() is None:
            proc.kill()
    message = crashed["state"]["message"]
    assert "no heartbeat since" in message and "PROCTOR_AGENT_TIMEOUT is 3 s" in message
    assert_task_runs_closed(api, run["id"], "CRASHED", "its flow run ended (CRASHED)")


# -- 2. Ctrl-C, SIGTERM, a closed terminal: CANCELLED before the process exits ----------------
@pytest.mark.parametrize(
    "signum, reason",
    [
        (signal.SIGINT, "interrupted by the user (Ctrl-C)"),
        (signal.SIGTERM, "stopped by SIGTERM"),
        (signal.SIGHUP, "its terminal was closed (SIGHUP)"),
    ],
    ids=["ctrl-c", "sigterm", "sighup"],
)
def test_an_interrupted_recorded_run_is_cancelled_with_the_reason(
    orchestrator, api, tmp_path, signum, reason
):
    flow = f"interrupted-{signum}-{time.time_ns()}"
    proc = start_recorded_run(tmp_path, orchestrator.url, flow, executor="processes:2")
    try:
        run = wait_until_running(api, flow, tasks=2)
        # Ctrl-C in a terminal reaches the whole process group (the pool's workers too).
        os.killpg(proc.pid, signum)
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130, run_log(tmp_path, flow)
    # Reported before the process exited: no waiting for a reaper.
    ended = api.read_flow_run(run["id"])
    assert ended["state_type"] == "CANCELLED", run_log(tmp_path, flow)
    assert reason in ended["state"]["message"]
    assert_task_runs_closed(api, run["id"], "CANCELLED", "its flow run was cancelled")


def test_cancel_stops_a_live_run_that_no_agent_holds(orchestrator, api, tmp_path):
    flow = f"cancel-live-{time.time_ns()}"
    proc = start_recorded_run(tmp_path, orchestrator.url, flow)
    try:
        run = wait_until_running(api, flow, tasks=2)
        asked = api.cancel_flow_run(run["id"])
        assert asked["state_type"] == "RUNNING"  # its process is alive: it is asked to stop
        assert proc.wait(60) == 130, run_log(tmp_path, flow)
    finally:
        if proc.poll() is None:
            proc.kill()
    ended = api.read_flow_run(run["id"])
    assert ended["state_type"] == "CANCELLED", run_log(tmp_path, flow)
    assert "cancelled on request" in ended["state"]["message"]
    assert open_task_runs(api, run["id"]) == []


def test_cancel_ends_at_once_a_run_whose_process_is_gone(make_server, tmp_path):
    # A long agent timeout: the reaper stays out of it, only Cancel can end the run.
    server = make_server(PROCTOR_AGENT_TIMEOUT="600")
    flow = f"cancel-dead-{time.time_ns()}"
    proc = start_recorded_run(tmp_path, server.url, flow)
    with ProctorClient(server.url) as client:
        try:
            run = wait_until_running(client, flow, tasks=2)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
        # Heartbeats came every 0.5 s; a few missed ones (1.5 s) mean nobody runs it.
        time.sleep(2.0)
        cancelled = client.cancel_flow_run(run["id"])
        assert cancelled["state_type"] == "CANCELLED"
        assert "sent no heartbeat" in cancelled["state"]["message"]
        assert_task_runs_closed(client, run["id"], "CANCELLED", "its flow run was cancelled")


# -- 3. a Dask scheduler that is not there: CRASHED, with why ----------------------------------
def test_a_run_whose_dask_scheduler_is_unreachable_ends_crashed(orchestrator, api):
    from proctor import Flow, task
    from proctor.core.errors import ClusterError
    from proctor.executors import DaskExecutor

    @task
    def one():
        return 1

    name = f"no-scheduler-{time.time_ns()}"
    with Flow(name) as flow:
        one()
    address = f"tcp://127.0.0.1:{unused_port()}"
    executor = DaskExecutor(address=address, client_kwargs={"timeout": "2s"})
    with pytest.raises(ClusterError):
        flow.run(executor=executor, api_url=orchestrator.url)
    run = wait_for(lambda: api.list_flow_runs(flow_name=name), "the run on the server")[0]
    assert run["state_type"] == "CRASHED"
    assert "could not reach the Dask scheduler" in run["state"]["message"]
    assert address in run["state"]["message"]


# -- 4. cancelling a run an agent runs closes its task runs ------------------------------------
def _deploy_hold(api, tmp_path, monkeypatch, flow: str) -> dict:
    flow_file = write_flow(tmp_path)
    env = flow_env(tmp_path, flow, TEST_WIDTH="4")
    for key in ("TEST_GATE", "TEST_STARTS", "TEST_FLOW_NAME", "TEST_WIDTH"):
        monkeypatch.setenv(key, env[key])  # handed by the agent to its flow processes
    deployment, _ = api.upsert_deployment({
        "flow_name": flow, "name": "d", "entrypoint": f"{flow_file}:flow",
        "work_queue_name": flow,
    })
    return deployment


def test_cancelling_an_agents_run_closes_its_task_runs(
    orchestrator, api, start_agent, tmp_path, monkeypatch
):
    flow = f"agent-cancel-{time.time_ns()}"
    deployment = _deploy_hold(api, tmp_path, monkeypatch, flow)
    agent = start_agent(flow)
    run = api.create_deployment_run(deployment["id"])
    wait_until_running(api, flow, tasks=1)
    api.cancel_flow_run(run["id"])
    ended = wait_for_state(api, run["id"], {"CANCELLED", "SUCCESS", "FAILED", "CRASHED"})
    assert ended["state_type"] == "CANCELLED", agent.output()
    assert open_task_runs(api, run["id"]) == []


def test_ctrl_c_of_an_agent_cancels_its_runs_and_their_task_runs(
    orchestrator, api, start_agent, tmp_path, monkeypatch
):
    flow = f"agent-ctrl-c-{time.time_ns()}"
    deployment = _deploy_hold(api, tmp_path, monkeypatch, flow)
    agent = start_agent(flow, "--shutdown-grace", "0")
    run = api.create_deployment_run(deployment["id"])
    wait_until_running(api, flow, tasks=1)
    agent.process.send_signal(signal.SIGINT)
    assert agent.process.wait(PATIENCE) == 0, agent.output()
    ended = api.read_flow_run(run["id"])
    assert ended["state_type"] == "CANCELLED", agent.output()
    assert "stopped before the run finished" in ended["state"]["message"]
    assert open_task_runs(api, run["id"]) == []
