"""Agents taking runs: claim (atomic, never the same run twice), release, and cancellation.

Claiming, in one write transaction:

1. Pick due candidates of the queue, oldest due first. PostgreSQL: `SELECT ... FOR UPDATE SKIP
   LOCKED`, so concurrent claimers lock disjoint runs without waiting on each other. SQLite: the
   write transaction began with `BEGIN IMMEDIATE`, so no other writer runs meanwhile.
2. Lock the candidates' deployments that have `max_concurrent_runs` (PostgreSQL `FOR UPDATE`,
   in id order) and count their PENDING/RUNNING runs: two claimers cannot both take the last
   free place of a deployment, because the second counts after the first committed.
3. Take each candidate with a conditional `UPDATE ... WHERE state IN (SCHEDULED, LATE) AND
   agent_id IS NULL` (a run someone else took in between updates no row), then record PENDING
   through `set_run_state`, so the move follows the orchestration rules and shows in /states.

Candidates skipped because their deployment is full are left out of the next pick, so a queue
whose oldest runs all belong to one full deployment still hands out the others.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from ....core.states import FINISHED_TYPES, StateType
from ..models import Agent, Deployment, FlowRun
from .agents import note_agent_alive
from .lifecycle import record_flow_run_state
from .specs import NotFound, Refused, StateEvent, StateSpec

CLAIMABLE = (StateType.SCHEDULED.value, StateType.LATE.value)
#: Runs that count against a deployment's `max_concurrent_runs`.
ACTIVE = (StateType.PENDING.value, StateType.RUNNING.value, StateType.RETRYING.value)
#: A run in one of these, with no agent, has not started: cancelling it ends it at once.
NOT_STARTED = frozenset(
    {StateType.SCHEDULED, StateType.LATE, StateType.PENDING, StateType.PAUSED}
)


def _state(run: FlowRun) -> StateType | None:
    return StateType(run.state_type) if run.state_type else None


def _move(session: Session, run_id: str, to: StateType, now: float, message: str = "") -> bool:
    """Record a state of the flow run through the orchestration rules (and, when it ends the
    run, what follows: `lifecycle`); accepted or not."""
    event = StateEvent(flow_run_id=run_id, state=StateSpec(to, message=message, timestamp=now))
    return record_flow_run_state(session, event, now=now).accepted


def _candidates(
    session: Session,
    queue: str,
    now: float,
    count: int,
    seen: set[str],
    full: set[str],
) -> list[tuple[str, str | None]]:
    clauses: list[ColumnElement[bool]] = [
        FlowRun.work_queue_name == queue,
        FlowRun.state_type.in_(CLAIMABLE),
        FlowRun.agent_id.is_(None),
        FlowRun.expected_start_time <= now,
    ]
    if seen:
        clauses.append(FlowRun.id.not_in(sorted(seen)))
    if full:
        clauses.append(
            or_(FlowRun.deployment_id.is_(None), FlowRun.deployment_id.not_in(sorted(full)))
        )
    query = (
        select(FlowRun.id, FlowRun.deployment_id)
        .where(*clauses)
        .order_by(FlowRun.expected_start_time, FlowRun.id)
        .limit(count)
        .with_for_update(skip_locked=True)
    )
    return [(row.id, row.deployment_id) for row in session.execute(query)]


def _load_deployments(
    session: Session, ids: set[str], deployments: dict[str, Deployment], room: dict[str, Any]
) -> None:
    """Add the deployments `ids` to `deployments`; for those with a run limit (locked), note in
    `room` how many more runs may become active now (None: no limit)."""
    wanted = sorted(ids)
    limited = session.scalars(
        select(Deployment)
        .where(Deployment.id.in_(wanted), Deployment.max_concurrent_runs.is_not(None))
        .order_by(Deployment.id)
        .with_for_update()
    ).all()
    for deployment in limited:
        active = session.scalar(
            select(func.count())
            .select_from(FlowRun)
            .where(FlowRun.deployment_id == deployment.id, FlowRun.state_type.in_(ACTIVE))
        )
        deployments[deployment.id] = deployment
        room[deployment.id] = max(0, (deployment.max_concurrent_runs or 0) - int(active or 0))
    free = session.scalars(
        select(Deployment).where(
            Deployment.id.in_(wanted), Deployment.max_concurrent_runs.is_(None)
        )
    ).all()
    for deployment in free:
        deployments[deployment.id] = deployment
        room[deployment.id] = None


def _take(session: Session, run_id: str, agent_id: str, now: float) -> FlowRun | None:
    """Make the run this agent's, if it is still claimable, and move it to PENDING."""
    taken = session.execute(
        update(FlowRun)
        .where(
            FlowRun.id == run_id,
            FlowRun.state_type.in_(CLAIMABLE),
            FlowRun.agent_id.is_(None),
        )
        .values(agent_id=agent_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(taken, "rowcount", 0) != 1:
        return None
    if not _move(session, run_id, StateType.PENDING, now, f"claimed by agent {agent_id}"):
        # The rules refused PENDING: leave the run as it was.
        session.execute(
            update(FlowRun)
            .where(FlowRun.id == run_id)
            .values(agent_id=None)
            .execution_options(synchronize_session=False)
        )
        return None
    run = session.get(FlowRun, run_id)  # loaded (and locked) by set_run_state
    assert run is not None
    run.agent_id = agent_id  # what the UPDATE above stored, in case it was loaded before it
    return run


def claim_runs(
    session: Session,
    work_queue_name: str,
    agent_id: str,
    limit: int,
    *,
    now: float | None = None,
) -> list[tuple[FlowRun, Deployment]]:
    """Up to `limit` due runs of the queue, now PENDING and held by `agent_id`, each with its
    deployment (see the module docstring). The claim also counts as the agent's heartbeat."""
    now = time.time() if now is None else now
    note_agent_alive(session, agent_id, work_queue_name, now=now)
    claimed: list[tuple[FlowRun, Deployment]] = []
    deployments: dict[str, Deployment] = {}
    room: dict[str, int | None] = {}
    seen: set[str] = set()
    full: set[str] = set()
    while len(claimed) < limit:
        candidates = _candidates(session, work_queue_name, now, limit - len(claimed), seen, full)
        if not candidates:
            break
        seen.update(run_id for run_id, _ in candidates)
        new = {dep for _, dep in candidates if dep is not None and dep not in deployments}
        if new:
            _load_deployments(session, new, deployments, room)
        for run_id, deployment_id in candidates:
            deployment = deployments.get(deployment_id or "")
            if deployment is None:
                continue  # no deployment (deleted): nothing tells the agent what to run
            left = room[deployment.id]
            if left is not None and left <= 0:
                full.add(deployment.id)
                continue
            run = _take(session, run_id, agent_id, now)
            if run is None:
                continue
            if left is not None:
                room[deployment.id] = left - 1
            claimed.append((run, deployment))
    return claimed


def _locked_run(session: Session, flow_run_id: str) -> FlowRun:
    run = session.scalars(
        select(FlowRun)
        .where(FlowRun.id == flow_run_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if run is None:
        raise NotFound("flow run", flow_run_id)
    return run


def release_run(
    session: Session, flow_run_id: str, agent_id: str, *, now: float | None = None
) -> FlowRun:
    """Give back a run the agent claimed but did not start: SCHEDULED again and unclaimed, or
    CANCELLED when its cancellation was requested meanwhile. Raises `NotFound`, or `Refused`
    when another agent holds the run or it is no longer PENDING."""
    now = time.time() if now is None else now
    run = _locked_run(session, flow_run_id)
    if run.agent_id != agent_id:
        holder = f"agent {run.agent_id}" if run.agent_id else "no agent"
        raise Refused(
            f"flow run {run.id} is held by {holder}, not by agent {agent_id}",
            "release-by-claimer-only",
        )
    if _state(run) is not StateType.PENDING:
        raise Refused(
            f"flow run {run.id} is {run.state_type}: only a claimed run that has not started "
            "(PENDING) can be released",
            "release-only-pending",
        )
    if run.cancel_requested:
        _move(session, run.id, StateType.CANCELLED, now, "cancelled while its agent held it")
    else:
        _move(session, run.id, StateType.SCHEDULED, now, f"released by agent {agent_id}")
        run.agent_id = None
    run.updated_at = now
    session.flush()
    return run


def cancel_run(
    session: Session,
    flow_run_id: str,
    *,
    now: float | None = None,
    live_within: float | None = None,
) -> FlowRun:
    """Cancel a flow run. CANCELLED at once when no live agent or process owns it: not started
    and held by no agent, or (with `live_within`) its agent's last heartbeat, or for a run no
    agent holds its own process's, is more than `live_within` seconds old; `lifecycle` then
    closes its unfinished task runs and frees their slots. Otherwise `cancel_requested` is set
    and the agent (or the process), told by its next heartbeat, ends it. Cancelling a cancelled
    run changes nothing; a run that finished otherwise raises `Refused`."""
    now = time.time() if now is None else now
    run = _locked_run(session, flow_run_id)
    state = _state(run)
    if state is StateType.CANCELLED:
        return run
    if state in FINISHED_TYPES:
        raise Refused(
            f"flow run {run.id} already finished ({run.state_type}): there is nothing to cancel",
            "cancel-unfinished-only",
        )
    if run.agent_id is None and (state is None or state in NOT_STARTED):
        _move(session, run.id, StateType.CANCELLED, now, "cancelled before it started")
    elif live_within is not None and (silence := _owner_silence(session, run, now)) is not None \
            and silence > live_within:
        owner = f"its agent {run.agent_id}" if run.agent_id else "its process"
        _move(session, run.id, StateType.CANCELLED, now,
              f"cancelled at once: {owner} sent no heartbeat for {silence:.0f} s, so nothing "
              "was running it")
    elif not run.cancel_requested:
        run.cancel_requested = True
        run.updated_at = now
    session.flush()
    return run


def _owner_silence(session: Session, run: FlowRun, now: float) -> float | None:
    """Seconds since the run's owner (its agent, else its own process) last vouched for it."""
    if run.agent_id is not None:
        last = session.scalar(select(Agent.last_heartbeat).where(Agent.id == run.agent_id))
    else:
        last = run.heartbeat_at if run.heartbeat_at is not None else run.updated_at
    return None if last is None else now - last
