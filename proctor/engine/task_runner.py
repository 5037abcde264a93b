"""Run one attempt of one task where the executor put it (a thread, a process, a Dask worker).

`run_task` is the only function executors ever call. It takes a self-contained `TaskRunSpec`
(so it pickles) and returns the attempt's final `State`; it never raises for a task's own error.
"""

from __future__ import annotations

import time
import traceback as tb
from dataclasses import dataclass
from typing import Any

from ..core.context import TASK_RUN, TaskRunContext
from ..core.states import Failed, State, Success
from ..core.task import Task
from . import prints


@dataclass(slots=True)
class TaskRunSpec:
    """Everything one task-run attempt needs: the task, its resolved arguments, its context."""

    task: Task
    args: list
    kwargs: dict
    context: TaskRunContext


def run_task(spec: TaskRunSpec) -> State:
    """Run the task once and capture its outcome as a State."""
    task = spec.task
    token = TASK_RUN.set(spec.context)
    capture = prints.capture() if task.log_prints else None
    started = time.time()
    try:
        result = task.run(*spec.args, **spec.kwargs)
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
        TASK_RUN.reset(token)
    return Success(result=result, started_at=started)


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
