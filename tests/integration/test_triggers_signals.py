"""Triggers, signals and the reference-task rule, on every executor."""

import pytest

from proctor import Flow, flow, task
from proctor.signals import ENDRUN, FAIL, SKIP
from proctor.states import StateType, Success
from proctor.triggers import all_failed, always_run, any_failed, manual_only, none_failed


@task
def ok():
    return "ok"


@task
def boom():
    raise ValueError("boom")


@task(trigger=any_failed)
def alert():
    return "alerted"


@task(trigger=all_failed)
def all_down():
    return "everything failed"


@task(trigger=always_run)
def cleanup():
    return "cleaned"


@task
def skipper():
    raise SKIP("nothing to do today")


@task
def failer():
    raise FAIL("explicit failure")


@task
def ender():
    raise ENDRUN(Success("decided", result=42))


@task
def after(x=None):
    return "after"


def test_failure_branch_and_cleanup_run_and_flow_still_fails(executor):
    with Flow("f", executor=executor) as f:
        bad = boom()
        good = ok()
        a = alert(upstream_tasks=[bad, good])
        d = all_down(upstream_tasks=[bad, good])
        c = cleanup(upstream_tasks=[bad, good])
    state = f.run()
    assert state.result[a].result == "alerted"
    assert state.result[d].type is StateType.TRIGGER_FAILED
    assert state.result[c].result == "cleaned"
    # the always_run cleanup at the end does not hide the failure before it
    assert state.is_failed() and "boom" in state.message


def test_explicit_reference_tasks_decide(executor):
    with Flow("f", executor=executor) as f:
        bad = boom()
        c = cleanup(upstream_tasks=[bad])
    f.set_reference_tasks([c])
    assert f.run().is_successful()


def test_signals(executor):
    with Flow("f", executor=executor) as f:
        s = skipper()
        downstream_of_skip = after(s)
        cleaned = cleanup(upstream_tasks=[s])
        fl = failer()
        e = ender()
    state = f.run()
    assert state.result[s].type is StateType.SKIPPED
    assert state.result[s].message == "nothing to do today"
    assert state.result[downstream_of_skip].type is StateType.SKIPPED
    assert state.result[cleaned].result == "cleaned"  # always_run looks at skips itself
    assert state.result[fl].type is StateType.FAILED
    # a signal's state says its message; its result is the signal itself (Prefect 1)
    assert state.result[fl].message == "explicit failure"
    assert isinstance(state.result[fl].result, FAIL) and state.result[fl].exception is not None
    assert state.result[e].result == 42 and state.result[e].message == "decided"


def test_skip_on_upstream_skip_off_runs_task(executor):
    with Flow("f", executor=executor) as f:
        s = skipper()
        ran = after.with_options(skip_on_upstream_skip=False, trigger=none_failed)(s)
    assert f.run().result[ran].result == "after"


def test_skipped_only_flow_is_successful(executor):
    with Flow("f", executor=executor) as f:
        after(skipper())
    assert f.run().is_successful()


def test_manual_only_pauses_task_and_flow(executor):
    approve = ok.with_options(name="approve", trigger=manual_only)
    with Flow("f", executor=executor) as f:
        first = ok()
        gate_task = approve(upstream_tasks=[first])
        publish = after(gate_task)
        side = ok()
    state = f.run()
    assert state.result[first].result == "ok" and state.result[side].result == "ok"
    assert state.result[gate_task].type is StateType.PAUSED
    assert state.result[publish].type is StateType.PENDING
    assert state.type is StateType.PAUSED
    assert "approve" in state.message


def test_triggers_in_a_flow_function(executor):
    @flow(executor=executor)
    def handled():
        bad = boom.submit()
        return alert(upstream_tasks=[bad])

    state = handled.run()
    assert state.result == "alerted"
    assert state.is_failed()  # boom's failure was never looked at by the body

    @flow(executor=executor)
    def looked():
        bad = boom.submit()
        with pytest.raises(ValueError):
            bad.result()
        return alert(upstream_tasks=[bad])

    assert looked() == "alerted"
