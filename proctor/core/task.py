"""Tasks: the unit of work a flow is made of.

A `Task` wraps a function (the `@task` decorator) or is subclassed with a `run` method. Calling a
task does what the surrounding context asks: inside `with Flow(...)` it records a node of the
graph and returns its handle; inside a `@flow` run it runs through the engine and returns the
value; anywhere else it is a plain function call.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from .context import CALL_SINK, TASK_RUN
from .errors import NoActiveFlowError, TaskHandleError

F = TypeVar("F", bound=Callable[..., Any])


def _reject_handles(task: Task, args: tuple, kwargs: dict) -> None:
    """A handle of a built graph only means something inside its flow; fail loudly elsewhere."""
    for value in (*args, *kwargs.values()):
        if getattr(type(value), "_proctor_handle", False):
            raise TaskHandleError(
                f"task handle {value!r} (from flow {value.flow.name!r}) was passed to task "
                f"{task.name!r} outside of any flow. Call {task.name!r} inside "
                f"`with Flow({value.flow.name!r}):` so the dependency is recorded."
            )


class Task:
    """A unit of work. Subclass it and override `run`, or decorate a function with `@task`."""

    #: Parameters mark themselves so the engine feeds them from the run's parameters.
    is_parameter = False

    def __init__(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        tags: Iterable[str] = (),
        log_prints: bool = False,
        description: str | None = None,
    ) -> None:
        if fn is not None and not callable(fn):
            raise TypeError(f"Task(fn=...) needs a callable, got {type(fn).__name__}: {fn!r}")
        self.fn = fn
        self.name = name or (getattr(fn, "__name__", None) if fn else None) or type(self).__name__
        if isinstance(tags, str):
            tags = [tags]
        self.tags = frozenset(tags)
        self.log_prints = bool(log_prints)
        self.description = description or (fn.__doc__ if fn else type(self).__doc__) or ""
        if fn is not None:
            functools.update_wrapper(self, fn, updated=())

    # -- what the task does ---------------------------------------------------------------------
    def run(self, *args: Any, **kwargs: Any) -> Any:
        """The task's work. `@task` functions land here; subclasses override it."""
        if self.fn is None:
            raise NotImplementedError(
                f"task {self.name!r} has nothing to run: pass a function to Task(fn) or "
                f"override run() in {type(self).__name__}"
            )
        return self.fn(*args, **kwargs)

    # -- calling it ------------------------------------------------------------------------------
    def __call__(self, *args: Any, upstream_tasks: Iterable[Any] | None = None, **kwargs: Any):
        sink = CALL_SINK.get()
        if sink is None or TASK_RUN.get() is not None:
            _reject_handles(self, args, kwargs)
            return self.run(*args, **kwargs)
        return sink.call(self, args, kwargs, upstream_tasks)

    def submit(self, *args: Any, upstream_tasks: Iterable[Any] | None = None, **kwargs: Any):
        """Start the task without waiting: returns a future (a handle inside `with Flow`)."""
        return self._sink("submit").submit(self, args, kwargs, upstream_tasks)

    def map(self, *args: Any, upstream_tasks: Iterable[Any] | None = None, **kwargs: Any):
        """Run the task once per element of its iterable arguments; `unmapped(x)` passes x whole."""
        return self._sink("map").map(self, args, kwargs, upstream_tasks)

    def _sink(self, verb: str):
        sink = CALL_SINK.get()
        if sink is None:
            raise NoActiveFlowError(
                f"{self.name}.{verb}() needs a flow: call it inside `with Flow(...)` or inside a "
                f"function decorated with @flow."
            )
        return sink

    # -- wiring inside `with Flow(...)` ------------------------------------------------------------
    def set_upstream(self, task: Any, key: str | None = None, mapped: bool = False) -> None:
        """Make `task` run before this one (as the argument `key` when given)."""
        self._graph("set_upstream").set_dependencies(
            self, upstream_tasks=[task] if key is None else None,
            keyword_tasks={key: task} if key else None, mapped=mapped,
        )

    def set_downstream(self, task: Any, key: str | None = None, mapped: bool = False) -> None:
        """Make this task run before `task` (passed to it as the argument `key` when given)."""
        self._graph("set_downstream").set_dependencies(
            task, upstream_tasks=[self] if key is None else None,
            keyword_tasks={key: self} if key else None, mapped=mapped,
        )

    def _graph(self, verb: str):
        sink = CALL_SINK.get()
        if sink is None or not hasattr(sink, "set_dependencies"):
            raise NoActiveFlowError(
                f"{self.name}.{verb}() needs a flow being built: call it inside `with Flow(...)`,"
                f" or use flow.set_dependencies(...)."
            )
        return sink

    # -- copies ------------------------------------------------------------------------------------
    def with_options(self, **options: Any) -> Task:
        """A copy of this task with some options changed, e.g. `t.with_options(name="b")`."""
        new = copy.copy(self)
        for key, value in options.items():
            if not hasattr(self, key):
                raise TypeError(f"with_options(): task {self.name!r} has no option {key!r}")
            if key == "tags":
                value = frozenset([value] if isinstance(value, str) else value)
            setattr(new, key, value)
        return new

    def __repr__(self) -> str:
        return f"<Task {self.name!r}>"


@overload
def task(fn: F, /) -> Task: ...
@overload
def task(
    *, name: str | None = ..., tags: Iterable[str] = ..., log_prints: bool = ...,
    description: str | None = ...,
) -> Callable[[F], Task]: ...


def task(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Turn a function into a `Task`: `@task` or `@task(name=..., tags=[...], log_prints=True)`."""
    if fn is None:
        return lambda f: Task(f, **options)
    if isinstance(fn, Task):
        return fn.with_options(**options) if options else fn
    return Task(fn, **options)
