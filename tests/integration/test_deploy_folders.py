"""A deployment runs in the folder it was made from, on an agent started anywhere on the machine.

The newcomer's path: a project folder of their own (`~/myproj`, here a temporary folder outside
the agent's), a flow that reads a relative data file, `proctor deploy flows.py:etl` typed in that
folder, and the agent that `make run` started elsewhere. The run must find both the flow and its
data file; an agent told not to trust deployed folders, or one that cannot see the folder, says
why the run did not start. Real processes: the server, `proctor deploy`, `proctor agent start`.
"""

from __future__ import annotations

import socket
import textwrap
import time
from pathlib import Path

import pytest

from tests.integration.conftest import AgentProcess


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def state_of(api, run_id: str) -> str:
    return api.read_flow_run(run_id)["state_type"]


PROJECT_FLOW = """
    from pathlib import Path

    from proctor import flow


    @flow(name="folder-etl")
    def etl(out: str = "loaded.txt"):
        rows = Path("data/sales.csv").read_text().splitlines()[1:]  # relative to the project
        total = sum(int(line.split(",")[1]) for line in rows)
        Path(out).write_text(f"{len(rows)} rows, total {total}\\n")
        return total
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """~/myproj: a flow and its data file, in a folder no agent was started in."""
    folder = tmp_path / "elsewhere" / "myproj"
    (folder / "data").mkdir(parents=True)
    (folder / "flows.py").write_text(textwrap.dedent(PROJECT_FLOW))
    (folder / "data" / "sales.csv").write_text("day,amount\nmon,3\ntue,4\n")
    return folder


@pytest.fixture
def agent_in(orchestrator, tmp_path):
    """agent_in(queue, *options) -> an agent started in a folder of its own (its default code
    root), not above the project."""
    agents: list[AgentProcess] = []

    def start(queue: str, *options: str) -> AgentProcess:
        folder = tmp_path / "agent-dir"
        folder.mkdir(exist_ok=True)
        agent = AgentProcess(orchestrator.url, queue, folder, *options)
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.stop()


def _deploy_from(proctor_cmd, project: Path, queue: str) -> str:
    proc = proctor_cmd("deploy", "flows.py:etl", "--name", "mine", "--queue", queue, cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert f"folder:     {project.resolve()}" in proc.stdout
    return proc.stdout


def test_a_flow_deployed_from_its_own_folder_runs_there_on_an_agent_started_elsewhere(
        proctor_cmd, api, project, agent_in):
    _deploy_from(proctor_cmd, project, "q-folder")
    deployment = api.read_deployment_by_name("mine", "folder-etl")
    assert deployment["entrypoint"] == "flows.py:etl"
    assert deployment["working_directory"] == str(project.resolve())
    agent = agent_in("q-folder")
    run = api.create_deployment_run(deployment["id"])
    try:
        wait_for(lambda: state_of(api, run["id"]) in {"SUCCESS", "FAILED", "CRASHED"}, 30,
                 "the run to end")
    except AssertionError:
        raise AssertionError(agent.output()[-3000:]) from None
    assert state_of(api, run["id"]) == "SUCCESS", api.read_flow_run(run["id"])["state"]
    # The flow read its data file, and wrote its output, in the project folder.
    assert (project / "loaded.txt").read_text() == "2 rows, total 7\n"


def test_an_agent_that_does_not_trust_deployed_folders_refuses_the_run(
        proctor_cmd, api, project, agent_in):
    _deploy_from(proctor_cmd, project, "q-untrusted")
    deployment = api.read_deployment_by_name("mine", "folder-etl")
    agent_in("q-untrusted", "--no-deployed-folders")
    run = api.create_deployment_run(deployment["id"])
    wait_for(lambda: state_of(api, run["id"]) == "FAILED", 30, "the run to be refused")
    message = api.read_flow_run(run["id"])["state"]["message"]
    assert "outside this agent's code roots" in message and "--code-root" in message
    assert not (project / "loaded.txt").exists()


def test_a_folder_the_agent_cannot_see_fails_the_run_naming_it_and_the_host(
        api, project, agent_in, tmp_path):
    missing = tmp_path / "on-another-machine" / "myproj"
    body = {"flow_name": "folder-etl", "name": "far", "entrypoint": "flows.py:etl",
            "working_directory": str(missing), "work_queue_name": "q-far"}
    deployment, _ = api.upsert_deployment(body)
    assert deployment["working_directory"] == str(missing)
    agent_in("q-far")
    run = api.create_deployment_run(deployment["id"])
    wait_for(lambda: state_of(api, run["id"]) == "FAILED", 30, "the run to fail")
    message = api.read_flow_run(run["id"])["state"]["message"]
    assert str(missing) in message and "does not exist" in message
    assert socket.gethostname() in message and "agent-dir" in message


def test_an_api_deployment_in_an_unknown_folder_is_still_refused(api, project, agent_in):
    """The trust comes from `proctor deploy` on this machine: a folder named through the API
    alone adds nothing to what agents may run."""
    body = {"flow_name": "folder-etl", "name": "sneaky", "entrypoint": "flows.py:etl",
            "working_directory": str(project), "work_queue_name": "q-sneaky"}
    deployment, _ = api.upsert_deployment(body)
    agent_in("q-sneaky")
    run = api.create_deployment_run(deployment["id"])
    wait_for(lambda: state_of(api, run["id"]) == "FAILED", 30, "the run to be refused")
    assert "outside this agent's code roots" in api.read_flow_run(run["id"])["state"]["message"]
    assert not (project / "loaded.txt").exists()


def test_a_relative_working_directory_is_refused_by_the_api(api):
    from proctor.client import ApiError

    body = {"flow_name": "folder-etl", "name": "relative", "entrypoint": "flows.py:etl",
            "working_directory": "myproj"}
    with pytest.raises(ApiError) as raised:
        api.upsert_deployment(body)
    assert "working_directory must be an absolute path" in str(raised.value)
