"""The engine's side of `core.targets`: answer a run from its target, write its result."""

from __future__ import annotations

from typing import Any

from ..core.context_values import context
from ..core.errors import ProctorError
from ..core.states import Cached, Failed, State, StateType
from ..core.targets import LocalResult, Result, render_location


def template_values(spec: Any) -> dict[str, Any]:
    """What a location or run-name template may name: the run's context and its inputs (the
    task run's context must be set, as it is while `run_task` runs)."""
    from .task_runner import inputs_of

    values = {k: v for k, v in context.to_dict().items()
              if k != "logger" and not k.startswith("_")}
    values.update(inputs_of(spec))
    return values


def read_target(spec: Any, result: Result | None) -> tuple[State | None, str | None]:
    """(Cached state, location) when the task's target exists; (None, location) otherwise."""
    store = result if result is not None else LocalResult()
    try:
        location = render_location(spec.task.target, template_values(spec))
        if not store.exists(location):
            return None, location
        value = store.read(location).value
    except ProctorError as exc:
        return Failed(f"task {spec.context.task_key}: {exc}", exception=exc), None
    except Exception as exc:
        return Failed(
            f"task {spec.context.task_key}: its target could not be read "
            f"({type(exc).__name__}: {exc})", exception=exc,
        ), None
    return Cached(f"target {location} exists: not run again", result=value), location


def run_with_result(spec: Any, result: Result | None, cache_key: str | None) -> State:
    """An attempt of a task with a `result` or a `target`: answered from an existing target,
    else run, then its result written (unless `checkpoint=False`)."""
    from .task_runner import attempt_and_store

    task = spec.task
    if task.target is not None and result is None:
        result = LocalResult()
    location = None
    if task.target is not None:
        cached, location = read_target(spec, result)
        if cached is not None:
            return cached
    state = attempt_and_store(spec, cache_key)
    if state.type is StateType.SUCCESS and task.checkpoint:
        state = write_result(spec, state, result, location)
    return state


def write_result(spec: Any, state: State, result: Result, location: str | None) -> State:
    """Write a successful run's result to its (target or result) location."""
    try:
        if location is None:
            location = result.format(**template_values(spec))
        result.copy_with(location=location).write(state.result)
    except Exception as exc:
        return Failed(
            f"task {spec.context.task_key}: its result could not be written "
            f"({type(exc).__name__}: {exc})", exception=exc, started_at=state.started_at,
        )
    return state.with_changes(message=f"result written to {location}")
