"""Deployments: upserted by (flow name, name), paused and resumed, deleted, and run on demand.

A deployment's future auto-scheduled runs were made from its schedule *and* its parameters, tags,
queue and retries (each run carries copies). So whenever one of those changes, or the deployment
is paused or deleted, the runs it has that no agent took are settled here, in the same
transaction, by one rule (`settle_unstarted_runs`, also written in docs/schedules.md):

- What already happened stays. A run that came due and never started (LATE, or SCHEDULED past
  its time) is part of the history: it becomes CANCELLED with a message that says why and when
  ("deployment paused at ...; this run was due at ... and will not run"), and stays listed.
- Future auto-scheduled runs are only a projection of the schedule: they are removed, and the
  scheduler projects them again from the new definition (or on resume). They come back with the
  same idempotency keys (`scheduled:<deployment>:<time>`), so a time never has two runs; a
  cancelled run keeps its key, so its time is never made again as a new SCHEDULED run.
- Runs made by hand (not `auto_scheduled`) are never removed: a pause or a re-deploy leaves them
  as they are (a paused deployment still runs on demand); deleting the deployment cancels them.

Runs already claimed or started are never touched. The deployment row is locked first
(PostgreSQL), which also keeps a scheduler pass from adding runs for a definition that is being
replaced; a run an agent is claiming at that moment is locked by the claim, and the settling
waits for it and then leaves it to the agent.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.orm import Session

from ....core.states import StateType
from ....schedules import schedule_from_dict
from ..models import Deployment, FlowRun
from .flow_runs import create_flow_run
from .flows import upsert_flow
from .lifecycle import record_flow_run_state
from .specs import (
    DEPLOYMENT_DEFAULTS,
    DeploymentRunSpec,
    DeploymentSpec,
    FlowRunSpec,
    NotFound,
    Page,
    Refused,
    StateEvent,
    StateSpec,
    new_id,
)

#: States of a run that has not been taken by an agent yet (what "unstarted" runs means).
UNSTARTED = (StateType.SCHEDULED.value, StateType.LATE.value)
#: Fields copied into each scheduled run: changing one makes the existing ones stale.
_BAKED_INTO_RUNS = ("schedule", "parameters", "tags", "work_queue_name", "retries")


@dataclass(frozen=True, slots=True)
class Settled:
    """What `settle_unstarted_runs` did: runs it cancelled (they stay, with a message) and
    future auto-scheduled runs it removed (the scheduler makes them again when it should)."""

    cancelled: int = 0
    removed: int = 0


def moment_text(epoch: float) -> str:
    """An instant as the run messages show it: `2025-06-01 09:00:00 UTC`."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def describe_schedule(schedule: Mapping[str, Any] | None) -> str:
    """The schedule in words ("every 5 minutes (Europe/Paris)"), or "" for none."""
    return "" if schedule is None else schedule_from_dict(schedule).describe()


def upsert_deployment(
    session: Session, spec: DeploymentSpec, *, now: float | None = None
) -> tuple[Deployment, bool]:
    """Create the deployment, or update the one with the same flow and name; `(row, created)`.

    The flow is created when missing. On update only the fields in `spec.values` change; when
    a field copied into runs changes, or the deployment gets paused, its unstarted runs are
    settled (`settle_unstarted_runs`): overdue ones cancelled, future auto-scheduled ones removed.
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
            working_directory=spec.working_directory,
            schedule_description=describe_schedule(fields["schedule"]),
            created_at=now,
            updated_at=now,
            **_copies(fields),
        )
        session.add(deployment)
        session.flush()
        return deployment, True
    changed = [
        key for key in _BAKED_INTO_RUNS if key in values and values[key] != getattr(existing, key)
    ]
    pausing = values.get("paused") is True and not existing.paused
    for key, value in _copies(values).items():
        setattr(existing, key, value)
    existing.entrypoint = spec.entrypoint
    existing.working_directory = spec.working_directory
    if "schedule" in values:
        existing.schedule_description = describe_schedule(values["schedule"])
    existing.updated_at = now
    if pausing:
        settle_unstarted_runs(session, existing.id, now=now, reason=_paused(now))
    elif changed:
        settle_unstarted_runs(session, existing.id, now=now, reason=_changed(changed, values, now))
    session.flush()
    return existing, False


def _paused(now: float) -> str:
    return f"deployment paused at {moment_text(now)}"


def _changed(fields: list[str], values: Mapping[str, Any], now: float) -> str:
    """Why a re-deploy cancels a run: what of the deployment changed, and when."""
    if fields == ["schedule"] and values["schedule"] is None:
        return f"the deployment's schedule was removed at {moment_text(now)}"
    names = [name.replace("_", " ") for name in fields]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"the deployment's {listed} changed at {moment_text(now)}"


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
    """Pause or resume a deployment; raises `NotFound`. Pausing settles its unstarted runs
    (`settle_unstarted_runs`: the overdue ones are cancelled, the future auto-scheduled ones
    removed). Resuming makes no runs itself: the scheduler's next pass makes those due after
    it, none for the time the deployment was paused; the runs cancelled stay cancelled."""
    now = time.time() if now is None else now
    deployment = read_deployment(session, deployment_id, lock=True)
    if paused:
        settle_unstarted_runs(session, deployment.id, now=now, reason=_paused(now))
    if deployment.paused != paused:
        deployment.paused = paused
        deployment.updated_at = now
    session.flush()
    return deployment


def delete_deployment(session: Session, deployment_id: str, *, now: float | None = None) -> None:
    """Delete a deployment; raises `NotFound`. Its runs stay as history: those no agent took
    are settled first (`settle_unstarted_runs`), and since nothing can run them any more, its
    runs made by hand that have not started are cancelled as well."""
    now = time.time() if now is None else now
    deployment = read_deployment(session, deployment_id, lock=True)
    reason = f"deployment deleted at {moment_text(now)}"
    settle_unstarted_runs(session, deployment.id, now=now, reason=reason, hand_made=True)
    session.delete(deployment)
    session.flush()


def settle_unstarted_runs(
    session: Session, deployment_id: str, *, now: float, reason: str, hand_made: bool = False
) -> Settled:
    """Settle the deployment's runs that no agent took (SCHEDULED or LATE, no agent), because
    of `reason` ("deployment paused at ..."), as of `now`; see the module docstring.

    Auto-scheduled runs due at or before `now` become CANCELLED with the message "<reason>;
    this run was due at <time> and will not run", through the orchestration rules and the
    follow-up of a run's end (`lifecycle`), so the change shows in the run's history; those due
    later are removed. Runs made by hand are left
    alone, unless `hand_made` (the deployment is going away): then they are cancelled too,
    whenever due. PostgreSQL: the rows are locked before they change; one an agent is claiming
    right now is waited for, and is no longer unstarted when the claim has committed.
    """
    unstarted: list[ColumnElement[bool]] = [
        FlowRun.deployment_id == deployment_id,
        FlowRun.state_type.in_(UNSTARTED),
        FlowRun.agent_id.is_(None),
    ]
    overdue = or_(FlowRun.expected_start_time.is_(None), FlowRun.expected_start_time <= now)
    if hand_made:
        cancel = or_(overdue, FlowRun.auto_scheduled.is_(False))
    else:
        cancel = and_(overdue, FlowRun.auto_scheduled.is_(True))
    query = (
        select(FlowRun.id, FlowRun.expected_start_time)
        .where(*unstarted, cancel)
        .order_by(FlowRun.expected_start_time, FlowRun.id)
        .with_for_update()
    )
    cancelled = 0
    for run_id, due in session.execute(query).all():
        when = "at no set time" if due is None else f"at {moment_text(due)}"
        message = f"{reason}; this run was due {when} and will not run"
        event = StateEvent(
            flow_run_id=run_id,
            state=StateSpec(StateType.CANCELLED, message=message, timestamp=now),
        )
        cancelled += bool(record_flow_run_state(session, event, now=now).accepted)
    future = delete(FlowRun).where(
        *unstarted,
        FlowRun.auto_scheduled.is_(True),
        FlowRun.expected_start_time > now,
    )
    result = session.execute(future.execution_options(synchronize_session=False))
    return Settled(cancelled, int(getattr(result, "rowcount", 0) or 0))


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
