"""Between the API's schemas and the query layer: requests into specs, rows into `*Read` models.

Kept apart from both sides so that neither the tables nor the verbs know about HTTP shapes, and
the schemas know nothing of SQLAlchemy.
"""

from __future__ import annotations

import logging
from typing import Any

from ..db import queries as q
from ..db.models import Flow, FlowRun, LogRecord, TaskRun
from . import schemas as s


def state_spec(state: s.StateIn) -> q.StateSpec:
    return q.StateSpec(
        type=state.type,
        name=state.name,
        message=state.message,
        timestamp=state.timestamp,
        started_at=state.started_at,
        ended_at=state.ended_at,
    )


def optional_state_spec(state: s.StateIn | None) -> q.StateSpec | None:
    return None if state is None else state_spec(state)


def flow_run_spec(body: s.FlowRunCreate) -> q.FlowRunSpec:
    return q.FlowRunSpec(
        id=body.id,
        flow_id=body.flow_id,
        flow_name=body.flow_name,
        name=body.name,
        parameters=body.parameters,
        tags=tuple(body.tags),
        idempotency_key=body.idempotency_key,
        deployment_id=body.deployment_id,
        state=optional_state_spec(body.state),
    )


def task_run_spec(body: s.TaskRunCreate | s.BatchTaskRun) -> q.TaskRunSpec:
    return q.TaskRunSpec(
        id=body.id,
        flow_run_id=body.flow_run_id,
        task_key=body.task_key,
        task_name=body.task_name,
        map_index=body.map_index,
        tags=tuple(body.tags),
        state=optional_state_spec(getattr(body, "state", None)),
    )


def batch(body: s.BatchIn) -> q.Batch:
    return q.Batch(
        task_runs=[task_run_spec(item) for item in body.task_runs],
        states=[
            q.StateEvent(
                id=item.id,
                flow_run_id=item.flow_run_id,
                task_run_id=item.task_run_id,
                state=state_spec(item.state),
                force=item.force,
            )
            for item in body.states
        ],
        logs=[
            q.LogSpec(
                id=item.id,
                flow_run_id=item.flow_run_id,
                task_run_id=item.task_run_id,
                level=item.level,
                logger=item.logger,
                message=item.message,
                timestamp=item.timestamp,
            )
            for item in body.logs
        ],
    )


def batch_out(result: q.BatchResult) -> s.BatchOut:
    return s.BatchOut(
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=[
            s.RejectedItem(id=item.id, reason=item.reason, rule=item.rule)
            for item in result.rejected
        ],
    )


def state_read(row: dict[str, Any]) -> s.StateRead:
    return s.StateRead(
        id=row["id"],
        type=row["type"],
        name=row["name"],
        message=row["message"],
        timestamp=row["timestamp"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        flow_run_id=row["flow_run_id"],
        task_run_id=row["task_run_id"],
        forced=bool(row["forced"]),
    )


def _current_state(run: FlowRun | TaskRun) -> s.StateRead | None:
    row = q.current_state_row(run)
    return None if row is None else state_read(row)


def flow_read(flow: Flow) -> s.FlowRead:
    return s.FlowRead(
        id=flow.id,
        name=flow.name,
        description=flow.description,
        tags=list(flow.tags or ()),
        created_at=flow.created_at,
    )


def flow_run_read(run: FlowRun) -> s.FlowRunRead:
    return s.FlowRunRead(
        id=run.id,
        flow_id=run.flow_id,
        flow_name=run.flow_name,
        name=run.name,
        parameters=dict(run.parameters or {}),
        tags=list(run.tags or ()),
        deployment_id=run.deployment_id,
        idempotency_key=run.idempotency_key,
        state=_current_state(run),
        state_type=run.state_type,
        start_time=run.start_time,
        end_time=run.end_time,
        created_at=run.created_at,
        updated_at=run.updated_at,
    )


def task_run_read(run: TaskRun) -> s.TaskRunRead:
    return s.TaskRunRead(
        id=run.id,
        flow_run_id=run.flow_run_id,
        task_key=run.task_key,
        task_name=run.task_name,
        map_index=run.map_index,
        tags=list(run.tags or ()),
        state=_current_state(run),
        state_type=run.state_type,
        start_time=run.start_time,
        end_time=run.end_time,
        attempts=run.attempts,
        created_at=run.created_at,
    )


def log_read(record: LogRecord) -> s.LogRead:
    return s.LogRead(
        id=record.id,
        flow_run_id=record.flow_run_id,
        task_run_id=record.task_run_id,
        level=record.level,
        level_name=logging.getLevelName(record.level),
        logger=record.logger,
        message=record.message,
        timestamp=record.timestamp,
    )
