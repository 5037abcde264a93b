"""Run one attempt of one task where the executor put it (a thread, a process, a Dask worker).

`run_task` is the only function executors ever call. It takes a self-contained `TaskRunSpec`
(so it pickles) and returns the attempt's final `State`; it never raises for a task's own error.
The attempt, in order:

1. cache: with a `cache_key_fn`, compute the key; a live entry ends the attempt Cached;
2. run the task (under its `timeout`, if any), turning signals and errors into states;
3. on success: persist the result (`persist_result`) and fill the cache.

Timeouts: the attempt runs in a helper thread and the worker waits at most `timeout` seconds.
At the deadline the attempt ends TimedOut and the worker moves on. A Python thread cannot be
killed: a `TimeoutError` is raised inside it at its next Python instruction (so pure-Python loops
stop), but code blocked in C (a socket read, `time.sleep`) runs on until that call returns; its
result is then discarded.
"""

from __future__ import annotations

import contextvars
import ctypes
import inspect
import logging
import threading
import time
import traceback as tb
from dataclasses import dataclass
from typing import Any

from ..core.context import TASK_RUN, TaskRunContext
from ..core.errors import CacheKeyError
from ..core.signals import ENDRUN, FAIL, LOOP, PAUSE, RETRY, SKIP, SUCCESS, TRIGGERFAIL
from ..core.states import (
    Cached,
    Failed,
    Paused,
    Retrying,
    Skipped,
    State,
    StateType,
    Success,
    TimedOut,
    TriggerFailed,
)
from ..core.task import Task
from . import prints

_log = logging.getLogger("proctor.task_run")


@dataclass(slots=True)
class TaskRunSpec:
    """Everything one task-run attempt needs: the task, its resolved arguments, its context."""

    task: Task
    args: list
    kwargs: dict
    context: TaskRunContext


#: The list collecting the log records of the attempt running in this context (None: none).
_CAPTURED: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "proctor_captured_logs", default=None
)


class _Capture(logging.Handler):
    """Collects log records into the list of the attempt whose context emitted them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)

    def emit(self, record: logging.LogRecord) -> None:
        records = _CAPTURED.get()
        if records is None:
            return
        data = dict(record.__dict__)
        data["msg"] = record.getMessage()
        data["args"] = None
        if record.exc_info:
            data["exc_text"] = logging.Formatter().formatException(record.exc_info)
        data["exc_info"] = None
        records.append(data)


class _Shipping:
    """While at least one attempt ships its logs, the `proctor` logger's only handler is the
    capture (a forked worker's copies of the flow's own handlers stay silent). Attempts may run
    at the same time in threads of one worker (Dask): each one's records go to its own list
    through a context variable, and the handlers come back when the last one ends."""

    lock = threading.Lock()
    active = 0
    saved: tuple = ()
    handler = _Capture()

    @classmethod
    def enter(cls) -> None:
        with cls.lock:
            if cls.active == 0:
                base = logging.getLogger("proctor")
                cls.saved = (base.handlers, base.propagate)
                base.handlers, base.propagate = [cls.handler], False
            cls.active += 1

    @classmethod
    def leave(cls) -> None:
        with cls.lock:
            cls.active -= 1
            if cls.active == 0:
                base = logging.getLogger("proctor")
                base.handlers, base.propagate = cls.saved
                cls.saved = ()


def run_task_shipping_logs(spec: TaskRunSpec) -> tuple[State, list[dict]]:
    """`run_task` for workers in another process: the attempt's Proctor log records come back
    with its state (as plain dicts), for the engine to replay where the run's handlers are."""
    values = spec.context.values
    if values and "_secrets" in values:  # secrets the flow knows: masked in this process too
        from ..core import secrets

        secrets.register(values["_secrets"])
    records: list[dict] = []
    token = _CAPTURED.set(records)
    _Shipping.enter()
    try:
        state = run_task(spec)
    finally:
        _Shipping.leave()
        _CAPTURED.reset(token)
    return state, records


def replay_logs(records: list[dict]) -> None:
    """Emit records captured in a worker process through this process's loggers."""
    for data in records:
        record = logging.makeLogRecord(data)
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


def run_task(spec: TaskRunSpec) -> State:
    """Run one attempt of the task and capture its outcome as a State."""
    task = spec.task
    token = TASK_RUN.set(spec.context)
    try:
        cache_key = None
        if task.cache_key_fn is not None:
            try:
                cache_key = _cache_key(spec)
            except CacheKeyError as exc:
                return Failed(str(exc), exception=exc)
            if cache_key is not None and not task.refresh_cache:
                from .results import cache_get

                hit, value = cache_get(cache_key)
                if hit:
                    return Cached(f"cache hit for key {cache_key[:16]}", result=value)
        result = task.result or spec.context.result  # the flow's `result=` is the default
        if result is not None or task.target is not None:
            from .targets import run_with_result

            return run_with_result(spec, result, cache_key)
        # `attempt_and_store`, written out: one call less on every task run
        if task.timeout is None:
            state = _attempt(spec)
        else:
            state = _attempt_with_timeout(spec, task.timeout)
        if state.type is StateType.SUCCESS and (task.persist_result or cache_key is not None):
            state = _store(spec, state, cache_key)
        return state
    finally:
        TASK_RUN.reset(token)


def attempt_and_store(spec: TaskRunSpec, cache_key: str | None) -> State:
    """One attempt (under the task's timeout), its result persisted and cached as asked."""
    task = spec.task
    state = _attempt(spec) if task.timeout is None else _attempt_with_timeout(spec, task.timeout)
    if state.type is StateType.SUCCESS and (task.persist_result or cache_key is not None):
        state = _store(spec, state, cache_key)
    return state


def _attempt(spec: TaskRunSpec) -> State:
    task = spec.task
    capture = prints.capture() if task.log_prints else None
    started = time.time()
    try:
        result = task.run(*spec.args, **spec.kwargs)
    except SKIP as signal:
        return Skipped(signal.message or f"task {spec.context.task_key} skipped itself",
                       result=signal.__dict__.get("result"))
    except ENDRUN as signal:
        state = signal.state
        return state if state.exception is not None else state.with_changes(exception=signal)
    except SUCCESS as signal:
        return Success(signal.message, result=signal.result, started_at=started)
    except LOOP as signal:  # another iteration: the engine starts it at once (GraphRun._loop)
        return Retrying(signal.message or f"loop iteration {spec.context.loop_count} done",
                        at=time.time()).with_changes(exception=signal, started_at=started)
    except TRIGGERFAIL as signal:
        return TriggerFailed(signal.message, result=signal.state_result()).with_changes(
            exception=signal)
    except PAUSE as signal:
        return Paused(signal.message or f"{spec.context.task_key} paused itself")
    except RETRY as signal:  # a failure that asks for another attempt: its message says why
        return Failed(signal.message or f"task {spec.context.task_key} asked for a retry",
                      exception=signal, started_at=started)
    except FAIL as signal:  # a deliberate failure: its message, and the signal as result
        return Failed(signal.message or f"task {spec.context.task_key} failed itself",
                      exception=signal, started_at=started, result=signal.state_result())
    except Exception as exc:  # a task's own failure becomes its state, never an engine crash
        return Failed(
            f"{type(exc).__name__}: {exc}",
            exception=exc,
            traceback=user_traceback(exc),
            started_at=started,
        )
    finally:
        if capture is not None:
            prints.release(capture)
    return Success(result=result, started_at=started)


def _attempt_with_timeout(spec: TaskRunSpec, timeout: float) -> State:
    box: list[State] = []
    context = contextvars.copy_context()
    worker = threading.Thread(
        target=lambda: box.append(context.run(_attempt, spec)),
        name=f"proctor-timeout-{spec.context.task_key}",
        daemon=True,
    )
    started = time.time()
    worker.start()
    worker.join(timeout)
    if box:
        return box[0]
    _interrupt(worker)
    return TimedOut(
        f"task {spec.context.task_key} exceeded its timeout of {timeout:g}s "
        f"(attempt {spec.context.attempt})",
        started_at=started,
    ).with_changes(exception=TimeoutError(f"timed out after {timeout:g}s"))


def _interrupt(thread: threading.Thread) -> None:
    """Ask a timed-out thread to stop: raise TimeoutError in it at its next Python instruction."""
    if thread.ident is None:
        return
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(TimeoutError)
    )


def inputs_of(spec: TaskRunSpec) -> dict[str, Any]:
    """The call's arguments by parameter name."""
    return _inputs(spec)


def _inputs(spec: TaskRunSpec) -> dict[str, Any]:
    """The call's arguments by parameter name (what a cache key function receives)."""
    task = spec.task
    target = task.fn if task.fn is not None else task.run
    try:
        bound = inspect.signature(target).bind(*spec.args, **spec.kwargs)
    except (TypeError, ValueError):
        return {**{f"arg{i}": a for i, a in enumerate(spec.args)}, **spec.kwargs}
    bound.apply_defaults()
    return dict(bound.arguments)


def _cache_key(spec: TaskRunSpec) -> str | None:
    ctx = spec.context
    try:
        key = spec.task.cache_key_fn(ctx, _inputs(spec))
    except CacheKeyError:
        raise
    except Exception as exc:
        raise CacheKeyError(
            f"task {ctx.task_key!r}: cache_key_fn "
            f"{getattr(spec.task.cache_key_fn, '__name__', '?')} raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if key is not None and not isinstance(key, str):
        raise CacheKeyError(
            f"task {ctx.task_key!r}: cache_key_fn returned {type(key).__name__}, expected a "
            f"string (or None to skip the cache)"
        )
    return key


def _store(spec: TaskRunSpec, state: State, cache_key: str | None) -> State:
    from .results import cache_put, persist_result

    task = spec.task
    if task.persist_result:
        try:
            path = persist_result(spec.context.id, state.result, task.serializer)
        except Exception as exc:
            return Failed(
                f"task {spec.context.task_key!r}: its result could not be persisted with the "
                f"{task.serializer.name!r} serializer ({type(exc).__name__}: {exc})",
                exception=exc,
                started_at=state.started_at,
            )
        state = state.with_changes(message=f"result persisted to {path}")
    if cache_key is not None:
        expires = None if task.cache_expiration is None else time.time() + task.cache_expiration
        try:
            cache_put(cache_key, state.result, expires, task.serializer)
        except Exception as exc:  # a result that cannot be cached is still a result
            _log.warning("task %s: result not cached (%s: %s)", spec.context.task_key,
                         type(exc).__name__, exc)
    return state


def user_traceback(exc: BaseException) -> str:
    """The traceback of `exc` from the user's code down: the engine's frames are left out."""
    frames = exc.__traceback__
    if frames is not None:
        frames = frames.tb_next  # the engine frame that called into user code
    while frames is not None and frames.tb_frame.f_code is _TASK_RUN_CODE:
        frames = frames.tb_next
    return "".join(tb.format_exception(type(exc), exc, frames))


def describe(spec: Any) -> str:
    """A short label of a spec for error messages."""
    ctx = spec.context
    index = "" if ctx.map_index is None else f"[{ctx.map_index}]"
    return f"task {ctx.task_key}{index}"


#: `Task.run` only forwards to the decorated function: not worth a line in a traceback.
_TASK_RUN_CODE = Task.run.__code__
