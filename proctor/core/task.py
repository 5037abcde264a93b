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
from datetime import timedelta
from typing import Any, TypeVar, overload

from .context import CALL_SINK, TASK_RUN, BuildExtras
from .errors import NoActiveFlowError, TaskHandleError, TaskOptionError
from .hooks import Hooks
from .operators import Operators
from .retries import RetryPolicy, seconds
from .serializers import Serializer, get_serializer
from .tags import OPEN_TAGS, tagged
from .triggers import Trigger, all_successful

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


#: The options that are hooks (they stay in the flow's process).
_HOOK_OPTIONS = ("state_handlers", "on_failure", "on_success", "on_retry", "on_completion")


#: Keywords of a task call that are options of the call, not arguments (unless the task's own
#: function takes an argument of that name): Prefect 1's `t(x, flow=f, task_args={...})`.
_CALL_OPTIONS = frozenset({"flow", "task_args", "mapped"})


class Task(Operators):
    """A unit of work. Subclass it and override `run`, or decorate a function with `@task`.

    Options (all keyword-only, validated here so a mistake fails where it was written):

    - `name`, `tags`, `description`, `log_prints` (send `print` to the run logger)
    - retries: `max_retries`, `retry_delay` (seconds or timedelta), `retry_backoff` (multiplier
      per retry, >= 1), `retry_jitter` (fraction, 0-1), `retry_on` (exception classes)
    - `timeout` (seconds or timedelta): the attempt ends TimedOut at the deadline
    - `trigger` (from `proctor.triggers`, or any callable of the upstream states) and
      `skip_on_upstream_skip` (default: on for `all_successful` and custom triggers)
    - caching: `cache_key_fn(context, inputs) -> str | None`, `cache_expiration`, `refresh_cache`
    - results: `persist_result`, `serializer` ("pickle" or "json")
    - hooks: `state_handlers`, `on_failure`, `on_success`, `on_retry`, `on_completion`
    - Prefect 1 names, kept as aliases: `log_stdout` (= log_prints), `cache_for` and
      `cache_validator` (caching by inputs for a duration, see `core.task_options`),
      `cache_key` (one key shared by tasks), `slug`

    A task without a function and without its own `run` is a no-op returning None (as Prefect
    1's base `Task()`): useful as a join point of a graph.
    """

    #: Parameters mark themselves so the engine feeds them from the run's parameters.
    is_parameter = False
    #: Secret tasks mark themselves: their results are masked in logs and messages.
    is_secret = False

    def __init__(self, fn: Callable[..., Any] | None = None, **options: Any) -> None:
        if fn is not None and not callable(fn):
            raise TypeError(f"Task(fn=...) needs a callable, got {type(fn).__name__}: {fn!r}")
        self.fn = fn
        if fn is not None:
            functools.update_wrapper(self, fn, updated=())
        self._configure(**options)

    def _configure(
        self,
        *,
        name: str | None = None,
        tags: Iterable[str] = (),
        log_prints: bool = False,
        description: str | None = None,
        max_retries: int = 0,
        retry_delay: float | timedelta = 0,
        retry_backoff: float = 1.0,
        retry_jitter: float = 0.0,
        retry_on: Any = None,
        timeout: float | timedelta | None = None,
        trigger: Trigger | None = None,
        skip_on_upstream_skip: bool | None = None,
        cache_key_fn: Callable[..., str | None] | None = None,
        cache_expiration: float | timedelta | None = None,
        refresh_cache: bool = False,
        persist_result: bool = False,
        serializer: str | Serializer = "pickle",
        state_handlers: Any = None,
        on_failure: Any = None,
        on_success: Any = None,
        on_retry: Any = None,
        on_completion: Any = None,
        **prefect1: Any,
    ) -> None:
        from .task_options import apply_run_options, prefect1_options

        fn = self.fn
        given_name = name
        self.name = name or (getattr(fn, "__name__", None) if fn else None) or type(self).__name__
        owner = f"task {self.name!r}"
        extra = prefect1_options(owner, prefect1)
        log_prints = log_prints or extra.pop("log_prints", False)
        cache_key_fn = cache_key_fn or extra.pop("cache_key_fn", None)
        if cache_expiration is None:
            cache_expiration = extra.pop("cache_expiration", None)
        self.slug = extra.pop("slug", None)
        apply_run_options(self, prefect1)
        if isinstance(tags, str):
            tags = [tags]
        self.tags = frozenset(tags)
        self.log_prints = bool(log_prints)
        self.description = description or (fn.__doc__ if fn else type(self).__doc__) or ""
        self.retry_policy = RetryPolicy.build(
            owner, max_retries, retry_delay, retry_backoff, retry_jitter, retry_on
        )
        self.timeout = seconds(timeout, owner=owner, option="timeout")
        if self.timeout == 0:
            raise TaskOptionError(f"{owner}: timeout=0 would end every attempt at once; use > 0")
        if trigger is not None and not callable(trigger):
            raise TaskOptionError(
                f"{owner}: trigger={trigger!r} is not callable; use one of proctor.triggers "
                f"(all_successful, any_failed, always_run, ...) or a function of upstream states"
            )
        self.trigger: Trigger = trigger or all_successful
        self.skip_on_upstream_skip = skip_on_upstream_skip
        if cache_key_fn is not None and not callable(cache_key_fn):
            raise TaskOptionError(f"{owner}: cache_key_fn={cache_key_fn!r} is not callable")
        self.cache_key_fn = cache_key_fn
        self.cache_expiration = seconds(cache_expiration, owner=owner, option="cache_expiration")
        self.refresh_cache = bool(refresh_cache)
        self.persist_result = bool(persist_result)
        self.serializer = get_serializer(serializer, owner=owner)
        self.hooks = Hooks.build(
            owner, state_handlers=state_handlers, on_failure=on_failure, on_success=on_success,
            on_retry=on_retry, on_completion=on_completion,
        )
        #: the options as given, so `with_options` can re-validate a changed copy
        self._options = {
            **dict.fromkeys(_PREFECT1_NAMES), **prefect1,
            "name": given_name, "tags": tags, "log_prints": log_prints, "description": description,
            "max_retries": max_retries, "retry_delay": retry_delay,
            "retry_backoff": retry_backoff, "retry_jitter": retry_jitter, "retry_on": retry_on,
            "timeout": timeout, "trigger": trigger, "skip_on_upstream_skip": skip_on_upstream_skip,
            "cache_key_fn": cache_key_fn, "cache_expiration": cache_expiration,
            "refresh_cache": refresh_cache, "persist_result": persist_result,
            "serializer": serializer, "state_handlers": state_handlers, "on_failure": on_failure,
            "on_success": on_success, "on_retry": on_retry, "on_completion": on_completion,
        }

    def __getstate__(self) -> dict[str, Any]:
        """What travels to a worker process or a Dask worker: everything but the hooks and
        state handlers, which only ever run in the flow's process and often hold what cannot
        travel (a client, a lock, a notifier's delivery thread)."""
        state = dict(self.__dict__)
        state["hooks"] = Hooks()
        state["_options"] = {**self._options, **dict.fromkeys(_HOOK_OPTIONS)}
        return state

    @property
    def max_retries(self) -> int:
        return self.retry_policy.max_retries

    @property
    def logger(self) -> Any:
        """The run logger while this task (or one of its handlers) runs; else a logger named
        after the task (Prefect 1's `task.logger`)."""
        import logging

        from .errors import MissingContextError

        try:
            from ..engine.logs import get_run_logger

            return get_run_logger()
        except MissingContextError:
            return logging.getLogger(f"proctor.task.{self.name}")

    # -- what the task does ---------------------------------------------------------------------
    def run(self, *args: Any, **kwargs: Any) -> Any:
        """The task's work. `@task` functions land here; subclasses override it."""
        if self.fn is None:
            return None  # the base Task: a no-op (a join point of a graph)
        return self.fn(*args, **kwargs)

    # -- calling it ------------------------------------------------------------------------------
    def __call__(self, *args: Any, upstream_tasks: Iterable[Any] | None = None, **kwargs: Any):
        if kwargs and not _CALL_OPTIONS.isdisjoint(kwargs):
            flow, task_args, mapped = self._call_options(kwargs)
            if flow is not None or task_args or mapped:
                task = self.with_options(**task_args) if task_args else self
                sink = flow if flow is not None else task._sink("call")
                verb = sink.map if mapped else sink.call
                return verb(task, args, kwargs, upstream_tasks)
        sink = CALL_SINK.get()
        if sink is None or TASK_RUN.get() is not None:
            _reject_handles(self, args, kwargs)
            return self.run(*args, **kwargs)
        if BuildExtras.used and OPEN_TAGS.get():
            return sink.call(tagged(self), args, kwargs, upstream_tasks)
        return sink.call(self, args, kwargs, upstream_tasks)

    def submit(self, *args: Any, upstream_tasks: Iterable[Any] | None = None, **kwargs: Any):
        """Start the task without waiting: returns a future (a handle inside `with Flow`)."""
        return self._sink("submit").submit(tagged(self), args, kwargs, upstream_tasks)

    def map(self, *args: Any, upstream_tasks: Iterable[Any] | None = None, **kwargs: Any):
        """Run the task once per element of its iterable arguments; `unmapped(x)` passes x whole.

        Inside `with Flow`, a task in `upstream_tasks` is mapped over too (one run per element of
        its result, no value passed) when it is mapped itself or when no argument is mapped;
        `unmapped(t)` always makes it an ordinary upstream."""
        if kwargs and not _CALL_OPTIONS.isdisjoint(kwargs):
            flow, task_args, _ = self._call_options(kwargs)
            task = self.with_options(**task_args) if task_args else self
            sink = flow if flow is not None else task._sink("map")
            return sink.map(task, args, kwargs, upstream_tasks)
        return self._sink("map").map(tagged(self), args, kwargs, upstream_tasks)

    def _call_options(self, kwargs: dict) -> tuple[Any, dict, bool]:
        """Take `flow=`, `task_args=` and `mapped=` out of a call's keywords (unless the task's
        function has arguments of those names)."""
        own = self._argument_names()
        flow = kwargs.pop("flow") if "flow" in kwargs and "flow" not in own else None
        task_args = kwargs.pop("task_args") if "task_args" in kwargs and \
            "task_args" not in own else None
        mapped = kwargs.pop("mapped") if "mapped" in kwargs and "mapped" not in own else False
        if flow is not None and not hasattr(flow, "record_call"):
            raise NoActiveFlowError(
                f"{self.name}(..., flow={flow!r}): flow= takes a Flow built with `Flow(...)`"
            )
        if task_args is not None and not isinstance(task_args, dict):
            raise TaskOptionError(
                f"task {self.name!r}: task_args= takes a dict of options, e.g. "
                f"task_args={{'name': 'load', 'max_retries': 2}}; got {task_args!r}"
            )
        return flow, task_args or {}, bool(mapped)

    def _argument_names(self) -> frozenset[str]:
        names = self.__dict__.get("_arg_names")
        if names is None:
            import inspect

            target = self.fn if self.fn is not None else self.run
            try:
                names = frozenset(inspect.signature(target).parameters)
            except (TypeError, ValueError):
                names = frozenset()
            self.__dict__["_arg_names"] = names
        return names

    def bind(self, *args: Any, mapped: bool = False, upstream_tasks: Iterable[Any] | None = None,
             flow: Any = None, **kwargs: Any) -> Task:
        """Give this task its arguments in a flow without calling it (Prefect 1's imperative
        API): `t.bind(x, y=2, flow=f)`, or inside `with Flow`. Returns the task itself."""
        graph = flow if flow is not None else self._graph("bind")
        return graph.bind_task(self, args, kwargs, mapped=mapped, upstream_tasks=upstream_tasks)

    def _sink(self, verb: str):
        sink = CALL_SINK.get()
        if sink is None:
            raise NoActiveFlowError(
                f"{self.name}.{verb}() needs a flow: call it inside `with Flow(...)` or inside a "
                f"function decorated with @flow."
            )
        return sink

    # -- wiring inside `with Flow(...)` ------------------------------------------------------------
    def set_upstream(self, task: Any, flow: Any = None, key: str | None = None,
                     mapped: bool = False) -> None:
        """Make `task` run before this one (as the argument `key` when given), in `flow` or
        the flow being built."""
        graph = flow if flow is not None else self._graph("set_upstream")
        graph.add_edge(task, self, key=key, mapped=mapped)

    def set_downstream(self, task: Any, flow: Any = None, key: str | None = None,
                       mapped: bool = False) -> None:
        """Make this task run before `task` (passed to it as the argument `key` when given)."""
        graph = flow if flow is not None else self._graph("set_downstream")
        graph.add_edge(self, task, key=key, mapped=mapped)

    def _graph(self, verb: str):
        sink = CALL_SINK.get()
        if sink is None or not hasattr(sink, "set_dependencies"):
            raise NoActiveFlowError(
                f"{self.name}.{verb}() needs a flow being built: call it inside `with Flow(...)`,"
                f" or pass the flow: {self.name}.{verb}(..., flow=my_flow)."
            )
        return sink

    # -- copies ------------------------------------------------------------------------------------
    def with_options(self, **options: Any) -> Task:
        """A copy of this task with some options changed, e.g. `t.with_options(max_retries=2)`."""
        unknown = set(options) - set(self._options)
        if unknown:
            raise TypeError(
                f"with_options(): task {self.name!r} has no option(s) {sorted(unknown)}; "
                f"options: {', '.join(sorted(self._options))}"
            )
        new = copy.copy(self)
        new._configure(**{**self._options, **options})
        return new

    def copy(self, **options: Any) -> Task:
        """Prefect 1's name of `with_options`: a copy, with some options changed."""
        return self.with_options(**options)

    def __repr__(self) -> str:
        return f"<Task {self.name!r}>"


#: Prefect 1 option names `_configure` takes as aliases (see `core.task_options`).
from .task_options import PREFECT1_NAMES as _PREFECT1_NAMES  # noqa: E402


@overload
def task(fn: F, /) -> Task: ...
@overload
def task(**options: Any) -> Callable[[F], Task]: ...


def task(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Turn a function into a `Task`: `@task` or `@task(name=..., max_retries=3, ...)`.

    The options are those of `Task` (retries, timeout, trigger, caching, results, hooks).
    """
    if fn is None:
        return lambda f: Task(f, **options)
    if isinstance(fn, Task):
        return fn.with_options(**options) if options else fn
    return Task(fn, **options)
