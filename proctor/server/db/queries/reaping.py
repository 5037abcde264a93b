"""The reaper's verbs: mark overdue runs LATE; end runs nobody vouches for any more.

Each verb handles at most `limit` runs per call (the service calls again while a call fills its
limit), so one transaction never grows with the backlog. Runs are picked with `FOR UPDATE SKIP
LOCKED` (PostgreSQL): a run an agent is claiming right now is skipped rather than marked LATE
after it became PENDING, and two reapers never handle the same run.

Who vouches for a run that is under way (PENDING, RUNNING, RETRYING):
- a run an agent holds: the agent's heartbeat (`agents.last_heartbeat`);
- a run no agent holds (recorded straight from `flow.run(api_url=...)` or `proctor run`): the
  heartbeat of its own process (`flow_runs.heartbeat_at`; its last update when it never sent
  one).
When that heartbeat is older than the timeout the run becomes CRASHED, with a message saying
when the last heartbeat came (or CANCELLED, if its cancellation had been requested: the outcome
asked for). `lifecycle` then closes its task runs, frees their slots and, while the
deployment's `retries` allow, schedules a retry, due one timeout later: the run may in fact be
alive behind a network fault, and its agent, told on its next heartbeat, stops it first.

A PAUSED run is resting, not running (its process ended, waiting for an approval): no
heartbeat is expected of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ....core.states import StateType
from ..models import Agent, FlowRun
from .lifecycle import record_flow_run_state
from .specs import StateEvent, StateSpec
from .states import set_run_state

#: States of a run under way: claimed, started, or between two attempts. Someone must vouch
#: for it (its agent, or its own process) with heartbeats.
HELD = (
    StateType.PENDING.value,
    StateType.RUNNING.value,
    StateType.RETRYING.value,
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


def _end(
    session: Session, run_id: str, to: StateType, now: float, message: str, retry_delay: float
) -> bool:
    """Record the end of a run nobody vouches for, with its follow-up (`lifecycle`)."""
    event = StateEvent(flow_run_id=run_id, state=StateSpec(to, message=message, timestamp=now))
    return record_flow_run_state(session, event, now=now, retry_delay=retry_delay).accepted


def describe_silence(last: float | None, now: float) -> str:
    """"since 2026-12-03 18:03:05 UTC (95 s ago)", or "ever" when there was no heartbeat."""
    if last is None:
        return "ever"
    moment = datetime.fromtimestamp(last, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"since {moment} ({max(0.0, now - last):.0f} s ago)"


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
    session: Session,
    *,
    now: float | None = None,
    timeout: float | None = None,
    limit: int = 100,
    agent_timeout: float = 90.0,
) -> Reaped:
    """End the runs held by agents that sent no heartbeat for `agent_timeout` seconds (or that
    the server never heard of); see the module docstring. (`timeout` is `agent_timeout` under
    the name `reap_silent_runs` uses.)"""
    now = time.time() if now is None else now
    agent_timeout = agent_timeout if timeout is None else timeout
    heartbeat = (
        select(Agent.last_heartbeat).where(Agent.id == FlowRun.agent_id).scalar_subquery()
    )
    orphans = session.execute(
        select(FlowRun.id, FlowRun.agent_id, heartbeat.label("last"))
        .where(
            FlowRun.agent_id.is_not(None),
            FlowRun.state_type.in_(HELD),
            or_(heartbeat.is_(None), heartbeat < now - agent_timeout),
        )
        .order_by(FlowRun.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=FlowRun)
    ).all()
    counts = _Counts()
    for row in orphans:
        silent = (
            f"its agent {row.agent_id} sent no heartbeat {describe_silence(row.last, now)}; "
            f"PROCTOR_AGENT_TIMEOUT is {agent_timeout:g} s"
        )
        counts.end(session, row.id, now, silent, agent_timeout)
    return counts.reaped(len(orphans))


def reap_silent_runs(
    session: Session, *, now: float | None = None, timeout: float = 90.0, limit: int = 100
) -> Reaped:
    """End the runs no agent holds whose own process sent no heartbeat for `timeout` seconds
    (see the module docstring)."""
    now = time.time() if now is None else now
    last = func.coalesce(FlowRun.heartbeat_at, FlowRun.updated_at)
    silent = session.execute(
        select(FlowRun.id, FlowRun.heartbeat_at, FlowRun.updated_at)
        .where(
            FlowRun.agent_id.is_(None),
            FlowRun.state_type.in_(HELD),
            last < now - timeout,
        )
        .order_by(FlowRun.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    counts = _Counts()
    for row in silent:
        if row.heartbeat_at is not None:
            why = f"its process sent no heartbeat {describe_silence(row.heartbeat_at, now)}"
        else:
            why = (f"its process never sent a heartbeat, and the run has not changed "
                   f"{describe_silence(row.updated_at, now)}")
        counts.end(session, row.id, now, f"{why}; PROCTOR_AGENT_TIMEOUT is {timeout:g} s",
                   timeout)
    return counts.reaped(len(silent))


class _Counts:
    """What a reaping call did, run by run."""

    def __init__(self) -> None:
        self.crashed = self.cancelled = self.rescheduled = 0

    def end(self, session: Session, run_id: str, now: float, why: str, delay: float) -> None:
        run = session.get(FlowRun, run_id)
        assert run is not None
        if run.cancel_requested:
            self.cancelled += _end(session, run_id, StateType.CANCELLED, now, why, delay)
            return
        retry_left = run.retry_count < run.max_retries and run.deployment_id is not None
        if _end(session, run_id, StateType.CRASHED, now, why, delay):
            self.crashed += 1
            self.rescheduled += retry_left

    def reaped(self, examined: int) -> Reaped:
        return Reaped(self.crashed, self.cancelled, self.rescheduled, examined=examined)
