"""The engine: walk a task graph, submit ready tasks, collect their states.

One class, `GraphRun`, runs both front-ends. A `with Flow(...)` graph is added whole and pumped
to the end; a `@flow` body adds nodes one call at a time and pumps until the value it waits for
exists. All run state is touched by one thread only (the one that pumps); executors report back
through a queue fed by future done-callbacks, so nothing polls and nothing needs a lock.

Run state
---------
- `states`      node -> final State of every finished node
- `waiting`     node -> number of its upstream nodes not finished yet
- `downstream`  node -> nodes waiting on it (filled as nodes are added)
- `ready`       nodes whose upstreams are all finished, in the order they became ready
- `maps`        mapped node -> children states collected so far
- `outstanding` submitted attempts whose futures have not come back
- `deferred`    attempts ready to go but held back while `max_in_flight` are outstanding

Policy: ready nodes are started in FIFO order; a mapped node expands into one attempt per
element when it starts; a synchronous executor's result is collected inline (no queue hop).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import Any

from ..core.bindings import expand
from ..core.context import TaskRunContext
from ..core.errors import MappingError, ProctorError
from ..core.graph import Node
from ..core.ids import new_id
from ..core.states import Crashed, Failed, Mapped, State, StateType, Success
from ..core.triggers import gate
from .executor import DoneFuture, Executor
from .logs import TASK_LOGGER, task_run_extra
from .observers import RunObserver
from .task_runner import TaskRunSpec, describe, run_task

_task_log = logging.getLogger(TASK_LOGGER)
#: Failures that mean the task's own code (or its executor) went wrong; TriggerFailed is only
#: a consequence and is not logged again.
_LOGGED_FAILURES = frozenset({StateType.FAILED, StateType.CRASHED, StateType.TIMED_OUT})


def _log_failure(ctx: TaskRunContext, state: State) -> None:
    text = f"Task run failed: {state.message}"
    if state.traceback:
        text = f"{text}\n{state.traceback.rstrip()}"
    _task_log.error(text, extra=task_run_extra(ctx))


@dataclass(slots=True)
class _MapProgress:
    children: list
    remaining: int


@dataclass
class GraphRun:
    """The state of one flow run's task graph while it runs (see the module docstring)."""

    flow_run_id: str
    flow_name: str
    executor: Executor
    parameters: dict = field(default_factory=dict)
    observers: list[RunObserver] = field(default_factory=list)
    states: dict = field(default_factory=dict)
    waiting: dict = field(default_factory=dict)
    downstream: dict = field(default_factory=dict)
    ready: deque = field(default_factory=deque)
    maps: dict = field(default_factory=dict)
    outstanding: int = 0
    events: SimpleQueue = field(default_factory=SimpleQueue)
    deferred: deque = field(default_factory=deque)
    #: attempts handed to the executor at once; the rest wait in `deferred` (bounded memory:
    #: a pending executor future costs several times what a waiting spec does)
    max_in_flight: int = 1024

    # -- adding work ----------------------------------------------------------------------------
    def add(self, node: Node) -> None:
        """Register a node; it becomes ready once all its upstreams have finished."""
        unfinished = 0
        states = self.states
        for up in node.upstream:
            if up not in states:
                unfinished += 1
                self.downstream.setdefault(up, []).append(node)
        if unfinished:
            self.waiting[node] = unfinished
        else:
            self.ready.append(node)

    def add_all(self, nodes: Iterable[Node]) -> None:
        """Register nodes given in an order where upstreams come first."""
        for node in nodes:
            self.add(node)

    # -- pumping --------------------------------------------------------------------------------
    def pump(self, until: Callable[[], bool] | None = None) -> None:
        """Start ready nodes and collect results until `until()` holds or nothing is left."""
        ready, events = self.ready, self.events
        while True:
            while ready:
                self._start(ready.popleft())
            if until is not None and until():
                return
            if self.outstanding == 0:
                return
            self._collect(*events.get())

    def pump_nowait(self) -> None:
        """Start what is ready and collect what has already finished, without blocking."""
        ready, events = self.ready, self.events
        while True:
            while ready:
                self._start(ready.popleft())
            if events.empty():
                return
            self._collect(*events.get())

    @property
    def unfinished(self) -> list[Node]:
        """Nodes added but not finished (after a complete pump: none, unless a bug)."""
        return list(self.waiting)

    # -- starting a node ------------------------------------------------------------------------
    def _start(self, node: Node) -> None:
        task = node.task
        if task.is_parameter:
            self._finish(node, Success(result=self.parameters.get(task.name, task.default)))
            return
        if node.mapped:
            self._start_map(node)
            return
        upstream = node.upstream
        if upstream:
            states = self.states
            for up in upstream:
                if not states[up].is_successful():
                    verdict = gate(node.key, [(u.key, states[u]) for u in upstream])
                    if verdict is not None:
                        self._record(node, self._context(node, None), verdict)
                        return
                    break
            args, kwargs = node.bindings.resolve(self._value)
        else:
            args, kwargs = list(node.bindings.args), node.bindings.kwargs
        self._submit(node, None, args, kwargs)

    def _start_map(self, node: Node) -> None:
        states = self.states
        by_element = [
            up for _, up in node.bindings.direct if states[up].type is StateType.MAPPED
        ]
        whole = [(u.key, states[u]) for u in node.upstream if u not in by_element]
        verdict = gate(node.key, whole)
        if verdict is not None:
            self._record(node, self._context(node, None), verdict)
            return
        args, kwargs = node.bindings.resolve(self._value)
        try:
            runs = expand(node.key, args, kwargs)
        except MappingError as exc:
            self._record(node, self._context(node, None), Failed(str(exc), exception=exc))
            return
        for obs in self.observers:
            obs.map_expanded(self, node, len(runs))
        if not runs:
            self._finish(node, Mapped([]))
            return
        self.maps[node] = _MapProgress([None] * len(runs), len(runs))
        for index, (a, k) in enumerate(runs):
            if by_element:
                verdict = gate(
                    f"{node.key}[{index}]",
                    [(f"{u.key}[{index}]", states[u].children[index]) for u in by_element],
                )
                if verdict is not None:
                    self._record(node, self._context(node, index), verdict)
                    continue
            self._submit(node, index, a, k)

    def _context(self, node: Node, index: int | None) -> TaskRunContext:
        return TaskRunContext(
            new_id(), node.task.name, node.key, self.flow_run_id, self.flow_name, index
        )

    def _submit(self, node: Node, index: int | None, args: list, kwargs: dict) -> None:
        ctx = self._context(node, index)
        spec = TaskRunSpec(node.task, args, kwargs, ctx)
        if self.outstanding >= self.max_in_flight:
            self.deferred.append((node, spec))
            return
        self._send(node, spec)

    def _send(self, node: Node, spec: TaskRunSpec) -> None:
        ctx = spec.context
        for obs in self.observers:
            obs.task_run_submitted(self, node, ctx)
        try:
            future = self.executor.submit(run_task, spec)
        except Exception as exc:
            state = Failed(
                f"{describe(spec)} could not be sent to the {self.executor.name} executor: {exc}",
                exception=exc,
            )
            self._record(node, ctx, state)
            return
        if future.__class__ is DoneFuture:
            self._collect(node, ctx, future)
            return
        self.outstanding += 1
        events = self.events
        future.add_done_callback(lambda fut: events.put((node, ctx, fut, True)))

    # -- collecting results ---------------------------------------------------------------------
    def _collect(self, node: Node, ctx: TaskRunContext, future: Any, queued: bool = False) -> None:
        if queued:
            self.outstanding -= 1
            if self.deferred:
                self._send(*self.deferred.popleft())
        try:
            state = future.result()
        except ProctorError as exc:
            state = Failed(f"task {ctx.task_key} could not run: {exc}", exception=exc)
        except BaseException as exc:  # the executor itself failed (dead worker, pickling, ...)
            state = Crashed(
                f"the {self.executor.name} executor failed running task {ctx.task_key}: "
                f"{type(exc).__name__}: {exc}",
                exception=exc,
            )
        self._record(node, ctx, state)

    def _record(self, node: Node, ctx: TaskRunContext, state: State) -> None:
        """A task run (or a mapped child) ended: tell observers, then advance the graph."""
        if state.type in _LOGGED_FAILURES:
            _log_failure(ctx, state)
        for obs in self.observers:
            obs.task_run_finished(self, node, ctx, state)
        if ctx.map_index is None:
            self._finish(node, state)
        else:
            self._child_done(node, ctx.map_index, state)

    def _child_done(self, node: Node, index: int, state: State) -> None:
        progress = self.maps[node]
        progress.children[index] = state
        progress.remaining -= 1
        if progress.remaining == 0:
            del self.maps[node]
            self._finish(node, Mapped(progress.children))

    def _finish(self, node: Node, state: State) -> None:
        self.states[node] = state
        for obs in self.observers:
            obs.node_finished(self, node, state)
        waiting, ready = self.waiting, self.ready
        for down in self.downstream.pop(node, ()):
            left = waiting[down] - 1
            if left:
                waiting[down] = left
            else:
                del waiting[down]
                ready.append(down)

    def _value(self, node: Node) -> Any:
        return self.states[node].result
