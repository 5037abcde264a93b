"""State handlers and on_* hooks on tasks and flows, on every executor."""

import logging

from proctor import Flow, flow, get_run_context, task
from proctor.core.context import FlowRunContext, TaskRunContext
from proctor.states import Failed, StateType, Success


def test_state_handlers_see_every_transition(executor):
    seen = []

    def handler(obj, old, new):
        seen.append((obj.name, old.name, new.name))

    @task(state_handlers=[handler], max_retries=1, retry_delay=0)
    def once_flaky():
        if get_run_context().task_run.attempt == 1:
            raise OSError("first")
        return 1

    with Flow("f", executor=executor) as f:
        once_flaky()
    assert f.run().is_successful()
    assert seen == [
        ("once_flaky", "Pending", "Running"),
        ("once_flaky", "Running", "Retrying"),
        ("once_flaky", "Retrying", "Running"),
        ("once_flaky", "Running", "Success"),
    ]


def test_state_handler_may_replace_the_final_state(executor):
    def forgive(obj, old, new):
        if new.is_failed():
            return Success("forgiven", result="fallback")
        return None

    @task(state_handlers=[forgive])
    def fails():
        raise ValueError("bad")

    with Flow("f", executor=executor) as f:
        out = fails()
    state = f.run()
    assert state.is_successful()
    assert state.result[out].result == "fallback"


def test_on_hooks_receive_task_context_and_state(executor):
    calls = []

    def on_failure(obj, ctx, state):
        calls.append(("failure", obj.name, isinstance(ctx, TaskRunContext), ctx.task_key,
                      state.type, get_run_context().task_run.id == ctx.id))

    def on_success(obj, ctx, state):
        calls.append(("success", obj.name, state.result))

    def on_completion(obj, ctx, state):
        calls.append(("completion", obj.name, state.name))

    def on_retry(obj, ctx, state):
        calls.append(("retry", obj.name, ctx.attempt))

    hooks = dict(on_failure=[on_failure], on_success=[on_success],
                 on_completion=[on_completion], on_retry=[on_retry])

    @task(max_retries=1, retry_delay=0, **hooks)
    def bad():
        raise OSError("nope")

    @task(**hooks)
    def good():
        return 5

    with Flow("f", executor=executor) as f:
        bad()
        good()
    f.run()
    assert ("retry", "bad", 1) in calls
    assert ("failure", "bad", True, "bad", StateType.FAILED, True) in calls
    assert ("success", "good", 5) in calls
    assert ("completion", "bad", "Failed") in calls and ("completion", "good", "Success") in calls


def test_hook_that_raises_is_logged_and_changes_nothing(executor, caplog):
    def broken_hook(obj, ctx, state):
        raise RuntimeError("hook bug")

    def broken_handler(obj, old, new):
        raise RuntimeError("handler bug")

    @task(on_success=[broken_hook], state_handlers=[broken_handler])
    def fine():
        return 1

    caplog.set_level(logging.ERROR, logger="proctor")
    with Flow("f", executor=executor, on_completion=[broken_hook]) as f:
        out = fine()
    state = f.run()
    assert state.is_successful() and state.result[out].result == 1
    messages = [r.getMessage() for r in caplog.records if r.name == "proctor.hooks"]
    assert any("hook broken_hook of fine raised RuntimeError: hook bug" in m for m in messages)
    assert any("state handler broken_handler of fine raised" in m for m in messages)
    assert any("hook broken_hook of f raised" in m for m in messages)


def test_hooks_on_trigger_failed_and_skipped_runs():
    seen = []

    def on_completion(obj, ctx, state):
        seen.append((ctx.task_key, state.name))

    @task
    def boom():
        raise ValueError("x")

    @task(on_completion=[on_completion], on_failure=[lambda o, c, s: seen.append("failure")])
    def downstream(x):
        return x

    with Flow("f") as f:
        downstream(boom())
    f.run()
    assert seen == ["failure", ("downstream", "TriggerFailed")]


def test_flow_hooks_and_handlers(executor):
    calls = []

    def flow_handler(obj, old, new):
        calls.append(("handler", obj.name, old.name, new.name))

    def on_failure(obj, ctx, state):
        calls.append(("failure", obj.name, isinstance(ctx, FlowRunContext), state.message))

    @task
    def boom():
        raise ValueError("x")

    with Flow("graph", executor=executor, state_handlers=[flow_handler],
              on_failure=[on_failure]) as f:
        boom()
    f.run()
    assert calls[0] == ("handler", "graph", "Pending", "Running")
    assert calls[1] == ("handler", "graph", "Running", "Failed")
    assert calls[2][:3] == ("failure", "graph", True) and "boom" in calls[2][3]

    def rescue(obj, old, new):
        return Success("rescued") if new.is_failed() else None

    @flow(executor=executor, state_handlers=[rescue], on_success=[
        lambda obj, ctx, state: calls.append(("success", obj.name, ctx.flow_name))])
    def body():
        raise KeyError("x")

    assert body.run().is_successful()
    assert ("success", "body", "body") in calls


def test_flow_on_retry_hook():
    attempts = []

    @flow(retries=2, retry_delay=0, on_retry=[lambda o, c, s: attempts.append(s.name)])
    def always_fails():
        raise OSError("down")

    state = always_fails.run()
    assert state.type is StateType.FAILED
    assert attempts == ["Retrying", "Retrying"]
    assert isinstance(state, type(Failed()))


def test_hooks_that_cannot_travel_stay_in_the_flow_process(executor):
    """A hook holding a lock (or a client, a notifier's thread) cannot be pickled; hooks run in
    the flow's process only, so a task with one still runs on worker processes and on Dask."""
    import threading

    lock = threading.Lock()
    seen = []

    def remember(task_, task_run, state):
        with lock:
            seen.append((task_run.task_name, state.result))

    @task(on_completion=[remember], state_handlers=[lambda t, old, new: new])
    def value():
        return 42

    with Flow("f", executor=executor) as f:
        out = value()
    state = f.run()
    assert state.result[out].result == 42, state.result[out].message
    assert seen == [("value", 42)]
