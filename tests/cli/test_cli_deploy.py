"""`proctor deploy` and `proctor run DEPLOYMENT`: what is refused before any server is asked.

Commands that reach a server are tested in tests/integration (test_deploy.py, test_agent.py).
"""

from __future__ import annotations

import socket

import pytest

from proctor.cli.run import is_deployment_reference

ETL = """
    from proctor import Flow, Parameter, flow, task

    @task
    def show(x):
        return x

    @flow(name="typed")
    def typed(n: int = 1):
        return n

    with Flow("graph") as graph:
        show(Parameter("n", required=True))
"""


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(("args", "message"), [
    (["--param", "n=abc"], "parameter 'n' of flow 'typed'"),
    (["--param", "m=1"], "has no parameter(s) 'm'"),
    (["--param", "oops"], "expected KEY=VALUE"),
    (["--cron", "61 * * * *"], "cron"),
    (["--interval", "soon"], "interval"),
    (["--cron", "0 2 * * *", "--interval", "5m"], "exactly one of"),
    (["--timezone", "Europe/Paris"], "--timezone needs a schedule"),
    (["--cron", "0 2 * * *", "--timezone", "Mars/Olympus"], "Mars/Olympus"),
])
def test_deploy_refuses_bad_input_with_exit_2(invoke, write_flow, closed_port_url, args,
                                              message):
    path = write_flow(ETL)
    result = invoke("deploy", f"{path}:typed", "--name", "n1", "--api-url", closed_port_url,
                    *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_deploy_of_a_graph_flow_needs_its_required_parameters(invoke, write_flow,
                                                              closed_port_url):
    result = invoke("deploy", f"{write_flow(ETL)}:graph", "--name", "g",
                    "--api-url", closed_port_url)
    assert result.exit_code == 2
    assert "needs parameter(s) 'n'" in result.stderr


def test_deploy_refuses_a_bad_reference_and_a_missing_name(invoke, write_flow, tmp_path):
    assert invoke("deploy", f"{tmp_path}/nope.py:flow", "--name", "x").exit_code == 2
    missing_name = invoke("deploy", f"{write_flow(ETL)}:typed")
    assert missing_name.exit_code == 2 and "--name" in missing_name.output


def test_deploy_to_an_unreachable_server_exits_1(invoke, write_flow, closed_port_url):
    result = invoke("deploy", f"{write_flow(ETL)}:typed", "--name", "n1",
                    "--api-url", closed_port_url)
    assert result.exit_code == 1
    assert "not reachable" in result.stderr


def test_run_of_a_deployment_with_an_unreachable_server_exits_1(invoke, closed_port_url):
    result = invoke("run", "etl/nightly", "--api-url", closed_port_url)
    assert result.exit_code == 1
    assert "not reachable" in result.stderr


def test_run_options_that_do_not_fit_the_reference_exit_2(invoke, write_flow):
    executor = invoke("run", "etl/nightly", "--executor", "threads:2")
    assert executor.exit_code == 2 and "--executor applies to a flow file" in executor.stderr
    watch = invoke("run", f"{write_flow(ETL)}:typed", "--watch")
    assert watch.exit_code == 2 and "--watch and --api-url apply to a deployment" in watch.stderr


def test_which_references_are_deployments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "script").write_text("")
    assert is_deployment_reference("etl/nightly")
    assert is_deployment_reference("nightly")
    assert is_deployment_reference("0123456789abcdef0123456789abcdef")
    assert not is_deployment_reference("flows.py:etl")
    assert not is_deployment_reference("missing.py")
    assert not is_deployment_reference("folder:flow")  # an existing path: the file mode's error
    assert not is_deployment_reference("script")


def test_new_commands_are_listed_in_help(invoke):
    result = invoke("--help")
    for command in ("deploy", "deployments", "agent", "concurrency-limit", "dev"):
        assert command in result.stdout
    assert invoke("runs", "cancel", "--help").exit_code == 0
    assert "--queue" in invoke("agent", "start", "--help").stdout
