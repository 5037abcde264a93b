"""What follows when a flow run ends: its open task runs close, its slots free, a crash retries.

Every path that ends a flow run goes through here, so none can leave half a run behind: the
single-state route (an agent's report, an operator's cancel), the recorder's batch (the run's
own process), the reaper (an agent or a process that went silent) and the cancellation of a run
nobody runs. `record_flow_run_state` records one state and follows it up; `follow_up` does the
follow-up for states already recorded (the batch applies thousands of events first).

When a flow run reaches a final state, in the same transaction:

1. Its task runs that are not finished (no state, Pending, Running, Retrying, Paused...) end
   with it: CANCELLED when the flow run was cancelled, CRASHED otherwise, each with a message
   naming the flow run's end. A Cancelled run never shows task runs still Running.
2. The concurrency slots its task runs held are given back.
3. A CRASHED run of a deployment with retries left (`retry_count < max_retries`) is scheduled
   again: a new SCHEDULED run, `retry_of` naming it, idempotency key `retry:<id>` (made once,
   however often this is replayed). It is due `retry_delay` seconds later: zero when the crash
   is known for sure (the agent saw the process die), the agent timeout when the server only
   inferred it from silence, so that a process that is in fact alive is fenced (its agent
   learns on its next heartbeat that the run crashed and kills it) before the retry can start.
   An operator's forced CRASHED is not retried.
4. A late report correcting an inferred CRASHED (`late-report-corrects-crash`) cancels the retry
   made for the crash, when no agent has taken it yet: the work was done once, and must not be
   done twice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from ....core.states import FINISHED_TYPES, StateType
from ..models import ConcurrencySlot, FlowRun, StateRecord, TaskRun
from .bulk import TASK_RUN_UPDATE, bulk_insert, update_runs
from .flow_runs import create_flow_run
from .specs import FlowRunSpec, StateEvent, StateSpec
from .states import (
    TASK_RUN_FIELDS,
    BatchStateApplier,
    Finish,
    Outcome,
    load_run_values,
    set_run_state,
)

_FINISHED = sorted(state.value for state in FINISHED_TYPES)
_CRASHED = StateType.CRASHED.value
_CANCELLED = StateType.CANCELLED.value
#: States of a retry run that has not been taken by an agent yet.
_NOT_TAKEN = (StateType.SCHEDULED.value, StateType.LATE.value)


@dataclass(frozen=True, slots=True)
class FollowUp:
    """What `follow_up` did."""

    task_runs_closed: int = 0
    slots_freed: int = 0
    retries: tuple[str, ...] = ()
    retries_cancelled: int = 0


def record_flow_run_state(
    session: Session,
    event: StateEvent,
    *,
    now: float | None = None,
    retry_delay: float = 0.0,
) -> Outcome:
    """`set_run_state` for a flow run, followed up as the module docstring says when the state
    ends the run."""
    now = time.time() if now is None else now
    outcome = set_run_state(session, event, now=now)
    if outcome.finish is not None:
        follow_up(session, [outcome.finish], now=now, retry_delay=retry_delay)
    return outcome


def follow_up(
    session: Session, finished: Sequence[Finish], *, now: float, retry_delay: float = 0.0
) -> FollowUp:
    """Close, free, retry and un-retry for flow runs that just ended (module docstring)."""
    if not finished:
        return FollowUp()
    closed = close_task_runs(session, {f.flow_run_id: f.state_type for f in finished}, now=now)
    freed = free_slots_of_flow_runs(session, [f.flow_run_id for f in finished])
    retries: list[str] = []
    cancelled = 0
    for finish in finished:
        if finish.corrected:
            cancelled += cancel_retry_of(session, finish.flow_run_id, finish.state_type, now)
        elif finish.state_type == _CRASHED and not finish.forced:
            retry = retry_crashed_run(session, finish.flow_run_id, now=now, delay=retry_delay)
            if retry is not None:
                retries.append(retry.id)
    return FollowUp(closed, freed, tuple(retries), cancelled)


def close_task_runs(session: Session, ended: dict[str, str], *, now: float) -> int:
    """End the unfinished task runs of the flow runs in `ended` (flow run id -> the final
    state type it reached); how many were closed."""
    session.flush()
    open_ids = session.scalars(
        select(TaskRun.id)
        .where(
            TaskRun.flow_run_id.in_(sorted(ended)),
            or_(TaskRun.state_type.is_(None), TaskRun.state_type.not_in(_FINISHED)),
        )
        .order_by(TaskRun.id)
    ).all()
    if not open_ids:
        return 0
    values = load_run_values(session, TaskRun.__table__, open_ids, TASK_RUN_FIELDS)
    applier = BatchStateApplier(flow_runs={}, task_runs=values, known_ids=set(), now=now)
    for task_run_id, row in values.items():
        flow_state = ended[row["flow_run_id"]]
        was = (row["state_type"] or "not started").lower()
        if flow_state == _CANCELLED:
            to, message = StateType.CANCELLED, f"its flow run was cancelled while it was {was}"
        else:
            to = StateType.CRASHED
            message = f"its flow run ended ({flow_state}) while this task run was {was}"
        applier.apply(
            StateEvent(
                flow_run_id=row["flow_run_id"],
                task_run_id=task_run_id,
                state=StateSpec(to, message=message, timestamp=now),
            )
        )
    if applier.rows:
        bulk_insert(session, StateRecord.__table__, applier.rows)
    update_runs(session, TaskRun.__table__, TASK_RUN_UPDATE, applier.changed_task_runs, {})
    # ORM objects of these task runs loaded earlier in the session would hold stale states.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, TaskRun) and obj.id in applier.changed_task_runs:
            session.expire(obj)
    return len(applier.changed_task_runs)


def free_slots_of_flow_runs(session: Session, flow_run_ids: Sequence[str]) -> int:
    """Give back every concurrency slot held by these flow runs' task runs; how many."""
    task_runs = select(TaskRun.id).where(TaskRun.flow_run_id.in_(sorted(set(flow_run_ids))))
    result = session.execute(
        delete(ConcurrencySlot).where(ConcurrencySlot.task_run_id.in_(task_runs))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def free_slots_of_flow_run(session: Session, flow_run_id: str) -> int:
    """`free_slots_of_flow_runs` for one flow run."""
    return free_slots_of_flow_runs(session, [flow_run_id])


_RETRY_SUFFIX = re.compile(r" \(retry \d+\)$")


def retry_key(crashed_run_id: str) -> str:
    """The idempotency key of the run that retries `crashed_run_id`."""
    return f"retry:{crashed_run_id}"


def retry_crashed_run(
    session: Session, flow_run_id: str, *, now: float, delay: float = 0.0
) -> FlowRun | None:
    """Schedule the crashed run again, due in `delay` seconds, when its deployment allows
    another attempt; the new run, or None."""
    crashed = session.get(FlowRun, flow_run_id)
    if crashed is None or crashed.deployment_id is None:
        return None
    if crashed.retry_count >= crashed.max_retries:
        return None
    attempt = crashed.retry_count + 1
    suffix = f" (retry {attempt})"
    base = _RETRY_SUFFIX.sub("", crashed.name)
    when = "at once" if delay <= 0 else f"in {delay:g} s, once the crashed attempt is stopped"
    run, _ = create_flow_run(
        session,
        FlowRunSpec(
            flow_id=crashed.flow_id,
            name=base[: 255 - len(suffix)] + suffix,
            parameters=dict(crashed.parameters or {}),
            tags=list(crashed.tags or ()),
            idempotency_key=retry_key(crashed.id),
            deployment_id=crashed.deployment_id,
            work_queue_name=crashed.work_queue_name,
            expected_start_time=now + max(0.0, delay),
            max_retries=crashed.max_retries,
            retry_of=crashed.id,
            retry_count=attempt,
            state=StateSpec(
                StateType.SCHEDULED,
                message=f"retry {attempt} of {crashed.max_retries} of crashed run "
                f"{crashed.id}, due {when}",
                timestamp=now,
            ),
        ),
        now=now,
    )
    return run


def cancel_retry_of(session: Session, flow_run_id: str, outcome: str, now: float) -> int:
    """Cancel the retry made for a crash that turned out not to be one, if no agent took it
    yet; 1 if cancelled, else 0."""
    retry = session.scalars(
        select(FlowRun).where(
            FlowRun.retry_of == flow_run_id,
            FlowRun.idempotency_key == retry_key(flow_run_id),
        )
    ).first()
    if retry is None or retry.agent_id is not None or retry.state_type not in _NOT_TAKEN:
        return 0
    event = StateEvent(
        flow_run_id=retry.id,
        state=StateSpec(
            StateType.CANCELLED,
            message=f"not needed: run {flow_run_id}, which it retried, reported late that it "
            f"had in fact ended {outcome}",
            timestamp=now,
        ),
    )
    return int(set_run_state(session, event, now=now).accepted)
