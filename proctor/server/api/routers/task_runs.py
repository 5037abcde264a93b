"""`/api/task_runs`: create (idempotent by id), read, change state, read the state history."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy.orm import Session

from ...db import queries as q
from .. import convert
from ..deps import DB, TaskRunId
from ..responses import CONFLICT
from ..schemas import StateChange, StateRead, TaskRunCreate, TaskRunRead
from ..transitions import record_state

router = APIRouter(prefix="/api/task_runs", tags=["task runs"])


@router.post(
    "",
    response_model=TaskRunRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": TaskRunRead, "description": "A task run with this id existed"}},
)
def create_task_run(body: TaskRunCreate, database: DB, response: Response) -> TaskRunRead:
    """201 with the new task run; 200 with the existing one when `id` is already known; 404
    when the flow run does not exist."""

    def work(session: Session) -> tuple[TaskRunRead, bool]:
        run, created = q.create_task_run(session, convert.task_run_spec(body))
        return convert.task_run_read(run), created

    run, created = database.transact(work)
    if not created:
        response.status_code = status.HTTP_200_OK
    return run


@router.get("/{task_run_id}", response_model=TaskRunRead)
def read_task_run(task_run_id: TaskRunId, database: DB) -> TaskRunRead:
    with database.read() as session:
        return convert.task_run_read(q.read_task_run(session, task_run_id))


@router.post(
    "/{task_run_id}/state",
    response_model=StateRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": StateRead, "description": "A state with this id was already recorded"},
        **CONFLICT,
    },
)
def set_task_run_state(
    task_run_id: TaskRunId, body: StateChange, database: DB, response: Response
) -> StateRead:
    """Move the task run to a new state through the orchestration rules (409 when one refuses,
    unless `force`)."""
    event = q.StateEvent(
        flow_run_id=None,
        task_run_id=task_run_id,
        state=convert.state_spec(body.state),
        force=body.force,
        id=body.id,
    )
    return record_state(database, event, response)


@router.get("/{task_run_id}/states", response_model=list[StateRead])
def read_task_run_states(task_run_id: TaskRunId, database: DB) -> list[StateRead]:
    """Every state the task run went through, oldest first."""
    with database.read() as session:
        rows = q.read_states(session, task_run_id=task_run_id)
        return [convert.state_read(q.state_row_of(row)) for row in rows]
