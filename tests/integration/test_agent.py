"""Agents against a real server: runs executed once each, watched, cancelled, crashed, released.

Everything is a real process on 127.0.0.1: the server (fast scheduler and reaper), agents started
with `proctor agent start`, and each flow run in the agent's own subprocess. Flows write what they
did into files next to them, so the tests see effects rather than reports about them.
"""

from __future__ import annotations

import os
import signal
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from proctor.agent import Agent, AgentSettings

FLOWS = """
    import os
    import time

    from proctor import flow, get_run_context, get_run_logger


    @flow(name="agent-trivial")
    def trivial(out: str = "runs.txt"):
        run_id = get_run_context().flow_run.flow_run_id
        with open(out, "a") as fh:  # one short append per run: whole lines, never mixed
            fh.write(run_id + "\\n")
        get_run_logger().info("wrote %s", run_id)
        return run_id


    @flow(name="agent-sleepy")
    def sleepy(seconds: float = 60.0, pidfile: str = "sleepy.pid"):
        with open(pidfile, "w") as fh:
            fh.write(str(os.getpid()))
        time.sleep(seconds)


    @flow(name="agent-failing")
    def failing():
        raise ValueError("failing on purpose")


    @flow(name="agent-dies")
    def dies():
        os._exit(3)


    @flow(name="agent-dated")
    def dated(out: str = "dated.txt"):
        from proctor import context

        with open(out, "w") as fh:
            fh.write(f"{context.scheduled_start_time.timestamp()} {context.today}")
"""


@pytest.fixture
def flows_file(tmp_path: Path) -> Path:
    path = tmp_path / "flows.py"
    path.write_text(textwrap.dedent(FLOWS))
    return path


@pytest.fixture
def deploy(proctor_cmd, api, flows_file) -> Callable[..., dict]:
    """deploy(flow_attr, name, queue, *options) -> the DeploymentRead, via `proctor deploy`."""

    def run(attribute: str, name: str, queue: str, *options: str) -> dict:
        proc = proctor_cmd("deploy", f"flows.py:{attribute}", "--name", name, "--queue", queue,
                           *options)
        assert proc.returncode == 0, proc.stderr
        flow_name = {"trivial": "agent-trivial", "sleepy": "agent-sleepy",
                     "failing": "agent-failing", "dies": "agent-dies",
                     "dated": "agent-dated"}[attribute]
        return api.read_deployment_by_name(name, flow_name)

    return run


def wait_for(predicate: Callable[[], object], timeout: float, what: str, every=0.1) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def state_of(api, run_id: str) -> str:
    return api.read_flow_run(run_id)["state_type"]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def started_pid(tmp_path: Path, name: str, timeout: float = 20) -> int:
    pidfile = tmp_path / name
    wait_for(lambda: pidfile.exists() and pidfile.read_text(), timeout, f"{name}")
    return int(pidfile.read_text())


# -- watching a deployment's run ------------------------------------------------------------
def test_run_deployment_with_watch_exits_0_when_the_agent_succeeds(
        deploy, start_agent, proctor_cmd, api, tmp_path):
    deployment = deploy("trivial", "watched", "q-watch", "--param", "out=watched.txt")
    agent = start_agent("q-watch")
    proc = proctor_cmd("run", "agent-trivial/watched", "--watch", timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr + agent.output()
    assert "Success" in proc.stdout and "wrote " in proc.stdout
    runs = api.list_flow_runs(deployment_id=deployment["id"])
    assert len(runs) == 1 and runs[0]["state_type"] == "SUCCESS"
    assert (tmp_path / "watched.txt").read_text().split() == [runs[0]["id"]]


def test_an_agent_run_reads_its_scheduled_time_from_the_context(
        deploy, start_agent, proctor_cmd, api, tmp_path):
    deployment = deploy("dated", "dated", "q-dated")
    agent = start_agent("q-dated")
    proc = proctor_cmd("run", "agent-dated/dated", "--watch", timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr + agent.output()
    run = api.list_flow_runs(deployment_id=deployment["id"])[0]
    stamp, today = (tmp_path / "dated.txt").read_text().split()
    assert abs(float(stamp) - run["expected_start_time"]) < 1e-3
    assert today == time.strftime("%Y-%m-%d", time.gmtime(run["expected_start_time"]))


def test_watching_a_failing_run_exits_1(deploy, start_agent, proctor_cmd, api):
    deploy("failing", "doomed", "q-fail")
    start_agent("q-fail")
    proc = proctor_cmd("run", "agent-failing/doomed", "--watch", timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "failing on purpose" in proc.stdout


def test_a_process_that_dies_is_reported_crashed_by_its_agent(deploy, start_agent, api):
    deployment = deploy("dies", "dying", "q-dies")
    start_agent("q-dies")
    run = api.create_deployment_run(deployment["id"])
    wait_for(lambda: state_of(api, run["id"]) == "CRASHED", 20, "the run to crash")
    assert "exited with code 3" in api.read_flow_run(run["id"])["state"]["message"]


def test_an_entrypoint_that_cannot_be_loaded_fails_the_run_with_the_reason(start_agent, api):
    deployment, _ = api.upsert_deployment({
        "flow_name": "agent-missing", "name": "gone", "entrypoint": "missing.py:flow",
        "work_queue_name": "q-missing",
    })
    start_agent("q-missing")
    run = api.create_deployment_run(deployment["id"])
    wait_for(lambda: state_of(api, run["id"]) == "FAILED", 20, "the run to fail")
    message = api.read_flow_run(run["id"])["state"]["message"]
    assert "cannot load missing.py:flow" in message and "no such file" in message


# -- two agents, many runs: each exactly once -------------------------------------------------
#: Runs in the two-agent test, on each database: each is a process of its own (~0.3 s of CPU),
#: so more would cost the suite's time; 60 keep both agents busy at their limit for seconds.
MANY_RUNS = {"sqlite": 60, "postgresql": 60}


@pytest.mark.timeout(420)  # 60 subprocess runs: ~20 s alone on 2 cores, more under load
def test_two_agents_run_many_due_runs_exactly_once(orchestrator, deploy, start_agent, api,
                                                   tmp_path):
    total = MANY_RUNS[orchestrator.database]
    deployment = deploy("trivial", "many", "q-many", "--param", "out=many.txt")
    created = {api.create_deployment_run(deployment["id"])["id"] for _ in range(total)}
    agents = [start_agent("q-many", "--limit", "4") for _ in range(2)]

    def successes() -> bool:
        return api.request("GET", "/api/flow_runs/count", params={
            "deployment_id": deployment["id"], "state": "SUCCESS"})["count"] == total

    try:
        wait_for(successes, 360, f"{total} successful runs", every=0.5)
    except AssertionError:
        raise AssertionError("\n".join(a.output()[-3000:] for a in agents)) from None
    lines = (tmp_path / "many.txt").read_text().split()
    assert len(lines) == total and set(lines) == created  # each run executed once, no more
    runs = []
    for offset in range(0, total, 100):
        runs += api.list_flow_runs(deployment_id=deployment["id"], limit=100, offset=offset)
    assert {r["id"] for r in runs} == created
    assert len({r["agent_id"] for r in runs}) == 2  # both agents took a share


# -- cancellation, crashes, shutdown ----------------------------------------------------------
def test_cancelling_a_running_run_stops_its_process(deploy, start_agent, proctor_cmd, api,
                                                    tmp_path):
    deployment = deploy("sleepy", "cancelled", "q-cancel")
    start_agent("q-cancel")
    run = api.create_deployment_run(deployment["id"], {"pidfile": "cancel.pid"})
    pid = started_pid(tmp_path, "cancel.pid")
    wait_for(lambda: state_of(api, run["id"]) == "RUNNING", 10, "the run to be RUNNING")
    proc = proctor_cmd("runs", "cancel", run["id"])
    assert proc.returncode == 0, proc.stderr
    wait_for(lambda: state_of(api, run["id"]) == "CANCELLED", 15, "the run to be CANCELLED")
    wait_for(lambda: not pid_alive(pid), 5, "the run's process to be gone")


def test_cancelling_a_run_that_has_not_started_is_immediate(deploy, proctor_cmd, api):
    deployment = deploy("trivial", "never", "q-nobody")  # no agent serves this queue
    run = api.create_deployment_run(deployment["id"])
    proc = proctor_cmd("runs", "cancel", run["id"])
    assert proc.returncode == 0, proc.stderr
    assert "is cancelled" in proc.stdout
    assert state_of(api, run["id"]) == "CANCELLED"


def test_a_killed_agent_leaves_its_run_crashed_by_the_reaper(deploy, start_agent, api, tmp_path):
    deployment = deploy("sleepy", "orphaned", "q-kill")
    agent = start_agent("q-kill")
    run = api.create_deployment_run(deployment["id"], {"pidfile": "orphan.pid"})
    pid = started_pid(tmp_path, "orphan.pid")
    wait_for(lambda: state_of(api, run["id"]) == "RUNNING", 10, "the run to be RUNNING")
    agent.process.send_signal(signal.SIGKILL)
    agent.process.wait(5)
    # PROCTOR_AGENT_TIMEOUT is 3 s on this server, its reaper looks every 0.5 s
    wait_for(lambda: state_of(api, run["id"]) == "CRASHED", 15, "the reaper to crash the run")
    wait_for(lambda: not pid_alive(pid), 5, "the orphaned run's process to stop")


def test_sigint_lets_runs_finish_for_the_grace_period_then_cancels_them(
        deploy, start_agent, api, tmp_path):
    deployment = deploy("sleepy", "interrupted", "q-sigint")
    agent = start_agent("q-sigint", "--shutdown-grace", "1")
    run = api.create_deployment_run(deployment["id"], {"pidfile": "sigint.pid"})
    pid = started_pid(tmp_path, "sigint.pid")
    wait_for(lambda: state_of(api, run["id"]) == "RUNNING", 10, "the run to be RUNNING")
    agent.process.send_signal(signal.SIGINT)
    assert agent.process.wait(15) == 0, agent.output()
    assert state_of(api, run["id"]) == "CANCELLED"
    assert not pid_alive(pid)
    assert "stopped" in agent.output()


def test_a_stopping_agent_releases_the_runs_it_claimed_but_did_not_start(
        orchestrator, deploy, api, tmp_path):
    deployment = deploy("trivial", "released", "q-release")
    runs = {api.create_deployment_run(deployment["id"])["id"] for _ in range(3)}
    agent = Agent(AgentSettings(api_url=orchestrator.url, work_queue="q-release", limit=3,
                                workdir=tmp_path))
    try:
        claimed = agent.claim(time.time())
        assert set(claimed) == runs
        assert {api.read_flow_run(r)["agent_id"] for r in runs} == {agent.id}
        agent.request_stop()  # what SIGINT does
        tick = agent.run_once(time.time())
    finally:
        agent.client.close()
    assert tick.started == [] and set(tick.released) == runs
    for run_id in runs:
        run = api.read_flow_run(run_id)
        assert run["state_type"] == "SCHEDULED" and run["agent_id"] is None
    assert not (tmp_path / "runs.txt").exists()
