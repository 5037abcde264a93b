"""The scheduler's verbs: which deployments have a schedule, and making one deployment's runs.

Idempotency holds at three levels, so that restarts and several schedulers (threads, processes,
servers) never make a run twice:

1. Each run's idempotency key is derived from the deployment and the instant
   (`scheduled:<deployment id>:<epoch seconds>`), so "the 09:00 run" has one name whoever makes it.
2. A pass over a deployment first locks its row with `FOR UPDATE SKIP LOCKED` (PostgreSQL): a
   second scheduler skips a deployment the first is working on, and a pause or re-deploy waits
   for the pass to finish (then removes what it made). SQLite's `BEGIN IMMEDIATE` already runs
   the passes one at a time.
3. The unique constraint on (flow_id, idempotency_key) refuses what slips through anyway;
   `Database.transact` then retries the pass, which finds the runs and makes none.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ....core.states import StateType
from ....schedules import schedule_from_dict
from ..models import Deployment, FlowRun
from .flow_runs import create_flow_run
from .specs import FlowRunSpec, StateSpec


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """A run the schedule asks for: its key, when it is due (epoch seconds), its parameters."""

    key: str
    when: float
    parameters: dict[str, Any]


def scheduled_deployment_ids(session: Session) -> list[str]:
    """The deployments the scheduler keeps runs for: with a schedule, not paused."""
    query = (
        select(Deployment.id)
        .where(Deployment.schedule.is_not(None), Deployment.paused.is_(False))
        .order_by(Deployment.id)
    )
    return list(session.scalars(query))


def run_key(deployment_id: str, when: float, occurrence: int = 1) -> str:
    """The idempotency key of the scheduled run at `when`. A schedule whose clocks carry
    different parameters may ask for two runs at one instant; the second gets `:2`."""
    key = f"scheduled:{deployment_id}:{int(when)}"
    return key if occurrence == 1 else f"{key}:{occurrence}"


def plan_runs(
    deployment: Deployment, now: float, *, max_runs: int, horizon_seconds: float
) -> list[PlannedRun]:
    """The runs the deployment's schedule asks for strictly after `now`: at most `max_runs`, and
    none later than `now + horizon_seconds` (whichever limit comes first). Raises
    `ScheduleError` for a stored schedule that no longer loads."""
    if deployment.schedule is None:
        return []
    timeline = schedule_from_dict(deployment.schedule)
    after = datetime.fromtimestamp(now, timezone.utc)
    planned: list[PlannedRun] = []
    occurrences: dict[int, int] = {}
    for run in itertools.islice(timeline.iter_runs(after), max_runs):
        when = run.when.timestamp()
        if when > now + horizon_seconds:
            break
        occurrence = occurrences.get(int(when), 0) + 1
        occurrences[int(when)] = occurrence
        parameters = {**deployment.parameters, **run.parameters}
        planned.append(PlannedRun(run_key(deployment.id, when, occurrence), when, parameters))
    return planned


def schedule_deployment(
    session: Session,
    deployment_id: str,
    *,
    now: float | None = None,
    max_runs: int = 100,
    horizon_seconds: float = 7 * 86_400,
) -> int:
    """Make the deployment's missing scheduled runs (see `plan_runs`); how many were made.

    Makes none when the deployment is gone, paused, has no schedule, or another scheduler holds
    it right now (see the module docstring).
    """
    now = time.time() if now is None else now
    deployment = session.scalars(
        select(Deployment)
        .where(
            Deployment.id == deployment_id,
            Deployment.schedule.is_not(None),
            Deployment.paused.is_(False),
        )
        .with_for_update(skip_locked=True)
    ).first()
    if deployment is None:
        return 0
    planned = plan_runs(deployment, now, max_runs=max_runs, horizon_seconds=horizon_seconds)
    if not planned:
        return 0
    existing = set(
        session.scalars(
            select(FlowRun.idempotency_key).where(
                FlowRun.flow_id == deployment.flow_id,
                FlowRun.idempotency_key.in_([run.key for run in planned]),
            )
        )
    )
    made = 0
    for run in planned:
        if run.key in existing:
            continue
        create_flow_run(
            session,
            FlowRunSpec(
                flow_id=deployment.flow_id,
                parameters=run.parameters,
                tags=list(deployment.tags),
                idempotency_key=run.key,
                deployment_id=deployment.id,
                work_queue_name=deployment.work_queue_name,
                expected_start_time=run.when,
                auto_scheduled=True,
                max_retries=deployment.retries,
                state=StateSpec(StateType.SCHEDULED, timestamp=now),
            ),
            now=now,
        )
        made += 1
    return made
