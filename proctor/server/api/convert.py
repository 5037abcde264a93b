"""Between the API's schemas and the query layer: requests into specs, rows into `*Read` models.

Kept apart from both sides so that neither the tables nor the verbs know about HTTP shapes, and
the schemas know nothing of SQLAlchemy.
"""

from __future__ import annotations

import logging
from typing import Any

from ..db import queries as q
from ..db.models import Agent, ConcurrencyLimit, Deployment, Flow, FlowRun, LogRecord, TaskRun
from . import control_schemas as c
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
        upstream=tuple(body.upstream),
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
        work_queue_name=run.work_queue_name,
        expected_start_time=run.expected_start_time,
        auto_scheduled=bool(run.auto_scheduled),
        agent_id=run.agent_id,
        heartbeat_at=run.heartbeat_at,
        cancel_requested=bool(run.cancel_requested),
        retry_of=run.retry_of,
        retry_count=run.retry_count or 0,
        max_retries=run.max_retries or 0,
    )


def task_run_read(run: TaskRun) -> s.TaskRunRead:
    return s.TaskRunRead(
        id=run.id,
        flow_run_id=run.flow_run_id,
        task_key=run.task_key,
        task_name=run.task_name,
        map_index=run.map_index,
        tags=list(run.tags or ()),
        upstream=list(run.upstream or ()),
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
        seq=record.seq,
        flow_run_id=record.flow_run_id,
        task_run_id=record.task_run_id,
        level=record.level,
        level_name=logging.getLevelName(record.level),
        logger=record.logger,
        message=record.message,
        timestamp=record.timestamp,
    )


# -- deployments, agents, limits ----------------------------------------------------------------
def deployment_spec(body: c.DeploymentCreate) -> q.DeploymentSpec:
    """Only the fields the client sent become values: an update keeps the others."""
    given = body.model_fields_set
    values = {key: getattr(body, key) for key in q.DEPLOYMENT_DEFAULTS if key in given}
    return q.DeploymentSpec(
        flow_name=body.flow_name,
        name=body.name,
        entrypoint=body.entrypoint,
        working_directory=body.working_directory,
        values=values,
        id=body.id,
    )


def deployment_run_spec(body: c.DeploymentRunCreate) -> q.DeploymentRunSpec:
    return q.DeploymentRunSpec(
        id=body.id,
        name=body.name,
        parameters=body.parameters,
        tags=tuple(body.tags),
        idempotency_key=body.idempotency_key,
        scheduled_time=body.scheduled_time,
    )


def deployment_read(deployment: Deployment) -> c.DeploymentRead:
    return c.DeploymentRead(
        id=deployment.id,
        flow_id=deployment.flow_id,
        flow_name=deployment.flow_name,
        name=deployment.name,
        description=deployment.description,
        entrypoint=deployment.entrypoint,
        working_directory=deployment.working_directory,
        parameters=dict(deployment.parameters or {}),
        parameter_schema=dict(deployment.parameter_schema or {}),
        schedule=deployment.schedule,
        schedule_description=deployment.schedule_description or "",
        work_queue_name=deployment.work_queue_name,
        tags=list(deployment.tags or ()),
        paused=bool(deployment.paused),
        max_concurrent_runs=deployment.max_concurrent_runs,
        retries=deployment.retries or 0,
        created_at=deployment.created_at,
        updated_at=deployment.updated_at,
    )


def agent_read(agent: Agent, *, now: float, timeout: float) -> c.AgentRead:
    return c.AgentRead(
        id=agent.id,
        name=agent.name,
        work_queue_name=agent.work_queue_name,
        labels=list(agent.labels or ()),
        last_heartbeat=agent.last_heartbeat,
        status=q.agent_status(agent, now, timeout),  # type: ignore[arg-type]
    )


def concurrency_limit_read(limit: ConcurrencyLimit, active: int) -> c.ConcurrencyLimitRead:
    return c.ConcurrencyLimitRead(tag=limit.tag, limit=limit.slot_limit, active=active)
