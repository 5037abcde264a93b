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

from .context import CALL_SINK, TASK_RUN
from .errors import NoActiveFlowError, TaskHandleError, TaskOptionError
from .hooks import Hooks
from .retries import RetryPolicy, seconds
from .serializers import Serializer, get_serializer
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


class Task:
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
    """

    #: Parameters mark themselves so the engine feeds them from the run's parameters.
    is_parameter = False

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
    ) -> None:
        fn = self.fn
        self.name = name or (getattr(fn, "__name__", None) if fn else None) or type(self).__name__
        owner = f"task {self.name!r}"
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
            "name": name, "tags": tags, "log_prints": log_prints, "description": description,
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

    def __repr__(self) -> str:
        return f"<Task {self.name!r}>"


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
