"""`POST /api/events`: the recorder's batch of task runs, state changes and log lines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field, model_validator

from ...db import queries as q
from .. import convert
from ..deps import DB
from ..schemas import MAX_BATCH_ITEMS, BatchIn, BatchOut, BatchTaskRun, Id, StateIn

router = APIRouter(prefix="/api/events", tags=["events"])


class FirstState(StateIn):
    """A task run's first state, sent with the task run; `id` is the state event's id."""

    id: Id


class BatchTaskRunWithState(BatchTaskRun):
    """A task run to create (skipped when its id exists), optionally with its first state."""

    state: FirstState | None = None


class EventsIn(BatchIn):
    """Task runs (each optionally with its first state), state changes and log lines, applied
    in that order; at most 10,000 items, a task run's state counting as one."""

    task_runs: Annotated[list[BatchTaskRunWithState], Field(max_length=MAX_BATCH_ITEMS)] = []

    @model_validator(mode="after")
    def _not_too_many_with_states(self) -> EventsIn:
        carried = sum(1 for task_run in self.task_runs if task_run.state is not None)
        total = len(self.task_runs) + carried + len(self.states) + len(self.logs)
        if total > MAX_BATCH_ITEMS:
            raise ValueError(f"a batch holds at most {MAX_BATCH_ITEMS} items, not {total}")
        return self


def _batch(body: EventsIn) -> q.Batch:
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
    result = database.transact(lambda session: q.record_batch(session, batch))
    return convert.batch_out(result)
