"""The `@flow` front-end: task calls in a flow body go straight to the engine.

`DynamicSink` is the `CallSink` of a running `@flow` body. A direct call submits the task and
pumps the engine until its state exists, then returns the value (or raises what the task raised);
`.submit()` returns a `TaskFuture` at once; `.map()` returns a list of them. Futures passed to other
tasks become graph edges, exactly like handles in a `with Flow(...)` block.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..core.bindings import Unmapped, expand
from ..core.errors import UpstreamFailedError
from ..core.graph import FlowGraph, Node
from ..core.states import Pending, State, StateType
from ..core.task import Task
from .graph_run import GraphRun


class TaskFuture:
    """The eventual state and value of a task submitted from a `@flow` body."""

    _proctor_future = True
    __slots__ = ("node", "_sink")

    def __init__(self, node: Node, sink: DynamicSink) -> None:
        self.node = node
        self._sink = sink

    def wait(self) -> State:
        """Block until the task run has finished; return its final state."""
        run = self._sink.run
        node = self.node
        if node not in run.states:
            run.pump(until=lambda: node in run.states)
        self._sink.handled.add(node)
        return run.states[node]

    def result(self, raise_on_failure: bool = True) -> Any:
        """The task's return value; raises the task's own exception if it failed."""
        state = self.wait()
        if raise_on_failure and state.is_failed():
            raise_for_state(self.node.key, state)
        return self._sink.run.value_of(self.node)

    @property
    def state(self) -> State:
        """The current state (Pending until the engine has run the task)."""
        self._sink.run.pump_nowait()
        return self._sink.run.states.get(self.node) or Pending()

    def done(self) -> bool:
        return self.node in self._sink.run.states

    def __repr__(self) -> str:
        return f"<TaskFuture {self.node.key!r}>"


def raise_for_state(key: str, state: State) -> None:
    """Re-raise what a failed task raised, or explain why it did not run."""
    if state.exception is not None:
        raise state.exception
    if state.type is StateType.MAPPED:
        for index, child in enumerate(state.children or ()):
            if child.is_failed():
                raise_for_state(f"{key}[{index}]", child)
    raise UpstreamFailedError(f"task {key} did not succeed: {state.name}: {state.message}")


class DynamicSink:
    """Receives task calls made in a running `@flow` body and feeds them to the engine."""

    def __init__(self, graph: FlowGraph, run: GraphRun) -> None:
        self.graph = graph
        self.run = run
        #: nodes whose outcome the body looked at (a failure it saw is a failure it handled)
        self.handled: set[Node] = set()

    def _to_node(self, value: Any) -> Node | None:
        if isinstance(value, TaskFuture):
            return value.node
        return None

    def submit(
        self, task: Task, args: tuple, kwargs: dict, upstream: Iterable[Any] | None,
        key: str | None = None,
    ) -> TaskFuture:
        node = self.graph.record_call(task, args, kwargs, upstream, to_node=self._to_node, key=key)
        self.run.add(node)
        self.run.pump_nowait()
        return TaskFuture(node, self)

    def call(self, task: Task, args: tuple, kwargs: dict, upstream: Iterable[Any] | None) -> Any:
        return self.submit(task, args, kwargs, upstream).result()

    def map(
        self, task: Task, args: tuple, kwargs: dict, upstream: Iterable[Any] | None
    ) -> list[TaskFuture]:
        """One task run per element. A future mapped over is waited for (its length is needed);
        a list of futures maps element by element, each child waiting only for its own element."""
        args = [self._materialize(a) for a in args]
        kwargs = {k: self._materialize(v) for k, v in kwargs.items()}
        runs = expand(task.name, args, kwargs)
        upstream = list(upstream or ())
        base = self.graph.new_key(task.name)  # "double", then "double-2" for a second map
        return [
            self.submit(task, tuple(a), k, upstream, key=f"{base}[{i}]")
            for i, (a, k) in enumerate(runs)
        ]

    def _materialize(self, value: Any) -> Any:
        if isinstance(value, TaskFuture):
            return value.result()
        return value


def resolve_returned(value: Any) -> Any:
    """A flow body's return value with futures (also in a list/tuple) replaced by their results."""
    if isinstance(value, TaskFuture):
        return value.result()
    if isinstance(value, (list, tuple)) and any(isinstance(v, TaskFuture) for v in value):
        return type(value)(resolve_returned(v) for v in value)
    return value


__all__ = ["TaskFuture", "DynamicSink", "Unmapped"]
