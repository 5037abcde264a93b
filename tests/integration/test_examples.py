"""Every workshop example runs, as a script in a fresh process and through the API."""

import importlib.util
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parents[2] / "examples").glob("[0-9][0-9]_*.py"))
#: The examples that run alone as scripts (06 deploys to a server: tested with one below).
STANDALONE = [path for path in EXAMPLES if not path.name.startswith("06_")]


def load(path):
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: flow.deploy() finds the flow's file
    spec.loader.exec_module(module)
    return module


def test_there_are_examples_for_the_workshop_steps():
    assert [p.name[:2] for p in EXAMPLES] == ["00", "01", "02", "03", "04", "05", "06", "07",
                                              "08"]


@pytest.mark.parametrize("path", STANDALONE, ids=lambda p: p.stem)
def test_example_runs_as_a_script(path):
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_etl_and_xcom_demo(capsys):
    module = load(EXAMPLES[0])
    state = module.flow.run()
    assert state.is_successful()
    assert state.result["load"].result == 3
    assert module.xcom_flow.run().is_successful()
    assert "Received value: {'Firstname': 'Hello', 'Name': 'World'}" in capsys.readouterr().out


def test_task_library_example_moves_the_orders_through_every_service():
    module = load(EXAMPLES[8])
    try:
        state = module.flow.run(parameters={"rows": 4})
        assert state.is_successful(), state
        assert [r["total"] for r in state.result[module.ordered].result] == [40, 30, 20, 10]
        assert state.result[module.cached].result == "100"  # 10+20+30+40, in Redis
        assert state.result[module.check].result == {"n": 4}  # copied to MariaDB
    finally:
        module.clean_up()


def test_parallel_example_fans_out():
    module = load(EXAMPLES[1])
    state = module.flow.run()
    assert state.result["report"].result == 9
    assert len(state.result["clean"].children) == 9


def test_parameters_example_both_styles():
    module = load(EXAMPLES[2])
    assert module.etl(n=4, factor=3) == 3 * (0 + 1 + 2 + 3)
    state = module.graph_etl.run(parameters={"n": 3, "factor": 10})
    assert state.result["load"].result == 30


def test_errors_and_triggers_example():
    from proctor.recording import MemoryRecorder

    module = load(EXAMPLES[3])
    recorder = MemoryRecorder()
    state = module.flow.run(observers=[recorder])
    assert state.is_failed() and "validate" in state.message
    assert state.result["extract"].is_successful()
    assert recorder.runs_of("extract")[0].attempts == 3
    assert state.result["alert"].result == "alerted"
    assert state.result["cleanup"].result == "cleaned"
    assert state.result["load"].name == "TriggerFailed"


def test_hooks_example_posts_to_slack(http_server, monkeypatch):
    from proctor.notifications import flush

    monkeypatch.setenv("PROCTOR_SLACK_WEBHOOK_URL", f"{http_server.url}/services/T0/B0/secret")
    module = load(EXAMPLES[4])
    state = module.flow.run()
    assert flush(10)
    assert state.is_failed()
    texts = sorted(body["text"] for body in http_server.bodies)
    assert len(texts) == 2  # the task's on_failure hook and the flow's state handler
    assert any("task load: Failed: ValueError: negative amounts in rows [2]" in t for t in texts)
    assert any("flow hooks-demo: Failed" in t for t in texts)
    assert {path for path, _, _ in http_server.requests} == {"/services/T0/B0/secret"}


def test_hooks_example_without_url_prints_the_message(monkeypatch, capsys):
    monkeypatch.delenv("PROCTOR_SLACK_WEBHOOK_URL", raising=False)
    module = load(EXAMPLES[4])
    assert module.flow.run().is_failed()
    out = capsys.readouterr().out
    assert "Would post to Slack" in out and "negative amounts in rows [2]" in out


def test_schedules_example_carries_its_schedule_and_runs_once():
    from datetime import datetime, timezone

    module = load(EXAMPLES[5])
    assert module.flow.schedule is module.schedule
    after = datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc)  # a Friday evening
    times = module.schedule.next(3, after=after)
    assert [t.weekday() for t in times] == [0, 0, 0]  # the weekend is skipped
    assert times[0] == datetime(2026, 12, 7, 0, 0, tzinfo=timezone.utc)
    state = module.flow.run(run_on_schedule=False)
    assert state.is_successful() and state.result["publish"].result.startswith("42 rows")


def test_server_example_deploys_itself_and_its_run_succeeds_on_an_agent(
        orchestrator, start_agent, tmp_path):
    from proctor.client import ProctorClient

    module = load(EXAMPLES[6])
    assert module.flow.run(parameters={"region": "north"}).result["report"].result == \
        "north: 325"
    deployment, run = module.deploy_and_run(orchestrator.url)
    assert deployment["working_directory"] and deployment["entrypoint"].endswith(
        "06_server.py:flow")
    start_agent("default", "--code-root", str(EXAMPLES[6].parent))
    with ProctorClient(orchestrator.url) as client:
        import time

        deadline = time.monotonic() + 60
        while client.read_flow_run(run["id"])["state_type"] not in {"SUCCESS", "FAILED",
                                                                   "CRASHED"}:
            assert time.monotonic() < deadline, "the example's run did not end"
            time.sleep(0.2)
        ended = client.read_flow_run(run["id"])
        assert ended["state_type"] == "SUCCESS", ended["state"]
        logs = [line["message"] for line in client.read_logs(run["id"])]
    assert "sales of south: 210" in logs
