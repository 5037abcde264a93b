"""The Dask side of `DaskExecutor`: what one task-run attempt does on a worker.

Kept apart from the client side so that a worker unpickling an attempt imports only this
module and the engine's runner, never the executor's client machinery.

The protocol, per attempt:

- The attempt arrives as a `TaskRunSpec` whose arguments hold `Slot(i)` placeholders where an
  upstream result lives on the cluster, plus the list of those results (Dask resolves each of
  its futures to the value on this worker: data moves worker to worker, never through the flow).
- The engine's runner runs it and returns `(state, log records)`.
- The attempt's state (without its result) and log records are published as a Dask event on
  `WorkerJob.topic`, keyed by the attempt's Dask key. A successful attempt then returns its
  result, which Dask keeps in this worker's memory; any other outcome returns None.

The client pairs the event with the finished future. Both travel the worker's ordered stream to
the scheduler, and the scheduler's ordered stream to the client, the event first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import cloudpickle

from .. import settings
from ..core.states import SUCCESS_TYPES, State
from ..engine.task_runner import TaskRunSpec


@dataclass(frozen=True, slots=True)
class WorkerJob:
    """What every attempt sent by one executor shares (pickled once per batch)."""

    #: the engine's runner: `TaskRunSpec -> (State, list of log record dicts)`
    runner: Callable[[TaskRunSpec], tuple[State, list[dict]]]
    #: the Dask event topic the attempt's state is published on
    topic: str
    #: the level of the flow's `proctor` logger, so records below it are not even made
    log_level: int
    #: the flow's results folder (cache and persisted results), or None for the worker's own
    results_dir: str | None


class Slot:
    """Stands for the `index`-th remote input of an attempt, inside its arguments."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"Slot({self.index})"


def swap(value: Any, replace_leaf: Callable[[Any], Any]) -> Any:
    """`value` with `replace_leaf` applied to every leaf inside lists, tuples, dicts and sets
    (the containers the engine builds arguments with); containers without a replaced leaf are
    returned as they are."""
    cls = value.__class__
    if cls is list or cls is tuple:
        items = [swap(v, replace_leaf) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items if cls is list else tuple(items)
    if cls is dict:
        changed = {k: swap(v, replace_leaf) for k, v in value.items()}
        if all(changed[k] is v for k, v in value.items()):
            return value
        return changed
    if cls is set or cls is frozenset:
        items = {swap(v, replace_leaf) for v in value}
        return cls(items)
    return replace_leaf(value)


def fill(spec: TaskRunSpec, inputs: list) -> TaskRunSpec:
    """The spec with each `Slot(i)` replaced by `inputs[i]`."""

    def leaf(value: Any) -> Any:
        return inputs[value.index] if value.__class__ is Slot else value

    return replace(spec, args=swap(spec.args, leaf), kwargs=swap(spec.kwargs, leaf))


def _portable(state: State, records: list[dict]) -> bytes:
    """The state and records pickled; what cannot travel (an exception class only this worker
    knows, a log record field) is replaced by its text rather than lost with the whole state."""
    try:
        return cloudpickle.dumps((state, records))
    except Exception:
        pass
    if state.exception is not None:
        try:
            cloudpickle.dumps(state.exception)
        except Exception:
            exc = state.exception
            state = state.with_changes(exception=RuntimeError(f"{type(exc).__name__}: {exc}"))
    kept = []
    for data in records:
        try:
            cloudpickle.dumps(data)
            kept.append(data)
        except Exception:
            kept.append({k: (v if isinstance(v, (str, int, float, bool, type(None))) else repr(v))
                         for k, v in data.items()})
    return cloudpickle.dumps((state, kept))


def _prepare_logging(level: int) -> None:
    base = logging.getLogger("proctor")
    if base.getEffectiveLevel() > level:
        base.setLevel(level)


def run_attempt(spec: TaskRunSpec, inputs: list, *, job: WorkerJob) -> Any:
    """Run one attempt on this worker; see the module docstring for what comes back how."""
    from distributed import get_worker

    if inputs:
        spec = fill(spec, inputs)
    _prepare_logging(job.log_level)
    token = settings.RESULTS_DIR_OVERRIDE.set(job.results_dir)
    try:
        state, records = job.runner(spec)
    finally:
        settings.RESULTS_DIR_OVERRIDE.reset(token)
    worker = get_worker()
    key = worker.get_current_task()
    if state.type in SUCCESS_TYPES:
        worker.log_event(job.topic, [key, _portable(state.with_changes(result=None), records)])
        return state.result
    worker.log_event(job.topic, [key, _portable(state, records)])
    return None
