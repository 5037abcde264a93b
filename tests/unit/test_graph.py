"""Building flow graphs: calls become nodes, handles become edges, bad wiring fails early."""

import pytest

from proctor import Flow, Parameter, Task, task
from proctor.core.errors import (
    CycleError,
    FlowDefinitionError,
    MissingParameterError,
    NoActiveFlowError,
    NotATaskError,
    TaskHandleError,
    UnknownParameterError,
)
from proctor.core.graph import StateMap


@task
def one():
    return 1


@task
def add(x, y=0):
    return x + y


def test_building_runs_nothing_and_records_data_edges():
    calls = []

    @task
    def record():
        calls.append(1)

    with Flow("f") as f:
        a = one()
        b = add(a, y=a)
        record()
    assert calls == []
    assert [n.key for n in f.nodes] == ["one", "add", "record"]
    assert b.upstream == (a,)
    assert f.downstream(a) == [b]
    assert set(f.terminal_nodes()) == {b, f.nodes[2]}
    assert set(f.root_nodes()) == {a, f.nodes[2]}


def test_each_call_is_a_new_node_with_unique_key():
    with Flow("f"):
        a, b, c = one(), one(), one()
    assert [a.key, b.key, c.key] == ["one", "one-2", "one-3"]


def test_handles_inside_containers_are_dependencies():
    with Flow("f"):
        a, b = one(), one()
        c = add([a, {"k": b}], y=(a,))
    assert set(c.upstream) == {a, b}


def test_upstream_tasks_and_set_dependencies_add_order_edges():
    with Flow("f") as f:
        a = one()
        b = one(upstream_tasks=[a])
        c = one()
        c.set_upstream(b)
        d = one()
        f.set_dependencies(d, upstream_tasks=[c])
    assert b.upstream == (a,) and c.upstream == (b,) and d.upstream == (c,)
    assert [n.key for n in f.sorted_nodes()] == ["one", "one-2", "one-3", "one-4"]


def test_task_level_set_upstream_and_downstream_inside_flow():
    @task
    def first():
        return 1

    @task
    def second():
        return 2

    with Flow("f") as f:
        second.set_upstream(first)
    assert f.node_of(second).upstream == (f.node_of(first),)

    with Flow("g") as g:
        first.set_downstream(second, key="x")
    node = g.node_of(second)
    assert node.bindings.kwargs == {"x": g.node_of(first)}


def test_cycles_are_refused_with_the_path():
    with Flow("f") as f:
        a = one()
        b = add(a)
        c = add(b)
        with pytest.raises(CycleError, match="one -> add -> add-2") as err:
            a.set_upstream(c)
    assert "would create a cycle in flow 'f'" in str(err.value)
    with pytest.raises(CycleError, match="itself"):
        f.add_edge(a, a)


def test_handle_from_another_flow_is_refused():
    with Flow("first"):
        a = one()
    with Flow("second"), pytest.raises(TaskHandleError, match="belongs to flow 'first'"):
        add(a)


def test_handle_used_outside_any_flow_is_refused():
    with Flow("first"):
        a = one()
    with pytest.raises(TaskHandleError, match="outside of any flow"):
        add(a)


def test_non_task_in_the_graph_is_refused():
    def plain():
        return 1

    with Flow("f") as f:
        with pytest.raises(NotATaskError, match="is not a task"):
            f.add_task(plain)
        with pytest.raises(NotATaskError, match="upstream_tasks"):
            one(upstream_tasks=[plain])


def test_map_and_submit_need_a_flow():
    with pytest.raises(NoActiveFlowError, match=r"one.map\(\) needs a flow"):
        one.map([1])
    with pytest.raises(NoActiveFlowError):
        one.set_upstream(add)


def test_calling_a_task_outside_a_flow_is_a_plain_call():
    assert add(2, y=3) == 5


def test_iterating_a_handle_explains_map():
    with Flow("f"):
        a = one()
        with pytest.raises(TypeError, match="Use a_task.map"):
            list(a)


def test_getitem_on_handle_records_a_node():
    with Flow("f") as f:
        a = one()
        b = a[0]
    assert b.upstream == (a,) and b in f.nodes


def test_subclass_style_tasks():
    class Add(Task):
        def run(self, x, y):
            return x + y

    with Flow("f") as f:
        total = Add()(1, 2)
    assert total.task.name == "Add" and f.nodes == [total]
    assert Task().run() is None  # the base Task is a no-op (Prefect 1): a join point


def test_parameters_join_the_flow_and_validate():
    with Flow("f") as f:
        n = Parameter("n", default=3)
        m = Parameter("m", required=True)
        add(n, m)
    assert set(f.parameters()) == {"n", "m"}
    assert f.validate_parameters({"m": 1}) == {"n": 3, "m": 1}
    with pytest.raises(UnknownParameterError, match="valid names: m, n"):
        f.validate_parameters({"m": 1, "q": 2})
    with pytest.raises(MissingParameterError, match="'m'"):
        f.validate_parameters({})


def test_a_parameter_without_default_is_required_as_in_prefect_1():
    with Flow("f") as f:
        x = Parameter("x")  # no default: required
        y = Parameter("y", default=None)  # an explicit None is a default
        z = Parameter("z", required=False)  # optional, None when not given
        add(x, add(y, z))
    assert (x.required, y.required, z.required) == (True, False, False)
    with pytest.raises(MissingParameterError, match="'x'"):
        f.validate_parameters({})
    assert f.validate_parameters({"x": 1}) == {"x": 1, "y": None, "z": None}
    assert Parameter("w", default=2, required=True).required is True


def test_parameter_names_are_checked():
    with pytest.raises(FlowDefinitionError, match="not valid"):
        Parameter("not valid")
    with Flow("f"):
        Parameter("n")
        with pytest.raises(FlowDefinitionError, match="already has a parameter"):
            Parameter("n")


def test_ambiguous_task_reference_is_refused():
    with Flow("f") as f:
        one()
        one()
        with pytest.raises(FlowDefinitionError, match="called 2 times"):
            f.node_of(one)


def test_state_map_lookups_by_handle_task_and_key():
    with Flow("f"):
        a = one()
        b = add(a)
    states = StateMap({a: "A", b: "B"})
    assert states[a] == "A" and states[add] == "B" and states["add"] == "B"
    with pytest.raises(KeyError, match="known"):
        states["nope"]


def test_empty_flow_name_is_refused():
    with pytest.raises(FlowDefinitionError, match="non-empty name"):
        Flow("")


def test_a_handle_is_not_a_task():
    with Flow("f"):
        a = one()
        with pytest.raises(NotATaskError, match="not a task"):
            a()
        with pytest.raises(NotATaskError, match=r"one.map\(...\)"):
            a.map([1])


def test_a_flow_variable_that_hides_the_flow_decorator_says_so():
    from proctor.core.errors import FlowNotCallableError

    with Flow("graph") as flow:
        one()
    with pytest.raises(FlowNotCallableError, match="hides the `@flow` decorator") as raised:

        @flow
        def later():
            return 2

    assert isinstance(raised.value, TypeError)  # what calling a non-callable always was
    with pytest.raises(FlowNotCallableError, match=r"run it with \.run\(\)"):
        flow(n=1)
