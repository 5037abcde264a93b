"""Heartbeats that vouch for runs: what an agent holds vs what it runs, and runs' own processes.

An agent's heartbeat lists the runs it is running (or has claimed, or still has to report).
The server compares that with the runs it records as held by the agent, both ways:

- held by the agent but not listed: the agent does not have it. A PENDING run is a claim whose
  answer the agent never got (its request timed out while the server was slow, and the server
  committed afterwards): it is released, SCHEDULED again for any agent. A RUNNING (or
  RETRYING) run is one its agent lost (it restarted under the same id, say): it ends CRASHED,
  retried at once when the deployment allows (nothing of it runs any more).
- listed but the server has ended it (CRASHED by the reaper, CANCELLED while the agent was
  unreachable), or another agent holds it, or it no longer exists: the agent must stop it
  (`stop`). This is the fence that keeps a run the server gave up on from running beside its
  retry.

The agent's heartbeat loop is sequential (a heartbeat is never sent while one of its claims is
outstanding), so a run listed nowhere at the time of the heartbeat is truly not the agent's.

A run no agent holds is vouched for by its own process (`record_run_heartbeats`), which learns
in return whether its cancellation was requested and whether the server ended it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ....core.states import FINISHED_TYPES, StateType
from ..models import FlowRun
from .lifecycle import record_flow_run_state
from .specs import StateEvent, StateSpec

#: Most run ids one heartbeat may carry.
MAX_HEARTBEAT_RUNS = 1000

_FINISHED = sorted(state.value for state in FINISHED_TYPES)
_PENDING = StateType.PENDING.value
_UNDER_WAY = (StateType.PENDING.value, StateType.RUNNING.value, StateType.RETRYING.value)
#: Final states the server gives a run on its own (not the run's own report): the fence.
_ENDED_BY_SERVER = (StateType.CRASHED.value, StateType.CANCELLED.value)


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What comparing an agent's list with the server's records did (ids)."""

    stop: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)


def reconcile_agent(
    session: Session, agent_id: str, running: Sequence[str], *, now: float | None = None
) -> Reconciled:
    """Compare the runs `agent_id` says it runs with those recorded as its own (module
    docstring)."""
    now = time.time() if now is None else now
    listed = set(running)
    held = session.execute(
        select(FlowRun.id, FlowRun.state_type)
        .where(FlowRun.agent_id == agent_id, FlowRun.state_type.in_(_UNDER_WAY))
        .order_by(FlowRun.id)
        .with_for_update()
    ).all()
    result = Reconciled()
    for run_id, state_type in held:
        if run_id in listed:
            continue
        if state_type == _PENDING:
            if _release(session, run_id, agent_id, now):
                result.released.append(run_id)
        elif _record(session, run_id, StateType.CRASHED, now,
                     f"its agent {agent_id} is alive but no longer runs it"):
            result.crashed.append(run_id)
    if listed:
        rows = session.execute(
            select(FlowRun.id, FlowRun.agent_id, FlowRun.state_type).where(
                FlowRun.id.in_(sorted(listed))
            )
        ).all()
        known = {row.id: row for row in rows}
        for run_id in sorted(listed):
            row = known.get(run_id)
            if row is None or row.agent_id != agent_id or row.state_type in _ENDED_BY_SERVER:
                result.stop.append(run_id)
    return result


def _record(session: Session, run_id: str, to: StateType, now: float, message: str) -> bool:
    event = StateEvent(flow_run_id=run_id, state=StateSpec(to, message=message, timestamp=now))
    return record_flow_run_state(session, event, now=now).accepted


def _release(session: Session, run_id: str, agent_id: str, now: float) -> bool:
    run = session.get(FlowRun, run_id)
    assert run is not None
    if run.cancel_requested:
        return _record(session, run_id, StateType.CANCELLED, now,
                       "cancelled while its agent held it without running it")
    if not _record(session, run_id, StateType.SCHEDULED, now,
                   f"released: its agent {agent_id} never started it (the answer to its claim "
                   "was lost)"):
        return False
    run.agent_id = None
    run.updated_at = now
    session.flush()
    return True


@dataclass(frozen=True, slots=True)
class RunHeartbeats:
    """The answer to runs' own heartbeats: runs whose cancellation was requested, and runs the
    server ended (id -> state type) or does not know (id -> None)."""

    cancel: list[str] = field(default_factory=list)
    ended: dict[str, str | None] = field(default_factory=dict)


def record_run_heartbeats(
    session: Session, flow_run_ids: Sequence[str], *, now: float | None = None
) -> RunHeartbeats:
    """Note that the processes running these flow runs are alive (runs not finished only)."""
    now = time.time() if now is None else now
    wanted = sorted(set(flow_run_ids))
    if not wanted:
        return RunHeartbeats()
    session.execute(
        update(FlowRun)
        .where(FlowRun.id.in_(wanted), FlowRun.state_type.not_in(_FINISHED))
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(FlowRun.id, FlowRun.state_type, FlowRun.cancel_requested).where(
            FlowRun.id.in_(wanted)
        )
    ).all()
    found = {row.id: row for row in rows}
    answer = RunHeartbeats()
    for run_id in wanted:
        row = found.get(run_id)
        if row is None:
            answer.ended[run_id] = None
        elif row.state_type in _ENDED_BY_SERVER:
            answer.ended[run_id] = row.state_type
        elif row.cancel_requested and row.state_type not in _FINISHED:
            answer.cancel.append(run_id)
    return answer
