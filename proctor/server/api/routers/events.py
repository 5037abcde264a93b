"""`POST /api/events`: the recorder's batch of task runs, state changes and log lines.

The body is validated into slotted pydantic dataclasses built from the batch models of
`schemas` (same fields, same types and constraints, same defaults), not into the models
themselves: a batch holds up to 10,000 items, and a model instance costs three objects (itself,
its `__dict__`, its set of given fields) where a slotted dataclass costs one. That halves the
validation time of a large batch and the work it leaves to the garbage collector.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from pydantic.dataclasses import dataclass as pydantic_dataclass
from sqlalchemy.orm import Session

from ...db import queries as q
from .. import convert
from ..deps import DB
from ..schemas import (
    MAX_BATCH_ITEMS,
    BatchIn,
    BatchLog,
    BatchOut,
    BatchState,
    BatchTaskRun,
    Id,
    StateIn,
)

router = APIRouter(prefix="/api/events", tags=["events"])

#: The default of an `extra` field that has none.
REQUIRED: Any = dataclasses.MISSING


def _lean(
    model: type[BaseModel],
    name: str,
    *,
    types: dict[str, Any] | None = None,
    extra: dict[str, tuple[Any, Any]] | None = None,
    namespace: dict[str, Any] | None = None,
    doc: str | None = None,
) -> Any:
    """A slotted pydantic dataclass called `name` with the fields of `model`: each field's
    type, constraints and default, except that `types` replaces the type of some fields (their
    constraints stay) and `extra` adds fields (name: (type, default), `REQUIRED` for none).
    Keyword-only, so field order is free."""
    types = types or {}
    fields: list[tuple[str, Any, Any]] = []
    for field_name, info in model.model_fields.items():
        annotation = types.get(field_name, info.annotation)
        # The field's own constraints, and what it adds to the schema (a pattern, for one).
        metadata = [*info.metadata]
        if info.json_schema_extra:
            metadata.append(Field(json_schema_extra=info.json_schema_extra))
        if metadata:
            annotation = Annotated[(annotation, *metadata)]
        if info.default_factory is not None:
            default = dataclasses.field(default_factory=info.default_factory)  # type: ignore[arg-type]
        elif info.is_required():
            default = dataclasses.field()
        elif isinstance(info.default, (list, dict)):
            default = dataclasses.field(default_factory=type(info.default))
        else:
            default = dataclasses.field(default=info.default)
        fields.append((field_name, annotation, default))
    for field_name, (annotation, default) in (extra or {}).items():
        fields.append((field_name, annotation, dataclasses.field(default=default)))
    plain = dataclasses.make_dataclass(
        name, fields, namespace=namespace, slots=True, kw_only=True
    )
    plain.__module__ = __name__
    plain.__doc__ = doc or model.__doc__
    return pydantic_dataclass(plain)


def _count_items(body: Any) -> None:
    """At most `MAX_BATCH_ITEMS` items, a task run's first state counting as one."""
    carried = sum(1 for task_run in body.task_runs if task_run.state is not None)
    total = len(body.task_runs) + carried + len(body.states) + len(body.logs)
    if total > MAX_BATCH_ITEMS:
        raise ValueError(f"a batch holds at most {MAX_BATCH_ITEMS} items, not {total}")


BatchStateIn = _lean(StateIn, "BatchStateIn")
BatchFirstState = _lean(
    StateIn,
    "BatchFirstState",
    extra={"id": (Id, REQUIRED)},
    doc="A task run's first state, sent with the task run; `id` is the state event's id.",
)
BatchTaskRunIn = _lean(
    BatchTaskRun,
    "BatchTaskRun",
    extra={"state": (BatchFirstState | None, None)},
    doc="A task run to create (skipped when its id exists), optionally with its first state.",
)
BatchStateChange = _lean(BatchState, "BatchState", types={"state": BatchStateIn})
BatchLogLine = _lean(BatchLog, "BatchLog")
EventsIn = _lean(
    BatchIn,
    "BatchIn",
    types={
        "task_runs": list[BatchTaskRunIn],
        "states": list[BatchStateChange],
        "logs": list[BatchLogLine],
    },
    namespace={"__post_init__": _count_items},
    doc="Task runs (each optionally with its first state), state changes and log lines, "
    "applied in that order; at most 10,000 items, a task run's state counting as one.",
)


def _batch(body: Any) -> q.Batch:
    """The batch as the query layer takes it: a task run's first state becomes a state event,
    placed before the batch's own state events (it is the first of its run's states)."""
    batch = convert.batch(body)
    carried = [
        q.StateEvent(
            id=item.state.id,
            flow_run_id=item.flow_run_id,
            task_run_id=item.id,
            # `convert` already turned the state into a spec when it reads it off the task run
            state=spec.state if spec.state is not None else convert.state_spec(item.state),
        )
        for item, spec in zip(body.task_runs, batch.task_runs, strict=True)
        if item.state is not None
    ]
    if not carried:
        return batch
    return q.Batch(task_runs=batch.task_runs, states=[*carried, *batch.states], logs=batch.logs)


@router.post("", response_model=BatchOut)
def record_events(body: EventsIn, database: DB) -> BatchOut:
    """Apply the batch in one transaction: task runs, then state changes in order, then logs.

    A task run may carry its first state (`state`, with the state event's `id`): it is applied
    as a state event of that task run, ahead of the batch's `states`, and counted as one more
    item. Items whose id is already stored count as duplicates; items that cannot apply are
    listed in `rejected` with the reason, and the rest still apply (the answer is 200 either
    way).
    """
    batch = _batch(body)
    attempts = 0

    def work(session: Session) -> q.BatchResult:
        # The first attempt skips looking up the state ids of task runs the batch creates (they
        # are new but for a client's mistake, which the states' primary key catches); a retry,
        # after any conflict, looks up every id.
        nonlocal attempts
        attempts += 1
        return q.record_batch(session, batch, optimistic=attempts == 1)

    return convert.batch_out(database.transact(work))
