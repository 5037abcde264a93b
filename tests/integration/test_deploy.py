"""Deploying flows to a real server: `flow.deploy(...)`, `proctor deploy`, `proctor deployments`.

The flows deployed from Python are defined at the top of this module, so their entrypoint is
found from the flow object itself (this file, and the attribute name).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from proctor import Flow, Parameter, flow, task
from proctor.core.errors import (
    MissingParameterError,
    ParameterValidationError,
    UnknownParameterError,
)
from proctor.deploy import DeployError, find_entrypoint
from proctor.schedules import CronSchedule, IntervalSchedule


@task
def add(a, b):
    return a + b


@flow(name="deploy-nightly", retries=2)
def nightly(n: int = 5, label: str = "x", *, factor: float = 1.5):
    return add(n, factor)


@flow(name="deploy-needs")
def needs(day: str):
    return day


with Flow("deploy-graph") as graph_flow:
    add(Parameter("a", default=1), Parameter("b", required=True))


# -- flow.deploy --------------------------------------------------------------------------------
def test_flow_function_deploy_creates_then_updates(orchestrator, api):
    schedule = CronSchedule("0 2 * * *", timezone="Europe/Paris")
    first = nightly.deploy("nightly", schedule=schedule, parameters={"n": 7}, tags=["etl"],
                           api_url=orchestrator.url)
    assert first["created"] is True
    assert first["flow_name"] == "deploy-nightly" and first["name"] == "nightly"
    assert first["parameters"] == {"n": 7} and first["tags"] == ["etl"]
    assert first["schedule"] == schedule.to_dict() and first["schedule_description"]
    assert first["work_queue_name"] == "default" and first["paused"] is False
    entry_file, _, attribute = first["entrypoint"].rpartition(":")
    assert attribute == "nightly" and Path(entry_file).resolve() == Path(__file__).resolve()
    schema = {p["name"]: p for p in first["parameter_schema"]["parameters"]}
    assert schema["n"] == {"name": "n", "default": 5, "annotation": "int", "required": False}
    assert schema["factor"]["annotation"] == "float"
    assert first["parameter_schema"]["retries"] == 2

    again = nightly.deploy("nightly", parameters={"n": 8}, work_queue="other", paused=True,
                           api_url=orchestrator.url)
    assert again["created"] is False and again["id"] == first["id"]
    assert again["parameters"] == {"n": 8} and again["schedule"] is None
    assert again["work_queue_name"] == "other" and again["paused"] is True
    assert len([d for d in api.list_deployments(flow_name="deploy-nightly")]) == 1


def test_graph_flow_deploy_uses_the_environment_url(orchestrator, monkeypatch):
    monkeypatch.setenv("PROCTOR_API_URL", orchestrator.url)
    deployment = graph_flow.deploy("hourly", schedule=IntervalSchedule("1h"),
                                   parameters={"b": 2})
    assert deployment["entrypoint"].endswith(":graph_flow")
    schema = {p["name"]: p for p in deployment["parameter_schema"]["parameters"]}
    assert schema["b"]["required"] is True and schema["a"]["default"] == 1


@pytest.mark.parametrize(("target", "parameters", "error"), [
    (nightly, {"m": 1}, UnknownParameterError),
    (nightly, {"n": "many"}, ParameterValidationError),
    (needs, {}, MissingParameterError),
    (graph_flow, {"c": 1}, UnknownParameterError),
    (graph_flow, {}, MissingParameterError),
])
def test_defaults_are_validated_before_the_server_is_asked(target, parameters, error):
    with pytest.raises(error):
        target.deploy("bad", parameters=parameters, api_url="http://127.0.0.1:9")


def test_deploy_needs_a_server_and_a_schedule_object(monkeypatch):
    monkeypatch.delenv("PROCTOR_API_URL", raising=False)
    with pytest.raises(DeployError, match="needs a server"):
        nightly.deploy("nowhere")
    with pytest.raises(DeployError, match="not a schedule"):
        nightly.deploy("odd", schedule="every day", api_url="http://127.0.0.1:9")


def test_entrypoint_of_a_flow_not_bound_in_a_module_must_be_given():
    @flow(name="local-only")
    def local_only():
        return 1

    with pytest.raises(DeployError, match="entrypoint="):
        find_entrypoint(local_only)
    assert find_entrypoint(nightly, cwd=Path(__file__).parent) == "test_deploy.py:nightly"


# -- the command line ---------------------------------------------------------------------------
ETL = """
    from proctor import flow

    @flow(name="cli-etl")
    def etl(n: int = 3, day: str = "today"):
        return n
"""


@pytest.fixture
def etl_file(tmp_path: Path) -> Path:
    path = tmp_path / "etl.py"
    path.write_text(textwrap.dedent(ETL))
    return path


def test_proctor_deploy_prints_the_next_three_runs_and_updates_on_redeploy(
        etl_file, proctor_cmd, api):
    proc = proctor_cmd("deploy", "etl.py:etl", "--name", "nightly", "--cron", "0 2 * * *",
                       "--timezone", "Europe/Paris", "--param", "n=5", "--tag", "etl")
    assert proc.returncode == 0, proc.stderr
    assert "Created deployment cli-etl/nightly" in proc.stdout
    assert proc.stdout.count("next: ") == 3 and "Europe/Paris" in proc.stdout
    deployment = api.read_deployment_by_name("nightly", "cli-etl")
    assert deployment["entrypoint"] == "etl.py:etl"
    assert deployment["parameters"] == {"n": 5} and deployment["tags"] == ["etl"]
    assert deployment["schedule"]["kind"] == "cron"

    proc = proctor_cmd("deploy", "etl.py", "--name", "nightly", "--interval", "5m", "--paused")
    assert proc.returncode == 0, proc.stderr
    assert "Updated deployment cli-etl/nightly" in proc.stdout and "(paused)" in proc.stdout
    again = api.read_deployment_by_name("nightly", "cli-etl")
    assert again["id"] == deployment["id"] and again["paused"] is True
    assert again["schedule"]["kind"] == "interval" and again["entrypoint"] == "etl.py:etl"


def test_proctor_deploy_refuses_bad_parameters_with_exit_2(etl_file, proctor_cmd):
    proc = proctor_cmd("deploy", "etl.py:etl", "--name", "x", "--param", "n=abc")
    assert proc.returncode == 2 and "parameter 'n'" in proc.stderr
    proc = proctor_cmd("deploy", "etl.py:etl", "--name", "x", "--param", "m=1")
    assert proc.returncode == 2 and "has no parameter(s) 'm'" in proc.stderr


def test_deployments_ls_pause_resume_delete(etl_file, proctor_cmd, api):
    assert proctor_cmd("deploy", "etl.py:etl", "--name", "managed", "--interval", "1h",
                       ).returncode == 0
    listing = proctor_cmd("deployments", "ls", "--flow", "cli-etl")
    assert listing.returncode == 0 and "cli-etl/managed" in listing.stdout
    assert "every hour" in listing.stdout
    paused = proctor_cmd("deployments", "pause", "cli-etl/managed")
    assert paused.returncode == 0 and "Paused cli-etl/managed" in paused.stdout
    assert api.read_deployment_by_name("managed", "cli-etl")["paused"] is True
    resumed = proctor_cmd("deployments", "resume", "managed")  # unique name: enough
    assert resumed.returncode == 0
    assert api.read_deployment_by_name("managed", "cli-etl")["paused"] is False
    deleted = proctor_cmd("deployments", "delete", "cli-etl/managed", "--yes")
    assert deleted.returncode == 0 and "Deleted cli-etl/managed" in deleted.stdout
    missing = proctor_cmd("deployments", "pause", "cli-etl/managed")
    assert missing.returncode == 2 and "no deployment 'cli-etl/managed'" in missing.stderr


def test_run_of_a_deployment_without_watch_only_creates_it(etl_file, proctor_cmd, api):
    assert proctor_cmd("deploy", "etl.py:etl", "--name", "ondemand", "--queue",
                       "q-none").returncode == 0
    proc = proctor_cmd("run", "cli-etl/ondemand", "--param", "n=9")
    assert proc.returncode == 0, proc.stderr
    deployment = api.read_deployment_by_name("ondemand", "cli-etl")
    (run,) = api.list_flow_runs(deployment_id=deployment["id"])
    assert run["id"] in proc.stdout and run["parameters"] == {"n": 9}
    assert run["state_type"] == "SCHEDULED" and run["work_queue_name"] == "q-none"
    unknown = proctor_cmd("run", "cli-etl/nope")
    assert unknown.returncode == 2 and "no deployment" in unknown.stderr


def test_concurrency_limit_commands(proctor_cmd, api):
    created = proctor_cmd("concurrency-limit", "create", "database", "3")
    assert created.returncode == 0, created.stderr
    assert {"tag": "database", "limit": 3}.items() <= next(
        item for item in api.list_concurrency_limits() if item["tag"] == "database").items()
    listing = proctor_cmd("concurrency-limit", "ls")
    assert listing.returncode == 0 and "database" in listing.stdout
    deleted = proctor_cmd("concurrency-limit", "delete", "database")
    assert deleted.returncode == 0
    assert all(item["tag"] != "database" for item in api.list_concurrency_limits())
