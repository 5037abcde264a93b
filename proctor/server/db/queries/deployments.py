"""Deployments: upserted by (flow name, name), paused and resumed, deleted, and run on demand.

A deployment's future auto-scheduled runs were made from its schedule *and* its parameters, tags,
queue and retries (each run carries copies). So whenever one of those changes, or the deployment
is paused, its auto-scheduled runs that no agent has claimed are deleted here, in the same
transaction, and the scheduler makes them again from the new definition. Runs already claimed or
started are never touched. The deployment row is locked first (PostgreSQL), which also keeps a
scheduler pass from adding runs for a definition that is being replaced.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ....core.states import StateType
from ....schedules import schedule_from_dict
from ..models import Deployment, FlowRun
from .flow_runs import create_flow_run
from .flows import upsert_flow
from .specs import (
    DEPLOYMENT_DEFAULTS,
    DeploymentRunSpec,
    DeploymentSpec,
    FlowRunSpec,
    NotFound,
    Page,
    Refused,
    StateSpec,
    new_id,
)

#: States of a run that has not been taken by an agent yet (what removing "unstarted" runs means).
UNSTARTED = (StateType.SCHEDULED.value, StateType.LATE.value)
#: Fields copied into each scheduled run: changing one makes the existing ones stale.
_BAKED_INTO_RUNS = ("schedule", "parameters", "tags", "work_queue_name", "retries")


def describe_schedule(schedule: Mapping[str, Any] | None) -> str:
    """The schedule in words ("every 5 minutes (Europe/Paris)"), or "" for none."""
    return "" if schedule is None else schedule_from_dict(schedule).describe()


def upsert_deployment(
    session: Session, spec: DeploymentSpec, *, now: float | None = None
) -> tuple[Deployment, bool]:
    """Create the deployment, or update the one with the same flow and name; `(row, created)`.

    The flow is created when missing. On update only the fields in `spec.values` change; when
    a field copied into runs changes, or the deployment gets paused, its unclaimed auto-scheduled
    runs are removed (see the module docstring).
    """
    now = time.time() if now is None else now
    flow, _ = upsert_flow(session, spec.flow_name, now=now)
    existing = session.scalars(
        select(Deployment)
        .where(Deployment.flow_id == flow.id, Deployment.name == spec.name)
        .with_for_update()
    ).first()
    values = dict(spec.values)
    if existing is None:
        if spec.id is not None and session.get(Deployment, spec.id) is not None:
            raise Refused(
                f"deployment id {spec.id} is already used by another deployment",
                "deployment-id-in-use",
            )
        fields = {**DEPLOYMENT_DEFAULTS, **values}
        deployment = Deployment(
            id=spec.id or new_id(),
            flow_id=flow.id,
            flow_name=flow.name,
            name=spec.name,
            entrypoint=spec.entrypoint,
            schedule_description=describe_schedule(fields["schedule"]),
            created_at=now,
            updated_at=now,
            **_copies(fields),
        )
        session.add(deployment)
        session.flush()
        return deployment, True
    stale = any(
        key in values and values[key] != getattr(existing, key) for key in _BAKED_INTO_RUNS
    )
    stale = stale or (values.get("paused") is True and not existing.paused)
    for key, value in _copies(values).items():
        setattr(existing, key, value)
    existing.entrypoint = spec.entrypoint
    if "schedule" in values:
        existing.schedule_description = describe_schedule(values["schedule"])
    existing.updated_at = now
    if stale:
        remove_unstarted_runs(session, existing.id, auto_scheduled_only=True)
    session.flush()
    return existing, False


def _copies(values: Mapping[str, Any]) -> dict[str, Any]:
    """Fresh containers, so a stored row never shares a dict or list with a caller's spec."""
    copied: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            value = dict(value)
        elif isinstance(value, (list, tuple)):
            value = list(value)
        copied[key] = value
    return copied


def read_deployment(session: Session, deployment_id: str, *, lock: bool = False) -> Deployment:
    """The deployment with this id (locked for update when `lock`); raises `NotFound`."""
    query = select(Deployment).where(Deployment.id == deployment_id)
    if lock:
        query = query.with_for_update()
    deployment = session.scalars(query).first()
    if deployment is None:
        raise NotFound("deployment", deployment_id)
    return deployment


def read_deployment_by_name(
    session: Session, name: str, flow_name: str | None = None
) -> Deployment:
    """The deployment `flow_name/name`, or the only deployment called `name` when `flow_name` is
    None. Raises `NotFound`, or `Refused` when several flows have a deployment of that name."""
    query = select(Deployment).where(Deployment.name == name)
    if flow_name is not None:
        query = query.where(Deployment.flow_name == flow_name)
    found = list(session.scalars(query.order_by(Deployment.flow_name).limit(2)))
    if not found:
        raise NotFound("deployment", name if flow_name is None else f"{flow_name}/{name}")
    if len(found) > 1:
        raise Refused(
            f"several flows have a deployment called {name!r} ({found[0].flow_name}, "
            f"{found[1].flow_name}, ...): name it as flow_name/name",
            "ambiguous-deployment-name",
        )
    return found[0]


def list_deployments(
    session: Session, *, flow_name: str | None = None, page: Page = Page()
) -> list[Deployment]:
    """Deployments by flow name, then name; `flow_name` keeps that flow's only."""
    query = select(Deployment)
    if flow_name is not None:
        query = query.where(Deployment.flow_name == flow_name)
    query = query.order_by(Deployment.flow_name, Deployment.name, Deployment.id)
    return list(session.scalars(query.limit(page.limit).offset(page.offset)))


def set_paused(
    session: Session, deployment_id: str, paused: bool, *, now: float | None = None
) -> Deployment:
    """Pause (removing its unclaimed auto-scheduled runs) or resume a deployment; raises
    `NotFound`. Resuming makes no runs itself: the scheduler's next pass does."""
    now = time.time() if now is None else now
    deployment = read_deployment(session, deployment_id, lock=True)
    if paused:
        remove_unstarted_runs(session, deployment.id, auto_scheduled_only=True)
    if deployment.paused != paused:
        deployment.paused = paused
        deployment.updated_at = now
    session.flush()
    return deployment


def delete_deployment(session: Session, deployment_id: str) -> None:
    """Delete a deployment and its runs that no agent has taken; raises `NotFound`. Runs that
    were claimed or have finished stay, as history."""
    deployment = read_deployment(session, deployment_id, lock=True)
    remove_unstarted_runs(session, deployment.id, auto_scheduled_only=False)
    session.delete(deployment)
    session.flush()


def remove_unstarted_runs(
    session: Session, deployment_id: str, *, auto_scheduled_only: bool
) -> int:
    """Delete the deployment's SCHEDULED or LATE runs that no agent claimed (only those the
    scheduler made, with `auto_scheduled_only`); how many. A run an agent is claiming right now
    is locked by the claim (PostgreSQL): the delete waits for it and then leaves it alone."""
    statement = delete(FlowRun).where(
        FlowRun.deployment_id == deployment_id,
        FlowRun.state_type.in_(UNSTARTED),
        FlowRun.agent_id.is_(None),
    )
    if auto_scheduled_only:
        statement = statement.where(FlowRun.auto_scheduled.is_(True))
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def _merged_tags(first: Iterable[str], second: Iterable[str]) -> list[str]:
    """Both lists of tags, in order, each tag once."""
    return list(dict.fromkeys([*first, *second]))


def create_deployment_run(
    session: Session,
    deployment_id: str,
    spec: DeploymentRunSpec,
    *,
    now: float | None = None,
) -> tuple[FlowRun, bool]:
    """A SCHEDULED run of the deployment on its queue, due at `spec.scheduled_time` (default
    now); `(run, created)`, where an `id` or `idempotency_key` already used returns that run.
    Raises `NotFound`. A paused deployment still runs on demand: pausing stops its schedule."""
    now = time.time() if now is None else now
    deployment = read_deployment(session, deployment_id)
    due = now if spec.scheduled_time is None else spec.scheduled_time
    return create_flow_run(
        session,
        FlowRunSpec(
            id=spec.id,
            flow_id=deployment.flow_id,
            name=spec.name,
            parameters={**deployment.parameters, **spec.parameters},
            tags=_merged_tags(deployment.tags, spec.tags),
            idempotency_key=spec.idempotency_key,
            deployment_id=deployment.id,
            work_queue_name=deployment.work_queue_name,
            expected_start_time=due,
            max_retries=deployment.retries,
            state=StateSpec(StateType.SCHEDULED, timestamp=now),
        ),
        now=now,
    )


def list_scheduled_runs(
    session: Session, deployment_id: str, *, page: Page = Page()
) -> list[FlowRun]:
    """The deployment's SCHEDULED runs, soonest first; raises `NotFound`."""
    read_deployment(session, deployment_id)
    query = (
        select(FlowRun)
        .where(
            FlowRun.deployment_id == deployment_id,
            FlowRun.state_type == StateType.SCHEDULED.value,
        )
        .order_by(FlowRun.expected_start_time, FlowRun.id)
        .limit(page.limit)
        .offset(page.offset)
    )
    return list(session.scalars(query))
