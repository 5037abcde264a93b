"""Small Prefect 1 spellings: Flow(name, schedule), set_downstream(flow=), LocalDaskExecutor,
DateTimeParameter, some_successful/some_failed, Task.copy, mapped(), unknown options."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from proctor import DateTimeParameter, Flow, Task, task
from proctor.core.errors import UnknownTaskOptionError
from proctor.executors import LocalDaskExecutor, LocalExecutor, ProcessExecutor, ThreadExecutor
from proctor.schedules import IntervalSchedule
from proctor.states import Failed, Skipped, Success
from proctor.triggers import some_failed, some_successful


@task
def double(x):
    return 2 * x


class Seven(Task):
    def run(self):
        return 7


def test_flow_takes_a_schedule_as_its_second_argument():
    schedule = IntervalSchedule("1h")
    f = Flow("scheduled", schedule)
    assert f.schedule is schedule and f.executor is None


def test_set_downstream_with_a_flow_and_task_copy():
    seven = Seven()
    f = Flow("down")
    seven.set_downstream(double, key="x", flow=f)
    assert f.run(run_on_schedule=False).result[double].result == 14
    renamed = double.copy(name="twice", max_retries=2)
    assert renamed.name == "twice" and renamed.max_retries == 2 and double.name == "double"


def test_local_dask_executor_is_a_local_pool():
    assert isinstance(LocalDaskExecutor(), ThreadExecutor)
    assert isinstance(LocalDaskExecutor(scheduler="processes", num_workers=2), ProcessExecutor)
    assert isinstance(LocalDaskExecutor(scheduler="synchronous"), LocalExecutor)
    with pytest.raises(ValueError, match="'threads', 'processes'"):
        LocalDaskExecutor(scheduler="gpu")


def test_datetime_parameter_reads_iso_text():
    @task
    def year(when):
        return when.year, when.tzinfo is not None

    with Flow("dated") as f:
        when = DateTimeParameter("when")
        out = year(when)
    assert f.run(when="2026-12-06T09:00:00Z").result[out].result == (2026, True)
    assert f.run(when=datetime(2027, 1, 1, tzinfo=timezone.utc)).result[out].result[0] == 2027
    bad = f.run(when="next tuesday")
    assert bad.is_failed() and "not a datetime" in bad.result[when].message


def test_some_successful_and_some_failed_count_or_take_fractions():
    ok, bad, skip = Success(), Failed(), Skipped()
    assert some_successful(at_least=2)([ok, ok, bad]) is True
    assert some_successful(at_least=2)([ok, bad, bad]) is False
    assert some_successful(at_most=0.5)([ok, bad, bad, bad]) is True
    assert some_failed(at_least=1, at_most=1)([ok, bad, skip]) is True
    assert some_failed(at_least=0.75)([ok, bad]) is False
    with pytest.raises(TypeError, match="at_least"):
        some_failed(at_least="two")


def test_an_unknown_task_option_names_the_valid_ones():
    with pytest.raises(UnknownTaskOptionError, match="no option.*max_retirs.*max_retries"):
        task(max_retirs=3)(lambda: None)
    assert task(log_stdout=True)(lambda: None).log_prints is True


def test_flow_runner_register_and_states_with_results():
    from proctor.core.errors import FlowRunFailedError
    from proctor.engine.flow_runner import FlowRunner
    from proctor.states import TriggerFailed

    seven = Seven()
    f = Flow("runner")
    f.add_edge(seven, double, key="x")
    state = FlowRunner(flow=f).run(task_states={seven: Success(result=1)})
    assert state.result[double].result == 2
    with pytest.raises(FlowRunFailedError, match="deploy"):
        f.register(project_name="p")
    assert Failed("bad", result=ValueError("x")).result.args == ("x",)
    assert TriggerFailed("no", result=3).result == 3 and Skipped("s", result=4).result == 4


def test_signals_carry_a_result_and_attributes_across_processes():
    import pickle

    from proctor.signals import FAIL, SKIP

    @task
    def picky():
        raise FAIL("too big", result={"size": 12}, limit=10)

    @task
    def skipper():
        raise SKIP("not today", result="later")

    with Flow("signals") as f:
        a = picky()
        b = skipper()
    state = f.run(executor=ProcessExecutor(1))
    assert state.result[a].result == {"size": 12} and state.result[a].exception.limit == 10
    assert state.result[b].result == "later" and state.result[b].message == "not today"
    again = pickle.loads(pickle.dumps(FAIL("x", limit=3)))
    assert again.limit == 3 and again.state_result() is again
