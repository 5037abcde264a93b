"""The @flow front-end runs on the same engine: calls return values, futures wait."""

import logging
import threading

import pytest

from proctor import flow, get_run_context, get_run_logger, task
from proctor.core.errors import (
    MissingContextError,
    ParameterValidationError,
    UnknownParameterError,
    UpstreamFailedError,
)
from proctor.states import StateType


@task
def extract(n):
    return list(range(n))


@task
def double(x):
    return 2 * x


@task
def total(values):
    return sum(values)


@task
def explode(x=None):
    raise KeyError("missing")


def test_calls_return_values_and_map_returns_futures(executor):
    @flow(executor=executor)
    def etl(n: int = 3):
        rows = extract(n)
        assert rows == list(range(n))
        futures = double.map(rows)
        assert len(futures) == n
        return total(futures)

    assert etl(n=4) == 12
    state = etl.run(n="5")  # coerced to int
    assert state.is_successful() and state.result == 20
    assert len(state.task_states) == 1 + 5 + 1


def test_submit_returns_future_and_futures_are_dependencies(executor):
    @flow(executor=executor)
    def pipeline():
        a = double.submit(1)
        b = double.submit(a)
        return b.result(), a.state.is_successful()

    assert pipeline() == (4, True)


def test_map_over_future_waits_for_its_value(executor):
    @flow(executor=executor)
    def pipeline():
        rows = extract.submit(3)
        return [f.result() for f in double.map(rows)]

    assert pipeline() == [0, 2, 4]


def test_task_error_is_raised_in_the_body_and_fails_the_flow(executor):
    @flow(executor=executor)
    def broken():
        explode()

    state = broken.run()
    assert state.is_failed() and isinstance(state.exception, KeyError)
    with pytest.raises(KeyError, match="missing"):
        broken()


def test_body_may_handle_a_task_failure(executor):
    @flow(executor=executor)
    def careful():
        try:
            explode()
        except KeyError:
            return "handled"

    assert careful() == "handled"


def test_unobserved_failed_future_fails_the_flow(executor):
    @flow(executor=executor)
    def forgetful():
        explode.submit()
        return 1

    state = forgetful.run()
    assert state.is_failed() and "explode" in state.message
    with pytest.raises(KeyError):
        forgetful()


def test_downstream_of_failed_future_raises_upstream_error(executor):
    @flow(executor=executor)
    def chain():
        bad = explode.submit()
        return double(bad)

    with pytest.raises(UpstreamFailedError, match="did not succeed"):
        chain()


def test_parameters_are_validated_before_running():
    calls = []

    @flow
    def typed(n: int):
        calls.append(n)

    with pytest.raises(ParameterValidationError, match="'n'.*'x'.*expected int"):
        typed(n="x")
    with pytest.raises(UnknownParameterError, match="valid names: n"):
        typed(m=1)
    assert calls == []


def test_run_logger_records_carry_run_ids(caplog):
    @task
    def talk():
        get_run_logger().info("from task")
        return get_run_context().task_run.id

    @flow(name="chatty")
    def chatty():
        get_run_logger().info("from flow")
        return talk()

    caplog.set_level(logging.INFO, logger="proctor")
    state = chatty.run()
    task_run_id = state.result
    records = {r.getMessage(): r for r in caplog.records}
    assert records["from task"].task_run_id == task_run_id
    assert records["from task"].flow_run_id == records["from flow"].flow_run_id
    assert records["from flow"].task_run_id is None
    assert records["from task"].flow_name == "chatty"


def test_log_prints_capture_print_only_in_that_task(caplog, capsys):
    @task(log_prints=True)
    def noisy():
        print("hello", "world")

    @task
    def plain():
        print("plain print")

    @flow
    def prints():
        noisy()
        plain()

    caplog.set_level(logging.INFO, logger="proctor")
    prints()
    messages = [r.getMessage() for r in caplog.records]
    assert "hello world" in messages
    assert "plain print" not in messages
    assert "plain print" in capsys.readouterr().out


def test_get_run_logger_outside_a_run_is_a_clear_error():
    with pytest.raises(MissingContextError, match="outside a flow or task run"):
        get_run_logger()


def test_threads_run_tasks_concurrently_in_a_flow_body():
    barrier = threading.Barrier(2, timeout=10)

    @task
    def meet(i):
        barrier.wait()
        return i

    @flow(executor="threads:2")
    def together():
        a, b = meet.submit(1), meet.submit(2)
        return a.result() + b.result()

    assert together() == 3


def test_mapped_future_state_types(executor):
    @task
    def odd_fails(x):
        if x % 2:
            raise ValueError(x)
        return x

    @flow(executor=executor)
    def mixed():
        futures = odd_fails.map([0, 1, 2])
        return [f.wait().type for f in futures]

    assert mixed() == [StateType.SUCCESS, StateType.FAILED, StateType.SUCCESS]


def test_mapped_calls_in_a_body_are_keyed_by_call_and_index():
    @flow
    def twice():
        a = double.map([1, 2])
        b = double.map([3])
        return [f.node.key for f in a + b]

    assert twice() == ["double[0]", "double[1]", "double-2[0]"]


def test_run_with_takes_executor_and_parameters_as_a_dict():
    @flow
    def named(executor: int = 1):  # a parameter may be called "executor"
        return executor * 2

    assert named(executor=4) == 8
    assert named.run_with({"executor": "5"}, executor="threads:2").result == 10


def test_logs_from_worker_processes_reach_the_flow_process(caplog):
    from proctor.executors import ProcessExecutor

    @task(log_prints=True)
    def chatty(i):
        get_run_logger().warning("from worker %d", i)
        print("printed", i)
        return i

    @flow(executor=ProcessExecutor(2))
    def remote():
        return [f.result() for f in chatty.map([1, 2])]

    caplog.set_level(logging.INFO, logger="proctor")
    assert remote() == [1, 2]
    messages = sorted(r.getMessage() for r in caplog.records if r.name == "proctor.task_run")
    assert messages == ["from worker 1", "from worker 2", "printed 1", "printed 2"]
    record = next(r for r in caplog.records if r.getMessage() == "from worker 1")
    assert record.task_run_id and record.task_name.startswith("chatty")
