"""The scheduler's verbs: which deployments have a schedule, and making their runs in bulk.

Idempotency holds at three levels, so that restarts and several schedulers (threads, processes,
servers) never make a run twice:

1. Each run's idempotency key is derived from the deployment and the instant
   (`scheduled:<deployment id>:<epoch seconds>`), so "the 09:00 run" has one name whoever makes it.
2. A pass over a chunk of deployments first locks their rows with `FOR UPDATE SKIP LOCKED`
   (PostgreSQL): a second scheduler skips the deployments the first is working on, and a pause or
   re-deploy waits for the chunk's transaction to finish (then settles what it made: see
   `deployments`). SQLite's `BEGIN IMMEDIATE` already runs the passes one at a time.
3. The unique constraint on (flow_id, idempotency_key) refuses what slips through anyway;
   `Database.transact` then retries the chunk, which finds the runs and makes none.

A run a pause or re-deploy cancelled keeps its key, so a pass (even one planned earlier, with an
earlier clock) never makes its time again; the future runs those changes remove free their keys
for the runs made again at the same times. A duplicate "seen" in a listing of runs is worth
checking against the keys first: `GET /api/flow_runs` pages by offset, and a run made between two
page requests shows the last run of a page once more at the top of the next.

Why chunks: one transaction per deployment and one ORM flush per run made a pass over 10,000
deployments cost minutes. A chunk (`schedule_deployments`) costs a fixed handful of statements:
lock the deployments, look up which planned keys exist (one query), then one bulk insert of the
new runs and one of their SCHEDULED states, with the same column values `create_flow_run` gives.

Planning (`plan_deployments`) is pure Python and can be slow (a cron schedule walks wall-clock
times), so the service plans a chunk in a read transaction first and holds no lock meanwhile.
Each plan carries the definition it was made from; under the lock, a deployment whose definition
changed since is planned again, so the runs made always follow the definition that is stored.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Select, String, and_, bindparam, func, literal, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, load_only

from ....core.states import StateType
from ....schedules import schedule_from_dict
from ..models import Deployment, Flow, FlowRun, StateRecord
from .batch import bulk_insert
from .specs import StateEvent, StateSpec, new_id
from .states import mirror_values, state_row

#: Deployments per transaction in a pass: large enough that per-statement costs vanish, small
#: enough that a chunk's first fill (up to `max_runs` runs each) keeps transactions short.
CHUNK_DEPLOYMENTS = 200


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """A run the schedule asks for: its key, when it is due (epoch seconds), its parameters."""

    key: str
    when: float
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeploymentPlan:
    """The runs planned for one deployment, or why none could be (`error`: its stored schedule
    no longer loads), with what they were planned from: the deployment's definition (see
    `definition_of`) and the pass's (now, max_runs, horizon_seconds)."""

    definition: str
    basis: tuple[float, int, float]
    runs: tuple[PlannedRun, ...] = ()
    error: Exception | None = None


@dataclass(slots=True)
class ChunkResult:
    """What `schedule_deployments` did: how many runs it made, and the deployments it could not
    plan (by id), which the caller reports; the chunk's other deployments were scheduled."""

    made: int = 0
    failed: dict[str, Exception] = field(default_factory=dict)


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


#: The deployment columns its runs are planned from (`schedule_deployments` loads only these).
_PLANNED_FROM = (
    Deployment.id,
    Deployment.flow_id,
    Deployment.schedule,
    Deployment.parameters,
    Deployment.tags,
    Deployment.work_queue_name,
    Deployment.retries,
)


def definition_of(deployment: Deployment) -> str:
    """Everything of the deployment that its planned runs depend on, as one comparable string
    (JSON keeps the parameters' key order, which the runs keep too)."""
    fields = [
        deployment.flow_id,
        deployment.schedule,
        deployment.parameters,
        deployment.tags,
        deployment.work_queue_name,
        deployment.retries,
    ]
    return json.dumps(fields, default=str)


def plan_deployment(
    deployment: Deployment, now: float, *, max_runs: int, horizon_seconds: float
) -> DeploymentPlan:
    """`plan_runs` for one deployment, a failure kept in the plan rather than raised: a stored
    schedule that no longer loads (or any other fault of the deployment's own data) must not
    stop the other deployments of its chunk."""
    definition = definition_of(deployment)
    basis = (now, max_runs, horizon_seconds)
    try:
        runs = plan_runs(deployment, now, max_runs=max_runs, horizon_seconds=horizon_seconds)
    except Exception as exc:  # planning is pure computation on the deployment's own data
        return DeploymentPlan(definition, basis, error=exc)
    return DeploymentPlan(definition, basis, tuple(runs))


def _scheduled(deployment_ids: Iterable[str]) -> Select[tuple[Deployment]]:
    """The deployments among `deployment_ids` that still have a schedule and are not paused,
    in id order (the order their rows get locked in); only the columns planning needs are
    loaded (a pass reads each deployment twice, so a large `parameter_schema` would cost)."""
    return (
        select(Deployment)
        .options(load_only(*_PLANNED_FROM))
        .where(
            Deployment.id.in_(sorted(set(deployment_ids))),
            Deployment.schedule.is_not(None),
            Deployment.paused.is_(False),
        )
        .order_by(Deployment.id)
    )


def plan_deployments(
    session: Session,
    deployment_ids: Sequence[str],
    *,
    now: float,
    max_runs: int,
    horizon_seconds: float,
) -> dict[str, DeploymentPlan]:
    """Plan the runs of these deployments from a plain read (no lock), by deployment id, so that
    the slow part of a pass holds no lock; `schedule_deployments` checks each plan against the
    definition it finds under its lock. Keep chunks to a few hundred ids (one IN list)."""
    deployments = session.scalars(_scheduled(deployment_ids))
    return {
        deployment.id: plan_deployment(
            deployment, now, max_runs=max_runs, horizon_seconds=horizon_seconds
        )
        for deployment in deployments
    }


def schedule_deployments(
    session: Session,
    deployment_ids: Sequence[str],
    *,
    now: float | None = None,
    max_runs: int = 100,
    horizon_seconds: float = 7 * 86_400,
    plans: dict[str, DeploymentPlan] | None = None,
) -> ChunkResult:
    """Make the missing scheduled runs of these deployments (see `plan_runs`) in one go, inside
    the caller's transaction; see the module docstring for the locking and the statements.

    Deployments that are gone, paused, without a schedule, or held by another scheduler right
    now get nothing. `plans` (from `plan_deployments`) spares planning again the deployments
    whose definition has not changed since (for the same `now` and limits). A deployment whose
    schedule cannot be planned is listed in the result's `failed`; the others are scheduled all
    the same. A unique-key conflict with a concurrent writer raises `IntegrityError` from the
    insert, for `Database.transact` to retry the chunk.
    """
    now = time.time() if now is None else now
    plans = plans or {}
    basis = (now, max_runs, horizon_seconds)
    locked = list(session.scalars(_scheduled(deployment_ids).with_for_update(skip_locked=True)))
    result = ChunkResult()
    wanted: list[tuple[Deployment, PlannedRun]] = []
    for deployment in locked:
        plan = plans.get(deployment.id)
        if plan is None or plan.basis != basis or plan.definition != definition_of(deployment):
            plan = plan_deployment(
                deployment, now, max_runs=max_runs, horizon_seconds=horizon_seconds
            )
        if plan.error is not None:
            result.failed[deployment.id] = plan.error
        else:
            wanted.extend((deployment, run) for run in plan.runs)
    if not wanted:
        return result
    existing = _existing_keys(session, [(d.flow_id, run.key) for d, run in wanted])
    missing = [(d, run) for d, run in wanted if (d.flow_id, run.key) not in existing]
    if missing:
        flow_names = _flow_names(session, {d.flow_id for d, _ in missing})
        runs, states = _new_run_rows(missing, flow_names, now)
        bulk_insert(session, FlowRun.__table__, runs)
        bulk_insert(session, StateRecord.__table__, states)
    result.made = len(missing)
    return result


def schedule_deployment(
    session: Session,
    deployment_id: str,
    *,
    now: float | None = None,
    max_runs: int = 100,
    horizon_seconds: float = 7 * 86_400,
) -> int:
    """Make one deployment's missing scheduled runs (`schedule_deployments` over one id); how
    many were made. Raises `ScheduleError` for a stored schedule that no longer loads."""
    result = schedule_deployments(
        session, [deployment_id], now=now, max_runs=max_runs, horizon_seconds=horizon_seconds
    )
    for error in result.failed.values():
        raise error
    return result.made


def _existing_keys(session: Session, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the (flow_id, idempotency_key) pairs some flow run already has, in one query:
    the pairs go in as one parameter and each is looked up in the unique index on those two
    columns, so the cost follows the pairs asked about, not the runs stored."""
    if session.get_bind().dialect.name == "postgresql":
        query = _lookup_postgresql(pairs)
    else:
        query = _lookup_sqlite(pairs)
    return {(row[0], row[1]) for row in session.execute(query)}


def _lookup_postgresql(pairs: list[tuple[str, str]]) -> Select[Any]:
    """The pairs as `unnest` of two text arrays, each probed by a `LATERAL ... LIMIT 1`
    subquery. A plain join would be planned as a hash join over the whole table for a few
    thousand pairs and a hundred thousand runs (measured: ten times slower), and statistics are
    stale anyway right after a pass filled the table."""
    wanted = (
        func.unnest(
            bindparam("flow_ids", [flow_id for flow_id, _ in pairs], type_=ARRAY(String)),
            bindparam("keys", [key for _, key in pairs], type_=ARRAY(String)),
        )
        .table_valued("flow_id", "key")
        .render_derived()
    )
    found = (
        select(literal(1))
        .where(FlowRun.flow_id == wanted.c.flow_id, FlowRun.idempotency_key == wanted.c.key)
        .limit(1)
        .lateral()
    )
    return select(wanted.c.flow_id, wanted.c.key).select_from(wanted).join(found, true())


def _lookup_sqlite(pairs: list[tuple[str, str]]) -> Select[Any]:
    """The pairs as `json_each` of a JSON list, joined to the runs: SQLite walks the pairs and
    probes the (covering) unique index for each."""
    wanted = func.json_each(bindparam("pairs", json.dumps(pairs))).table_valued("value")
    flow_id = func.json_extract(wanted.c.value, "$[0]")
    key = func.json_extract(wanted.c.value, "$[1]")
    return (
        select(FlowRun.flow_id, FlowRun.idempotency_key)
        .select_from(wanted)
        .join(FlowRun, and_(FlowRun.flow_id == flow_id, FlowRun.idempotency_key == key))
    )


def _flow_names(session: Session, flow_ids: set[str]) -> dict[str, str]:
    """The names of these flows, by id (a run copies its flow's name, and is named after it)."""
    query = select(Flow.id, Flow.name).where(Flow.id.in_(sorted(flow_ids)))
    return {row[0]: row[1] for row in session.execute(query)}


#: The initial state of every scheduled run (its timestamp is the pass's `now`).
_SCHEDULED = StateType.SCHEDULED


def _new_run_rows(
    missing: list[tuple[Deployment, PlannedRun]], flow_names: dict[str, str], now: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The flow_runs and states rows of the runs to make: the same values, column for column,
    as `create_flow_run` with the spec the per-run path used (a SCHEDULED state at `now`, the
    run's name `<flow>-<first 8 of its id>`, the state mirrored by `mirror_values`)."""
    spec = StateSpec(_SCHEDULED, timestamp=now)
    runs: list[dict[str, Any]] = []
    states: list[dict[str, Any]] = []
    for deployment, planned in missing:
        run_id = new_id()
        flow_name = flow_names[deployment.flow_id]
        run: dict[str, Any] = {
            "id": run_id,
            "flow_id": deployment.flow_id,
            "flow_name": flow_name,
            "name": f"{flow_name}-{run_id[:8]}",
            "parameters": dict(planned.parameters),
            "tags": list(deployment.tags),
            "deployment_id": deployment.id,
            "idempotency_key": planned.key,
            "work_queue_name": deployment.work_queue_name,
            "expected_start_time": planned.when,
            "agent_id": None,
            "auto_scheduled": True,
            "cancel_requested": False,
            "retry_of": None,
            "retry_count": 0,
            "max_retries": deployment.retries,
            "created_at": now,
            "updated_at": now,
            "start_time": None,
            "end_time": None,
        }
        # index 0: the per-run path recorded each run's state as the first of its own applier.
        state = state_row(
            StateEvent(flow_run_id=run_id, state=spec), run_id, forced=False, now=now, index=0
        )
        mirror_values(run, state, now, task_run=False)
        runs.append(run)
        states.append(state)
    return runs, states
