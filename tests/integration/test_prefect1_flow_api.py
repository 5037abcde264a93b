"""Prefect 1's flow API on Proctor's engine: imperative wiring, operators, apply_map, mapping
extras, context, signals, results and targets, and the rest, run on real executors."""

from __future__ import annotations

import logging
import os

import pytest

from proctor import (
    Edge,
    Flow,
    Parameter,
    Task,
    apply_map,
    case,
    context,
    flatten,
    mapped,
    resource_manager,
    tags,
    task,
    unmapped,
)
from proctor.cache_validators import all_inputs, duration_only
from proctor.core.errors import ProctorError, TaskResultTruthError
from proctor.recording.memory import MemoryRecorder
from proctor.results import JSONSerializer, LocalResult
from proctor.signals import LOOP, PAUSE, SUCCESS, TRIGGERFAIL
from proctor.states import StateType, Success
from proctor.triggers import all_failed, always_run


@task
def inc(x):
    return x + 1


@task
def add(x, y):
    return x + y


@task
def numbers():
    return [1, 2, 3]


class Five(Task):
    def run(self):
        return 5


class Show(Task):
    def run(self, x):
        return f"<{x}>"


# -- the imperative API --------------------------------------------------------------------------
def test_imperative_flow_built_outside_with_flow(basic_executor):
    five, show = Five(), Show()
    f = Flow("imperative", executor=basic_executor)
    assert f.add_task(five) is five
    edge = f.add_edge(five, inc, key="x")
    show.set_upstream(inc, key="x", flow=f)
    assert edge == Edge(five, inc, key="x") and edge in f.edges
    assert f.tasks == {five, inc, show}
    assert f.root_tasks() == {five} and f.terminal_tasks() == {show}
    assert f.reference_tasks() == {show}
    assert f.upstream_tasks(show) == {inc} and f.downstream_tasks(five) == {inc}
    assert f.get_tasks(name="inc") == [inc]
    state = f.run()
    assert state.is_successful()
    assert state.result[show].result == "<6>"


def test_flow_from_tasks_and_edges_bind_and_constants(basic_executor):
    five = Five()
    f = Flow("listed", executor=basic_executor, tasks=[five, inc],
             edges=[Edge(five, inc, key="x")])
    assert f.run().result[inc].result == 6
    g = Flow("bound", executor=basic_executor)
    assert add.bind(x=five, y=2, flow=g) is add
    assert g.constants == {add: {"y": 2}}
    assert {(e.upstream_task, e.key) for e in g.edges} == {(five, "x")}
    assert g.run().result[add].result == 7


def test_copy_and_update_leave_the_original_alone():
    five, show = Five(), Show()
    f = Flow("base")
    f.add_edge(five, show, key="x")
    copy = f.copy()
    again = Show(name="again")
    copy.add_edge(show, again, key="x")
    assert len(f.tasks) == 2 and len(copy.tasks) == 3
    assert copy.run().result[again].result == "<<5>>"
    assert again not in f.tasks
    other = Flow("other")
    other.add_edge(Five(), add, key="x")
    other.set_dependencies(add, keyword_tasks={"y": Five()})
    f.update(other)
    assert len(f.tasks) == 5
    state = f.run()
    assert state.result[add].result == 10 and state.result[show].result == "<5>"


def test_mapped_edges_and_map_over_a_mapped_upstream(executor):
    f = Flow("mapped-edges", executor=executor)
    f.add_edge(numbers, inc, key="x", mapped=True)
    f.add_edge(inc, Five(name="count"), mapped=True)  # mapped, no value: a run per element
    state = f.run()
    assert state.result[inc].result == [2, 3, 4]
    counted = [n for n in state.result if n.key == "count"][0]
    assert state.result[counted].type is StateType.MAPPED
    assert [c.result for c in state.result[counted].children] == [5, 5, 5]

    @task
    def ping():
        return "pong"

    with Flow("map-upstream", executor=executor) as g:
        xs = inc.map([1, 2, 3, 4])
        pings = ping.map(upstream_tasks=[xs])
        once = ping(upstream_tasks=[xs])
        per_item = ping.map(upstream_tasks=[numbers])  # nothing else mapped: its elements
        ordered = inc.map([1, 2], upstream_tasks=[numbers])  # mapped arguments: order only
    state = g.run()
    assert state.result[pings].result == ["pong"] * 4
    assert state.result[once].result == "pong"
    assert state.result[per_item].result == ["pong"] * 3
    assert state.result[ordered].result == [2, 3]


# -- operators -----------------------------------------------------------------------------------
def test_operators_on_results_and_parameters_build_tasks(basic_executor):
    with Flow("ops", executor=basic_executor) as f:
        p = Parameter("p", default=3)
        a = inc(p)  # 4
        results = {
            "add": a + 10, "radd": 10 + a, "sub": a - 1, "rsub": 10 - a, "mul": a * p,
            "div": a / 8, "floordiv": a // 3, "mod": a % 3, "pow": a ** 2, "item": numbers()[1],
            "eq": a == 4, "ne": a != 4, "lt": a < 5, "le": a <= 3, "gt": a > p, "ge": p >= 4,
            "and": (a > 1) & (a < 3), "or": (a > 1) | (a < 3), "not": ~(a > 1),
            "not_": (a == 4).not_(), "neg": -a, "param": p * 2,
        }
    state = f.run()
    values = {name: state.result[node].result for name, node in results.items()}
    assert values == {
        "add": 14, "radd": 14, "sub": 3, "rsub": 6, "mul": 12, "div": 0.5, "floordiv": 1,
        "mod": 1, "pow": 16, "item": 2, "eq": True, "ne": False, "lt": True, "le": False,
        "gt": True, "ge": False, "and": False, "or": True, "not": False, "not_": False,
        "neg": -4, "param": 6,
    }
    assert f.run(p=10).result[results["mul"]].result == 110
    # outside a flow being built, handles compare by identity (they are dictionary keys)
    assert (a == a) is True and (a == results["add"]) is False


def test_if_on_a_task_result_raises_a_clear_error():
    with pytest.raises(TaskResultTruthError, match=r"case\(inc, True\)"):
        with Flow("bad"):
            if inc(1):
                pass


# -- apply_map, flatten, nout, mapped ------------------------------------------------------------
def test_apply_map_with_a_case_inside_skips_element_by_element(executor):
    def branch(x):
        y = inc(x)
        with case(y, 3):
            z = inc(y)
        return z

    with Flow("apply-map", executor=executor) as f:
        out = apply_map(branch, [1, 2, 3])
        total = add.map(out, unmapped(100))
    state = f.run()
    children = state.result[out].children
    assert [c.type for c in children] == [StateType.SKIPPED, StateType.SUCCESS, StateType.SKIPPED]
    assert children[1].result == 4
    assert [c.type for c in state.result[total].children][1] is StateType.SUCCESS
    assert state.result[total].children[1].result == 104


@task(nout=2)
def pair():
    return 1, 2


@task
def split(n) -> tuple[int, list]:
    return n, list(range(n))


@task
def chunk(n):
    return list(range(n))


def test_flatten_nout_and_mapped_arguments(executor):
    with Flow("extras", executor=executor) as f:
        a, b = pair()
        s = add(a, b)
        n, items = split(3)
        nested = chunk.map([1, 2, 3])
        flat = inc.map(flatten(nested))
        picked = add(x=mapped(items), y=n)
    state = f.run()
    assert state.result[s].result == 3
    assert state.result[flat].result == [1, 1, 2, 1, 2, 3]
    assert state.result[picked].result == [3, 4, 5]


# -- context, tags, task_args, task_run_name -----------------------------------------------------
@task
def read_context():
    return {
        "region": context.get("region"), "today": context.today,
        "flow_name": context["flow_name"], "count": context.task_run_count,
        "index": context.get("map_index"), "p": context.parameters.get("p"),
        "has_logger": context.get("logger") is not None,
    }


@task
def read_context_mapped(i):
    return context.map_index, context.get("region")


def test_context_values_reach_tasks_on_every_executor(executor):
    with Flow("ctx", executor=executor) as f:
        Parameter("p", default=7)
        one = read_context()
        many = read_context_mapped.map([10, 20])
    with context(region="eu"):
        state = f.run()
    value = state.result[one].result
    assert value["region"] == "eu" and value["flow_name"] == "ctx" and value["count"] == 1
    assert value["index"] is None and value["p"] == 7 and value["has_logger"]
    assert len(value["today"]) == 10 and value["today"][4] == "-"
    assert state.result[many].result == [(0, "eu"), (1, "eu")]
    assert context.get("region") is None  # the block is closed


def test_tags_task_args_and_run_names(basic_executor, caplog):
    @task(task_run_name="load-{x}")
    def load(x):
        from proctor import get_run_logger

        get_run_logger().info("loading")
        return x

    with Flow("names", executor=basic_executor) as f:
        with tags("etl", "nightly"):
            tagged = inc(1)
        renamed = inc(2, task_args={"name": "second", "tags": ["x"]})
        loads = load.map([1, 2])
    assert tagged.task.tags == {"etl", "nightly"} and inc.tags == frozenset()
    assert renamed.task.name == "second" and renamed.task.tags == {"x"}
    with caplog.at_level(logging.INFO, logger="proctor"):
        state = f.run()
    assert state.result[loads].result == [1, 2]
    names = {r.task_name for r in caplog.records if r.getMessage() == "loading"}
    assert names == {"load-1", "load-2"}


def test_task_run_names_reach_the_server(tmp_path):
    from proctor.client import ProctorClient
    from tests.integration.conftest import ProctorServer

    server = ProctorServer(tmp_path / "home")
    server.start()
    try:
        @task(task_run_name=lambda city, **_: f"weather-{city.lower()}")
        def weather(city):
            return city

        with Flow("named-runs") as f:
            weather.map(["Paris", "Lyon"])
        assert f.run(api_url=server.url).is_successful()
        with ProctorClient(server.url) as client:
            run = client.list_flow_runs(flow_name="named-runs")[0]
            names = sorted(t["task_name"] for t in client.read_task_runs(run["id"]))
        assert names == ["weather-lyon", "weather-paris"]
    finally:
        server.stop()


# -- signals, handlers, states -------------------------------------------------------------------
@task
def fibonacci(n):
    loop = context.get("task_loop_result") or {"i": 0, "a": 0, "b": 1}
    if loop["i"] >= n:
        return loop["a"]
    raise LOOP(f"step {loop['i']}",
               result={"i": loop["i"] + 1, "a": loop["b"], "b": loop["a"] + loop["b"]})


@task
def finish_early():
    raise SUCCESS("nothing more to do", result=42)


@task
def trigger_fail():
    raise TRIGGERFAIL("not for me")


@task
def pause():
    raise PAUSE("wait for a person")


def test_loop_success_pause_and_triggerfail_signals(basic_executor):
    recorder = MemoryRecorder()
    with Flow("signals", executor=basic_executor) as f:
        fib = fibonacci(6)
        early = finish_early()
        tf = trigger_fail()
        paused = pause()
    state = f.run(observers=[recorder])
    assert state.result[fib].result == 8
    history = recorder.history("fibonacci")
    assert history.count("Running") == 7 and history[-1] == "Success"
    assert history.count("Retrying") == 6  # each iteration is a recorded attempt
    assert state.result[early].result == 42 and state.result[early].message == "nothing more to do"
    assert state.result[tf].type is StateType.TRIGGER_FAILED
    assert state.result[paused].type is StateType.PAUSED


def test_state_handler_returning_a_copy_and_terminal_state_handler(basic_executor):
    def handler(task_obj, old, new):
        if new.is_failed():
            return new.copy(type=StateType.SUCCESS, message="handled", result="fallback")
        return new

    @task(state_handlers=[handler])
    def flaky():
        raise ValueError("boom")

    def terminal(flow, state, reference_states):
        assert all(s.is_successful() for s in reference_states)
        return state.copy(message="checked by the terminal handler")

    with Flow("handlers", executor=basic_executor, terminal_state_handler=terminal) as f:
        out = flaky()
    state = f.run()
    assert state.result[out].result == "fallback" and state.result[out].message == "handled"
    assert state.is_successful() and state.message == "checked by the terminal handler"
    assert state.result[out].is_retrying() is False


def test_run_with_task_states_and_base_task(basic_executor):
    noop = Task(name="join")
    with Flow("given", executor=basic_executor) as f:
        n = numbers()
        total = add(n[0], n[2])
        joined = noop(upstream_tasks=[total])
    state = f.run(task_states={n: Success(result=[10, 20, 30])})
    assert state.result[total].result == 40 and state.result[joined].result is None


def test_trigger_messages_say_what_they_wanted_and_saw():
    @task(trigger=all_failed)
    def fallback(x):
        return "fallback"

    with Flow("msgs") as f:
        out = fallback(inc(1))
    message = f.run().result[out].message
    assert "wants every upstream task to fail" in message and "saw inc: Success" in message


def test_resource_manager_cleans_up_even_when_a_task_fails(tmp_path, basic_executor):
    marker = tmp_path / "cleaned"

    @resource_manager
    class Folder:
        def __init__(self, where):
            self.where = where

        def setup(self):
            os.makedirs(self.where, exist_ok=True)
            return self.where

        def cleanup(self, where):
            with open(os.path.join(str(marker)), "w") as fh:
                fh.write(where)

    @task
    def use(where):
        raise RuntimeError(f"cannot use {where}")

    with Flow("resource", executor=basic_executor) as f:
        with Folder(str(tmp_path / "work")) as where:
            used = use(where)
    state = f.run()
    assert state.is_failed() and state.result[used].is_failed()
    assert marker.read_text() == str(tmp_path / "work")


def test_visualize_without_graphviz_says_what_to_install():
    with Flow("drawn") as f:
        inc(1)
    try:
        import graphviz  # noqa: F401
    except ImportError:
        with pytest.raises(ProctorError, match="pip install graphviz.*to_dot"):
            f.visualize()
    else:  # pragma: no cover - graphviz is not a dependency
        assert "inc" in f.visualize().source


# -- caching, results, targets -------------------------------------------------------------------
def test_cache_for_and_cache_validators(tmp_path, monkeypatch, basic_executor):
    monkeypatch.setenv("PROCTOR_RESULTS_DIR", str(tmp_path / "results"))
    calls = tmp_path / "calls"

    @task(cache_for=60, cache_validator=all_inputs)
    def by_inputs(x):
        with open(calls, "a") as fh:
            fh.write("i")
        return x * 2

    @task(cache_for=60, cache_validator=duration_only)
    def by_time(x):
        with open(calls, "a") as fh:
            fh.write("d")
        return x * 3

    with Flow("cached", executor=basic_executor) as f:
        p = Parameter("x", default=1)
        a = by_inputs(p)
        b = by_time(p)
    first = f.run(x=1)
    second = f.run(x=1)
    third = f.run(x=2)
    assert second.result[a].is_cached() and second.result[b].is_cached()
    assert third.result[a].result == 4 and not third.result[a].is_cached()
    assert third.result[b].is_cached() and third.result[b].result == 3  # duration only
    assert first.result[a].result == 2 and sorted(calls.read_text()) == ["d", "i", "i"]


def test_results_and_targets(tmp_path, executor):
    runs = tmp_path / "runs"
    store = LocalResult(dir=str(tmp_path / "out"), location="{task_name}-{x}.pkl")

    @task(result=store, target="{task_name}-{x}.pkl")
    def expensive(x):
        with open(runs, "a") as fh:
            fh.write(f"{x},")
        return {"x": x}

    @task(result=LocalResult(dir=str(tmp_path / "out"), location="plain-{map_index}.json",
                             serializer=JSONSerializer()))
    def written(x):
        return [x]

    @task(result=store, checkpoint=False)
    def not_written(x):
        return x

    with Flow("targets", executor=executor) as f:
        e = expensive.map([1, 2])
        w = written.map([5, 6])
        nw = not_written(9)
    first = f.run()
    assert first.result[e].result == [{"x": 1}, {"x": 2}]
    assert sorted(os.listdir(tmp_path / "out")) == [
        "expensive-1.pkl", "expensive-2.pkl", "plain-0.json", "plain-1.json"]
    assert (tmp_path / "out" / "plain-1.json").read_text() == "[6]"
    assert "result written to plain-0.json" in first.result[w].children[0].message
    assert first.result[nw].result == 9
    second = f.run()
    assert [c.type for c in second.result[e].children] == [StateType.CACHED] * 2
    assert second.result[e].result == [{"x": 1}, {"x": 2}]
    assert sorted(runs.read_text().split(",")) == ["", "1", "2"]  # each ran once, not again


def test_a_flow_result_is_the_default_of_its_tasks(tmp_path, basic_executor):
    with Flow("flow-result", executor=basic_executor,
              result=LocalResult(dir=str(tmp_path), location="{flow_name}/{task_name}.pkl")) as f:
        inc(1)
    assert f.run().is_successful()
    assert os.listdir(tmp_path / "flow-result") == ["inc.pkl"]


def test_a_failing_task_inside_a_case_and_an_always_run_cleanup(basic_executor):
    @task(trigger=always_run)
    def cleanup():
        return "cleaned"

    with Flow("cleanup", executor=basic_executor) as f:
        flag = Parameter("flag", default=False)
        with case(flag, True):
            work = inc(1)
        done = cleanup(upstream_tasks=[work])
    state = f.run()
    assert state.result[work].is_skipped() and state.result[done].result == "cleaned"
