"""`resume=`: a new run keeps what an earlier run of the flow achieved, approves its paused
`manual_only` tasks and runs the rest again; on every executor."""

import pytest

from proctor import Flow, flow, task
from proctor.core.errors import ResumeError
from proctor.core.states import StateType
from proctor.core.triggers import manual_only


def calls(log):
    return log.read_text().split() if log.exists() else []


def make_tasks(log):
    def mark(name):
        with open(log, "a") as fh:
            fh.write(name + "\n")

    @task
    def extract():
        mark("extract")
        return [1, 2, 3]

    @task
    def double(x):
        mark("double")
        if (log.parent / f"break-{x}").exists():
            raise ValueError(f"cannot double {x}")
        return 2 * x

    @task(trigger=manual_only)
    def deploy(xs):
        mark("deploy")
        return sum(xs)

    @task
    def report(total):
        mark("report")
        return f"deployed {total}"

    return extract, double, deploy, report


def test_resuming_approves_the_paused_task_and_keeps_the_rest(executor, tmp_path):
    log = tmp_path / "calls.txt"
    extract, double, deploy, report = make_tasks(log)
    with Flow("gated", executor=executor) as f:
        out = report(deploy(double.map(extract())))
    first = f.run()
    assert first.type is StateType.PAUSED
    assert first.result[deploy].type is StateType.PAUSED
    assert first.result[out].type is StateType.PENDING
    assert sorted(calls(log)) == ["double", "double", "double", "extract"]

    log.unlink()
    second = f.run(resume=first)
    assert second.is_successful(), second.message
    assert second.result[out].result == "deployed 12"
    assert calls(log) == ["deploy", "report"]  # nothing that succeeded ran again
    assert second.result[extract].result == [1, 2, 3]  # kept, with its result


def test_resuming_a_failed_run_restarts_from_the_failure(executor, tmp_path):
    log = tmp_path / "calls.txt"
    extract, double, _, report = make_tasks(log)
    (tmp_path / "break-2").touch()
    with Flow("restartable", executor=executor) as f:
        out = report(double.map(extract()))
    first = f.run()
    assert first.is_failed()
    assert first.result[out].type is StateType.TRIGGER_FAILED

    (tmp_path / "break-2").unlink()  # the cause is fixed
    log.unlink()
    second = f.run(resume=first)
    assert second.is_successful(), second.message
    assert second.result[out].result == "deployed [2, 4, 6]"
    # the partly failed map runs whole; extract, which succeeded, does not run again
    assert sorted(calls(log)) == ["double", "double", "double", "report"]


def test_a_flow_function_resumes_from_its_failure(tmp_path):
    log = tmp_path / "calls.txt"
    extract, double, _, report = make_tasks(log)
    (tmp_path / "break-3").touch()

    @flow
    def pipeline():
        rows = extract()
        return report([double(x) for x in rows])

    first = pipeline.run()
    assert first.is_failed()
    (tmp_path / "break-3").unlink()
    log.unlink()
    second = pipeline.run_with(resume=first)
    assert second.is_successful(), second.message
    assert second.result == "deployed [2, 4, 6]"
    assert calls(log) == ["double", "report"]  # double and double-2 had succeeded


def test_resume_needs_an_earlier_runs_state():
    from proctor.core.states import Success

    with Flow("f") as f:
        pass
    with pytest.raises(ResumeError, match="holds no task states"):
        f.run(resume=Success())
