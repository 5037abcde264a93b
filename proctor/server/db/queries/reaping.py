"""The reaper's verbs: mark overdue runs LATE; end runs whose agent went silent, and retry them.

Each verb handles at most `limit` runs per call (the service calls again while a call fills its
limit), so one transaction never grows with the backlog. Runs are picked with `FOR UPDATE SKIP
LOCKED` (PostgreSQL): a run an agent is claiming right now is skipped rather than marked LATE
after it became PENDING, and two reapers never handle the same run.

A run whose agent went silent becomes CRASHED (or CANCELLED, if its cancellation had been
requested: the outcome asked for), the concurrency slots of its task runs are freed, and while
it has retries left (`retry_count < max_retries`, copied from the deployment's `retries`) a new
SCHEDULED run replaces it at once, with `retry_of` naming it. The new run's idempotency key is
`retry:<crashed run id>`, so a reaper that retries the transaction never makes two.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ....core.states import StateType
from ..models import Agent, FlowRun
from .claims import free_slots_of_flow_run
from .flow_runs import create_flow_run
from .specs import FlowRunSpec, StateEvent, StateSpec
from .states import set_run_state

#: States of a run an agent holds (claimed, started, or paused inside its process).
HELD = (
    StateType.PENDING.value,
    StateType.RUNNING.value,
    StateType.RETRYING.value,
    StateType.PAUSED.value,
)


@dataclass(frozen=True, slots=True)
class Reaped:
    """What one `reap_orphaned_runs` call did."""

    crashed: int = 0
    cancelled: int = 0
    rescheduled: int = 0
    examined: int = 0


def _record(session: Session, run_id: str, to: StateType, now: float, message: str) -> bool:
    event = StateEvent(flow_run_id=run_id, state=StateSpec(to, message=message, timestamp=now))
    return set_run_state(session, event, now=now).accepted


def mark_late_runs(
    session: Session, *, now: float | None = None, late_after: float = 60.0, limit: int = 500
) -> int:
    """SCHEDULED runs due more than `late_after` seconds before `now` become LATE (they stay
    claimable); how many."""
    now = time.time() if now is None else now
    overdue = session.scalars(
        select(FlowRun.id)
        .where(
            FlowRun.state_type == StateType.SCHEDULED.value,
            FlowRun.expected_start_time < now - late_after,
        )
        .order_by(FlowRun.expected_start_time, FlowRun.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    message = f"not started {late_after:g} s after it was due"
    return sum(_record(session, run_id, StateType.LATE, now, message) for run_id in overdue)


def reap_orphaned_runs(
    session: Session, *, now: float | None = None, agent_timeout: float = 90.0, limit: int = 100
) -> Reaped:
    """End the runs held by agents that sent no heartbeat for `agent_timeout` seconds (or that
    the server never heard of), and retry those with retries left; see the module docstring."""
    now = time.time() if now is None else now
    heartbeat = (
        select(Agent.last_heartbeat).where(Agent.id == FlowRun.agent_id).scalar_subquery()
    )
    orphans = session.scalars(
        select(FlowRun.id)
        .where(
            FlowRun.agent_id.is_not(None),
            FlowRun.state_type.in_(HELD),
            or_(heartbeat.is_(None), heartbeat < now - agent_timeout),
        )
        .order_by(FlowRun.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    crashed = cancelled = rescheduled = 0
    for run_id in orphans:
        run = session.get(FlowRun, run_id)
        assert run is not None
        silent = f"agent {run.agent_id} sent no heartbeat for {agent_timeout:g} s"
        if run.cancel_requested:
            cancelled += _record(session, run_id, StateType.CANCELLED, now, silent)
            free_slots_of_flow_run(session, run_id)
            continue
        if not _record(session, run_id, StateType.CRASHED, now, silent):
            continue
        crashed += 1
        free_slots_of_flow_run(session, run_id)
        if run.retry_count < run.max_retries:
            _retry(session, run, now)
            rescheduled += 1
    return Reaped(crashed, cancelled, rescheduled, examined=len(orphans))


_RETRY_SUFFIX = re.compile(r" \(retry \d+\)$")


def _retry(session: Session, crashed: FlowRun, now: float) -> FlowRun:
    attempt = crashed.retry_count + 1
    suffix = f" (retry {attempt})"
    base = _RETRY_SUFFIX.sub("", crashed.name)
    run, _ = create_flow_run(
        session,
        FlowRunSpec(
            flow_id=crashed.flow_id,
            name=base[: 255 - len(suffix)] + suffix,
            parameters=dict(crashed.parameters or {}),
            tags=list(crashed.tags or ()),
            idempotency_key=f"retry:{crashed.id}",
            deployment_id=crashed.deployment_id,
            work_queue_name=crashed.work_queue_name,
            expected_start_time=now,
            max_retries=crashed.max_retries,
            retry_of=crashed.id,
            retry_count=attempt,
            state=StateSpec(
                StateType.SCHEDULED,
                message=f"retry {attempt} of {crashed.max_retries} of crashed run {crashed.id}",
                timestamp=now,
            ),
        ),
        now=now,
    )
    return run
