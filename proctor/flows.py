"""The two front-ends of a flow, both run by the same engine.

- `Flow`: the graph style. `with Flow("etl") as f:` records task calls; `f.run()` runs the graph.
- `@flow`: the function style. The body runs as ordinary Python; task calls inside it run through
  the engine. The function's arguments are the flow's parameters, validated from its annotations.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, overload

from .core.errors import FlowRunFailedError
from .core.graph import FlowGraph
from .core.parameters import FunctionParameters
from .core.states import State
from .engine.dynamic import raise_for_state
from .engine.executor import Executor
from .engine.flow_run import run_function, run_graph
from .engine.observers import RunObserver
from .executors import resolve_executor

F = TypeVar("F", bound=Callable[..., Any])


class Flow(FlowGraph):
    """A flow built as a graph: `with Flow("etl") as f: ...`, then `f.run(parameters={...})`."""

    def __init__(
        self, name: str, executor: Executor | str | None = None, *, description: str = ""
    ) -> None:
        super().__init__(name, description=description)
        if executor is not None:
            resolve_executor(executor)  # reject a bad name now, where it was written
        self.executor = executor

    def run(
        self,
        parameters: Mapping[str, Any] | None = None,
        *,
        executor: Executor | str | None = None,
        observers: Iterable[RunObserver] = (),
        **parameter_values: Any,
    ) -> State:
        """Run the graph once; returns the flow-run State (its `result` maps handles to states).

        Parameters may be given as a dict or as keywords: `f.run(n=5)`.
        """
        values = {**(parameters or {}), **parameter_values}
        chosen = resolve_executor(executor if executor is not None else self.executor)
        return run_graph(self, values, chosen, observers)


class FlowFunction:
    """A function decorated with `@flow`. Call it to run it; `.run(...)` to get its State."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        executor: Executor | str | None = None,
        description: str | None = None,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        if executor is not None:
            resolve_executor(executor)
        self.executor = executor
        self.description = description or fn.__doc__ or ""
        self.parameters = FunctionParameters(self.name, fn)
        functools.update_wrapper(self, fn, updated=())

    def run(self, *args: Any, **kwargs: Any) -> State:
        """Run the flow with these parameters; returns its final State (`result`: the return).

        Every keyword is a parameter of the flow; to choose an executor or observers for one
        run, use `run_with`.
        """
        return self._run(self.parameters.validate(args, kwargs), None, ())

    def run_with(
        self,
        parameters: Mapping[str, Any] | None = None,
        *,
        executor: Executor | str | None = None,
        observers: Iterable[RunObserver] = (),
    ) -> State:
        """Run the flow with `parameters` (a dict), on `executor`, reporting to `observers`."""
        return self._run(self.parameters.validate((), dict(parameters or {})), executor, observers)

    def _run(
        self, values: dict[str, Any], executor: Executor | str | None,
        observers: Iterable[RunObserver],
    ) -> State:
        chosen = resolve_executor(executor if executor is not None else self.executor)
        return run_function(self.name, self.fn, values, chosen, observers)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the flow and return what its body returned; raise if the run failed."""
        state = self.run(*args, **kwargs)
        if state.is_failed():
            if state.exception is not None:
                raise state.exception
            for key, task_state in (state.task_states or {}).items():
                if task_state.is_failed():
                    raise_for_state(getattr(key, "key", str(key)), task_state)
            raise FlowRunFailedError(f"flow {self.name!r} failed: {state.message}")
        return state.result

    def with_options(self, **options: Any) -> FlowFunction:
        current = {"name": self.name, "executor": self.executor, "description": self.description}
        unknown = set(options) - set(current)
        if unknown:
            raise TypeError(f"with_options(): flows have no option(s) {sorted(unknown)}")
        return FlowFunction(self.fn, **{**current, **options})

    def __repr__(self) -> str:
        return f"<flow {self.name!r}>"


@overload
def flow(fn: F, /) -> FlowFunction: ...
@overload
def flow(
    *, name: str | None = ..., executor: Executor | str | None = ...,
    description: str | None = ...,
) -> Callable[[F], FlowFunction]: ...


def flow(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a function a flow: `@flow` or `@flow(name="etl", executor="threads:4")`."""
    if fn is None:
        return lambda f: FlowFunction(f, **options)
    return FlowFunction(fn, **options)
