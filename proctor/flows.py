"""The two front-ends of a flow, both run by the same engine.

- `Flow`: the graph style. `with Flow("etl") as f:` records task calls; `f.run()` runs the graph.
- `@flow`: the function style. The body runs as ordinary Python; task calls inside it run through
  the engine. The function's arguments are the flow's parameters, validated from its annotations.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any, TypeVar, overload

from .client import api_url_from_env
from .core.errors import FlowNotCallableError, FlowRunFailedError, TaskOptionError
from .core.graph import FlowGraph
from .core.hooks import Hooks
from .core.parameters import FunctionParameters
from .core.resume import Resumption
from .core.retries import RetryPolicy
from .core.states import State
from .engine.dynamic import raise_for_state
from .engine.executor import Executor
from .engine.flow_run import FlowRunOptions, run_function, run_graph
from .engine.observers import RunObserver
from .executors import resolve_executor

F = TypeVar("F", bound=Callable[..., Any])


def _recorded(
    api_url: str | None, observers: Iterable[RunObserver], run: Callable[[list, Any], State]
) -> State:
    """Run with the observers, plus a server recorder when `api_url` or PROCTOR_API_URL is set
    (and the server's concurrency limits as the engine's gate).

    The recorder is closed (its events flushed, up to its timeout) before the state returns.
    """
    url = api_url or api_url_from_env()
    if not url:
        return run(list(observers), None)
    from .recording.api import ApiRecorder
    from .recording.slots import ServerConcurrencyGate

    recorder = ApiRecorder(url)
    gate = ServerConcurrencyGate(url)
    try:
        return run([*observers, recorder], gate)
    finally:
        gate.close()
        recorder.close()


def _serve(
    flow_obj: Any, name: str | None, schedule: Any, parameters: Mapping[str, Any] | None,
    api_url: str | None, max_runs: int | None,
) -> State | None:
    """The shared body of `Flow.serve` and `FlowFunction.serve`."""
    url = api_url or api_url_from_env()
    label = name or flow_obj.name
    if not url:
        raise FlowRunFailedError(
            f"serve {label!r}: no server to record to; pass api_url=... or set PROCTOR_API_URL "
            f"(use flow.run() to run on a schedule without a server)"
        )
    schedule = schedule if schedule is not None else getattr(flow_obj, "schedule", None)
    if schedule is None or not hasattr(schedule, "next_runs"):
        raise TaskOptionError(
            f"serve {label!r}: schedule={schedule!r} is not a schedule; pass one from "
            f"proctor.schedules, e.g. IntervalSchedule('15m')"
        )
    given = dict(parameters or {})
    from .engine.scheduled import ScheduledRunner

    if isinstance(flow_obj, Flow):
        flow_obj.validate_parameters(given)

        def once(extra: dict[str, Any]) -> State:
            return flow_obj.run({**extra, **given}, api_url=url, run_on_schedule=False)
    else:
        flow_obj.parameters.validate((), given)

        def once(extra: dict[str, Any]) -> State:
            return flow_obj.run_with({**extra, **given}, api_url=url)

    return ScheduledRunner(schedule, once, name=label).run(max_runs)


def _run_options(owner: str, retries: int, retry_delay: Any, hooks: dict[str, Any]):
    """Validate a flow's retry and hook options where the flow is written."""
    return FlowRunOptions(
        RetryPolicy.build(owner, max_retries=retries, retry_delay=retry_delay),
        Hooks.build(owner, **hooks),
    )


class _ServerMethods:
    """What both flow styles offer towards a server: deploy it, or serve it on a schedule."""

    def deploy(self, name: str, **options: Any) -> dict[str, Any]:
        """Create or update the server deployment `name` of this flow, so agents can run it
        on a schedule or on demand; options and rules in `proctor.deploy.deploy`."""
        from .deploy import deploy

        return deploy(self, name, **options)

    def serve(
        self,
        name: str | None = None,
        schedule: Any = None,
        *,
        parameters: Mapping[str, Any] | None = None,
        api_url: str | None = None,
        max_runs: int | None = None,
    ) -> State | None:
        """Run this flow here at every time of `schedule` (default: the flow's own), recording
        each run to the server at `api_url` or `PROCTOR_API_URL`; `max_runs` stops it (else
        it serves until interrupted). Returns the last run's state."""
        return _serve(self, name, schedule, parameters, api_url, max_runs)


class Flow(FlowGraph, _ServerMethods):
    """A flow built as a graph: `with Flow("etl") as f: ...`, then `f.run(parameters={...})`.

    `retries`/`retry_delay` retry the whole run when it fails; `state_handlers` and
    `on_failure/on_success/on_retry/on_completion` see the flow run's states;
    `terminal_state_handler(flow, state, reference_task_states) -> State | None` may replace
    the final state once it is known.

    Prefect 1's constructor is taken too: `Flow(name, schedule)` (a schedule as the second
    argument), `tasks=[...]`, `edges=[Edge(...)]`, `reference_tasks=[...]`, and `result=` (the
    default `Result` of its tasks, `core.targets`).
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """A `Flow` runs with `.run()`; calling it is almost always a name clash, said so."""
        decorating = len(args) == 1 and not kwargs and callable(args[0])
        hint = (
            "this looks like `@flow` on a function, but the name `flow` is bound to this Flow "
            "object: `with Flow(...) as flow:` hides the `@flow` decorator imported from "
            "proctor. Name the variable something else (`with Flow(...) as etl:`)"
            if decorating else
            "run it with .run(), e.g. flow.run(parameters={...}); or, if a variable named "
            "`flow` hides the `@flow` decorator, name it something else"
        )
        raise FlowNotCallableError(f"Flow {self.name!r} is not callable: {hint}")

    def __init__(
        self,
        name: str,
        executor: Executor | str | None = None,
        *,
        description: str = "",
        schedule: Any = None,
        retries: int = 0,
        retry_delay: float | timedelta = 0,
        state_handlers: Any = None,
        on_failure: Any = None,
        on_success: Any = None,
        on_retry: Any = None,
        on_completion: Any = None,
        tasks: Iterable[Any] | None = None,
        edges: Iterable[Any] | None = None,
        reference_tasks: Iterable[Any] | None = None,
        result: Any = None,
        terminal_state_handler: Any = None,
        validate: Any = None,
    ) -> None:
        super().__init__(name, description=description)
        if schedule is None and executor is not None and hasattr(executor, "next_runs"):
            schedule, executor = executor, None  # Prefect 1's Flow(name, schedule)
        if schedule is not None and not hasattr(schedule, "next_runs"):
            raise TaskOptionError(
                f"flow {name!r}: schedule={schedule!r} is not a schedule; use one from "
                f"proctor.schedules, e.g. CronSchedule('0 9 * * *') or IntervalSchedule('15m')"
            )
        self.schedule = schedule
        if executor is not None:
            resolve_executor(executor)  # reject a bad name now, where it was written
        self.executor = executor
        self.run_options = _run_options(
            f"flow {name!r}", retries, retry_delay,
            {"state_handlers": state_handlers, "on_failure": on_failure,
             "on_success": on_success, "on_retry": on_retry, "on_completion": on_completion},
        )
        from .core.targets import Result

        if result is not None and not isinstance(result, Result):
            raise TaskOptionError(
                f"flow {name!r}: result={result!r} is not a Result; use e.g. "
                f"proctor.results.LocalResult(dir='results')"
            )
        self.result = result
        if terminal_state_handler is not None and not callable(terminal_state_handler):
            raise TaskOptionError(
                f"flow {name!r}: terminal_state_handler={terminal_state_handler!r} is not "
                f"callable; pass a function (flow, state, reference_task_states) -> State"
            )
        self.terminal_state_handler = terminal_state_handler
        for task in tasks or ():
            self.add_task(task)
        for edge in edges or ():
            self.add_edge(edge.upstream_task, edge.downstream_task, key=edge.key,
                          mapped=edge.mapped)
        if reference_tasks is not None:
            self.set_reference_tasks(reference_tasks)

    def register(self, *args: Any, **kwargs: Any) -> Any:
        """Prefect 1's `flow.register(project_name=...)`: in Proctor, `flow.deploy(name)`."""
        raise FlowRunFailedError(
            f"flow {self.name!r}: Proctor has no register(); deploy it instead: "
            f"flow.deploy('my-deployment') with PROCTOR_API_URL set, or `proctor deploy "
            f"file.py:flow --name my-deployment` (an agent then runs it where the code is)"
        )

    def run(
        self,
        parameters: Mapping[str, Any] | None = None,
        *,
        executor: Executor | str | None = None,
        observers: Iterable[RunObserver] = (),
        api_url: str | None = None,
        run_on_schedule: bool | None = None,
        max_scheduled_runs: int | None = None,
        flow_run_id: str | None = None,
        resume: State | None = None,
        task_states: Mapping[Any, State] | None = None,
        **parameter_values: Any,
    ) -> State:
        """Run the graph; returns the flow-run State (its `result` maps handles to states).

        Parameters may be given as a dict or as keywords: `f.run(n=5)`. With `api_url` (or
        `PROCTOR_API_URL`) the run is recorded to that server. A flow with a `schedule` keeps
        running at each scheduled time (until `max_scheduled_runs`, or forever) unless
        `run_on_schedule=False`; the returned state is then the last run's.

        `resume=` an earlier run's State: tasks that succeeded then are kept, paused
        `manual_only` tasks are approved, everything else runs again (`core.resume`).
        `task_states={task: State}` (Prefect 1) gives tasks their states: they do not run, and
        the tasks after them see those states.
        """
        values = {**(parameters or {}), **parameter_values}
        chosen = resolve_executor(executor if executor is not None else self.executor)
        self.validate_parameters(values)  # fail now, not at the first scheduled time
        resumption = Resumption.from_state(resume) if resume is not None else None
        if task_states:
            resumption = Resumption.given(self, task_states, resumption)

        def once(extra: dict[str, Any]) -> State:
            merged = {**extra, **values}
            return _recorded(api_url, observers, lambda obs, gate: run_graph(
                self, merged, chosen, obs, self.run_options, flow_run_id, gate, resumption))

        if self.schedule is None or run_on_schedule is False:
            return once({})
        from .engine.scheduled import ScheduledRunner

        last = ScheduledRunner(self.schedule, once, name=self.name).run(max_scheduled_runs)
        if last is None:
            raise FlowRunFailedError(f"flow {self.name!r}: its schedule has no time left to run")
        return last


class FlowFunction(_ServerMethods):
    """A function decorated with `@flow`. Call it to run it; `.run(...)` to get its State."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        executor: Executor | str | None = None,
        description: str | None = None,
        retries: int = 0,
        retry_delay: float | timedelta = 0,
        state_handlers: Any = None,
        on_failure: Any = None,
        on_success: Any = None,
        on_retry: Any = None,
        on_completion: Any = None,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        if executor is not None:
            resolve_executor(executor)
        self.executor = executor
        self.description = description or fn.__doc__ or ""
        self.parameters = FunctionParameters(self.name, fn)
        self._options = {
            "name": name, "executor": executor, "description": description,
            "retries": retries, "retry_delay": retry_delay, "state_handlers": state_handlers,
            "on_failure": on_failure, "on_success": on_success, "on_retry": on_retry,
            "on_completion": on_completion,
        }
        self.run_options = _run_options(
            f"flow {self.name!r}", retries, retry_delay,
            {"state_handlers": state_handlers, "on_failure": on_failure,
             "on_success": on_success, "on_retry": on_retry, "on_completion": on_completion},
        )
        functools.update_wrapper(self, fn, updated=())

    def run(self, *args: Any, **kwargs: Any) -> State:
        """Run the flow with these parameters; returns its final State (`result`: the return).

        Every keyword is a parameter of the flow; to choose an executor or observers for one
        run, use `run_with`.
        """
        return self._run(self.parameters.validate(args, kwargs), None, (), None)

    def run_with(
        self,
        parameters: Mapping[str, Any] | None = None,
        *,
        executor: Executor | str | None = None,
        observers: Iterable[RunObserver] = (),
        api_url: str | None = None,
        flow_run_id: str | None = None,
        resume: State | None = None,
    ) -> State:
        """Run the flow with `parameters` (a dict), on `executor`, reporting to `observers`
        (and to the server at `api_url` or `PROCTOR_API_URL`); `flow_run_id` names a run that
        already exists on the server (what an agent passes). `resume=` an earlier run's State
        keeps what succeeded then and approves paused `manual_only` tasks (`core.resume`)."""
        values = self.parameters.validate((), dict(parameters or {}))
        resumption = Resumption.from_state(resume) if resume is not None else None
        return self._run(values, executor, observers, api_url, flow_run_id, resumption)

    def _run(
        self, values: dict[str, Any], executor: Executor | str | None,
        observers: Iterable[RunObserver], api_url: str | None, flow_run_id: str | None = None,
        resumption: Resumption | None = None,
    ) -> State:
        chosen = resolve_executor(executor if executor is not None else self.executor)
        return _recorded(api_url, observers, lambda obs, gate: run_function(
            self.name, self.fn, values, chosen, obs, self.run_options, owner=self,
            flow_run_id=flow_run_id, gate=gate, resumption=resumption,
        ))

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
        """A copy of this flow with some options changed, e.g. `f.with_options(retries=2)`."""
        unknown = set(options) - set(self._options)
        if unknown:
            raise TypeError(
                f"with_options(): flows have no option(s) {sorted(unknown)}; options: "
                f"{', '.join(sorted(self._options))}"
            )
        return FlowFunction(self.fn, **{**self._options, **options})

    def __repr__(self) -> str:
        return f"<flow {self.name!r}>"


@overload
def flow(fn: F, /) -> FlowFunction: ...
@overload
def flow(**options: Any) -> Callable[[F], FlowFunction]: ...


def flow(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a function a flow: `@flow` or `@flow(name="etl", executor="threads:4")`."""
    if fn is None:
        return lambda f: FlowFunction(f, **options)
    return FlowFunction(fn, **options)
