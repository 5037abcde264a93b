"""Who is running right now: the flow being built, the flow run, the task run.

Context variables (not globals) so that concurrent runs in threads or asyncio tasks never see each
other's context. The engine sets them; `Task.__call__` and `get_run_logger` read them.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .task import Task


class CallSink(Protocol):
    """What receives a task call made while a flow is being built or run.

    A `with Flow(...)` block records the call as a node of its graph; a `@flow` run submits it to
    the engine. Both answer the same three verbs, so a task never needs to know which it is in.
    """

    def call(self, task: Task, args: tuple, kwargs: dict, upstream: Any) -> Any: ...

    def submit(self, task: Task, args: tuple, kwargs: dict, upstream: Any) -> Any: ...

    def map(self, task: Task, args: tuple, kwargs: dict, upstream: Any) -> Any: ...


@dataclass(slots=True)
class FlowRunContext:
    """What a running flow knows about itself."""

    flow_run_id: str
    flow_name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    #: what `proctor.context` holds for this run (`core.context_values.run_values`): the values
    #: set with `with proctor.context(...)` when it started, its scheduled start time, ...
    values: dict[str, Any] | None = None


@dataclass(slots=True)
class TaskRunContext:
    """What a running task knows about itself (`get_run_context().task_run`)."""

    id: str
    task_name: str
    task_key: str
    flow_run_id: str
    flow_name: str
    map_index: int | None = None
    attempt: int = 1
    #: the Task being run (for cache key functions and hooks)
    task: Any = None
    #: the flow run's `proctor.context` values (one dict shared by the run's task runs; it
    #: travels with the attempt to a worker process, where the flow run's context is not set)
    values: dict[str, Any] | None = None
    #: the run's name from the task's `task_run_name` (None: the task key is its name)
    name: str | None = None
    #: (iteration, result the last iteration carried) after a `signals.LOOP`; None before
    loop: tuple | None = None
    #: the flow's `result=` (a `core.targets.Result`), the default of tasks without their own
    result: Any = None

    @property
    def loop_count(self) -> int:
        """The loop iteration, from 1 (`signals.LOOP`)."""
        return 1 if self.loop is None else self.loop[0]

    @property
    def loop_result(self) -> Any:
        return None if self.loop is None else self.loop[1]


@dataclass(slots=True)
class RunContext:
    """The public view returned by `get_run_context()`."""

    flow_run: FlowRunContext | None
    task_run: TaskRunContext | None


class BuildExtras:
    """Whether `tags()`, `apply_map` or `mapped()` was ever used in this process: until then a
    task call while a graph is built need not look for them (one class attribute read)."""

    used = False


CALL_SINK: ContextVar[CallSink | None] = ContextVar("proctor_call_sink", default=None)
FLOW_RUN: ContextVar[FlowRunContext | None] = ContextVar("proctor_flow_run", default=None)
TASK_RUN: ContextVar[TaskRunContext | None] = ContextVar("proctor_task_run", default=None)


def get_run_context() -> RunContext:
    """The flow run and task run the caller is part of (either may be None)."""
    return RunContext(flow_run=FLOW_RUN.get(), task_run=TASK_RUN.get())
