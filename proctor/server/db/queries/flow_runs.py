"""Flow runs: idempotent creation, and the filtered, paginated list behind the run table.

Creation is idempotent twice over: by the id the client chose (a retried request finds the row),
and by `idempotency_key` within one flow (two schedulers proposing "the 9:00 run of etl" make one
run). The list filters map onto the indexes declared in `models`, so a page of 50 out of 100,000
runs reads about 50 index entries.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from ..models import Flow, FlowRun
from .flows import read_flow, upsert_flow
from .specs import FlowRunFilter, FlowRunSpec, NotFound, Page, RunSort, StateEvent, new_id
from .states import StateApplier


def create_flow_run(
    session: Session, spec: FlowRunSpec, *, now: float | None = None
) -> tuple[FlowRun, bool]:
    """Create a flow run, or find the one this request already made; `(run, created)`.

    The flow is `spec.flow_id` (raises `NotFound` when missing) or the flow named
    `spec.flow_name` (created when missing). An initial `spec.state` is recorded as the run's
    first state.
    """
    now = time.time() if now is None else now
    if spec.id is not None:
        earlier = session.get(FlowRun, spec.id)
        if earlier is not None:
            return earlier, False
    if spec.flow_id is not None:
        flow = read_flow(session, spec.flow_id)
    else:
        assert spec.flow_name is not None, "a flow run needs flow_id or flow_name"
        flow, _ = upsert_flow(session, spec.flow_name, now=now)
    if spec.idempotency_key is not None:
        earlier = session.scalars(
            select(FlowRun).where(
                FlowRun.flow_id == flow.id, FlowRun.idempotency_key == spec.idempotency_key
            )
        ).first()
        if earlier is not None:
            return earlier, False
    run_id = spec.id or new_id()
    run = FlowRun(
        id=run_id,
        flow_id=flow.id,
        flow_name=flow.name,
        name=spec.name or f"{flow.name}-{run_id[:8]}",
        parameters=dict(spec.parameters),
        tags=list(spec.tags),
        deployment_id=spec.deployment_id,
        idempotency_key=spec.idempotency_key,
        work_queue_name=spec.work_queue_name,
        expected_start_time=spec.expected_start_time,
        auto_scheduled=spec.auto_scheduled,
        cancel_requested=False,
        max_retries=spec.max_retries,
        retry_of=spec.retry_of,
        retry_count=spec.retry_count,
        created_at=now,
        updated_at=now,
    )
    session.add(run)
    session.flush()
    if spec.state is not None:
        applier = StateApplier(
            session, flow_runs={run.id: run}, task_runs={}, known_ids=set(), now=now
        )
        applier.apply(StateEvent(flow_run_id=run.id, state=spec.state))
        applier.flush()
    return run, True


def read_flow_run(session: Session, flow_run_id: str) -> FlowRun:
    """The flow run with this id; raises `NotFound`."""
    run = session.get(FlowRun, flow_run_id)
    if run is None:
        raise NotFound("flow run", flow_run_id)
    return run


def tags_contain(session: Session, column: Any, tags: list[str]) -> ColumnElement[bool]:
    """`column` (a JSON list) holds every one of `tags`: JSONB containment on PostgreSQL, a
    `json_each` lookup per tag on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(column, JSONB).contains(tags)
    clauses = []
    for tag in tags:
        each = func.json_each(column).table_valued("value")
        clauses.append(exists(select(1).select_from(each).where(each.c.value == tag)))
    return and_(*clauses)


def _filter_clauses(session: Session, flt: FlowRunFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if flt.flow_id is not None:
        clauses.append(FlowRun.flow_id == flt.flow_id)
    if flt.flow_name is not None:
        # Through the flow's id, so the (flow_id, created_at) index serves this filter too.
        flow_id = select(Flow.id).where(Flow.name == flt.flow_name).scalar_subquery()
        clauses.append(FlowRun.flow_id == flow_id)
    if flt.deployment_id is not None:
        clauses.append(FlowRun.deployment_id == flt.deployment_id)
    if flt.id_prefix:
        # A range on the primary key (ids are lower-case hex), which both databases index.
        clauses.append(FlowRun.id >= flt.id_prefix)
        clauses.append(FlowRun.id < flt.id_prefix + "g")
    if flt.name is not None:
        clauses.append(FlowRun.name == flt.name)
    if flt.states:
        clauses.append(FlowRun.state_type.in_(sorted({s.value for s in flt.states})))
    if flt.tags:
        clauses.append(tags_contain(session, FlowRun.tags, list(flt.tags)))
    if flt.start_after is not None:
        clauses.append(
            or_(
                FlowRun.start_time >= flt.start_after,
                and_(FlowRun.start_time.is_(None), FlowRun.created_at >= flt.start_after),
            )
        )
    if flt.start_before is not None:
        clauses.append(
            or_(
                FlowRun.start_time <= flt.start_before,
                and_(FlowRun.start_time.is_(None), FlowRun.created_at <= flt.start_before),
            )
        )
    return clauses


_ORDERS = {
    RunSort.CREATED_DESC: (FlowRun.created_at.desc(), FlowRun.id.desc()),
    RunSort.CREATED_ASC: (FlowRun.created_at.asc(), FlowRun.id.asc()),
    RunSort.START_DESC: (
        FlowRun.start_time.desc().nulls_last(),
        FlowRun.created_at.desc(),
        FlowRun.id.desc(),
    ),
}


def list_flow_runs(
    session: Session,
    flt: FlowRunFilter = FlowRunFilter(),
    *,
    sort: RunSort = RunSort.CREATED_DESC,
    page: Page = Page(),
) -> list[FlowRun]:
    """One page of the flow runs that match `flt`, in `sort` order (ties broken by id, so pages
    never overlap)."""
    query = (
        select(FlowRun)
        .where(*_filter_clauses(session, flt))
        .order_by(*_ORDERS[sort])
        .limit(page.limit)
        .offset(page.offset)
    )
    return list(session.scalars(query))


def count_flow_runs(session: Session, flt: FlowRunFilter = FlowRunFilter()) -> int:
    """How many flow runs match `flt`."""
    query = select(func.count()).select_from(FlowRun).where(*_filter_clauses(session, flt))
    return int(session.scalar(query) or 0)
