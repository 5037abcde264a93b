"""Task runs: created inside an existing flow run, idempotent by the id the client chose."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import FlowRun, TaskRun
from .specs import NotFound, Page, StateEvent, TaskRunSpec, new_id
from .states import StateApplier


def task_run_row(spec: TaskRunSpec, now: float) -> dict[str, object]:
    """The row a new task run starts as (shared by the single route and the batch)."""
    return {
        "id": spec.id or new_id(),
        "flow_run_id": spec.flow_run_id,
        "task_key": spec.task_key,
        "task_name": spec.task_name,
        "map_index": spec.map_index,
        "tags": list(spec.tags),
        "upstream": list(spec.upstream),
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def create_task_run(
    session: Session, spec: TaskRunSpec, *, now: float | None = None
) -> tuple[TaskRun, bool]:
    """Create a task run, or find the one with `spec.id`; `(run, created)`.

    Raises `NotFound` when the flow run does not exist. An initial `spec.state` is recorded as
    the task run's first state.
    """
    now = time.time() if now is None else now
    if spec.id is not None:
        earlier = session.get(TaskRun, spec.id)
        if earlier is not None:
            return earlier, False
    if session.get(FlowRun, spec.flow_run_id) is None:
        raise NotFound("flow run", spec.flow_run_id)
    run = TaskRun(**task_run_row(spec, now))
    session.add(run)
    session.flush()
    if spec.state is not None:
        applier = StateApplier(
            session, flow_runs={}, task_runs={run.id: run}, known_ids=set(), now=now
        )
        applier.apply(StateEvent(flow_run_id=run.flow_run_id, task_run_id=run.id, state=spec.state))
        applier.flush()
    return run, True


def read_task_run(session: Session, task_run_id: str) -> TaskRun:
    """The task run with this id; raises `NotFound`."""
    run = session.get(TaskRun, task_run_id)
    if run is None:
        raise NotFound("task run", task_run_id)
    return run


def list_task_runs(session: Session, flow_run_id: str, *, page: Page = Page()) -> list[TaskRun]:
    """One page of a flow run's task runs in the order they were created; raises `NotFound`
    when the flow run does not exist."""
    if session.get(FlowRun, flow_run_id) is None:
        raise NotFound("flow run", flow_run_id)
    query = (
        select(TaskRun)
        .where(TaskRun.flow_run_id == flow_run_id)
        .order_by(TaskRun.created_at, TaskRun.id)
        .limit(page.limit)
        .offset(page.offset)
    )
    return list(session.scalars(query))
