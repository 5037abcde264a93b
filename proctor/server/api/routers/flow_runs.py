"""`/api/flow_runs`: create (idempotent), list and count with filters, read, change state, read a
run's state history, task runs and logs; release a claimed run, cancel a run."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session

from .... import settings
from ....core.states import StateType
from ...db import queries as q
from .. import convert
from ..control_schemas import ReleaseRequest, RunHeartbeat, RunHeartbeatAnswer
from ..deps import DB, FlowRunId, LogPageQuery, PageQuery
from ..responses import CONFLICT
from ..schemas import (
    ID_PATTERN,
    MAX_BIGINT,
    Count,
    FlowRunCreate,
    FlowRunRead,
    LogPage,
    Name,
    Page,
    QueryTimestamp,
    StateChange,
    StateRead,
    TaskRunRead,
)
from ..transitions import record_state

router = APIRouter(prefix="/api/flow_runs", tags=["flow runs"])

OptionalId = Annotated[str | None, Query(pattern=ID_PATTERN)]


def flow_run_filter(
    flow_id: OptionalId = None,
    flow_name: Annotated[Name | None, Query()] = None,
    deployment_id: OptionalId = None,
    state: Annotated[
        list[StateType] | None, Query(description="Current state; repeat for any of several")
    ] = None,
    tag: Annotated[
        list[Name] | None, Query(max_length=50, description="A tag; repeat: all must be on the run")
    ] = None,
    start_after: Annotated[
        QueryTimestamp | None,
        Query(allow_inf_nan=False, description="Started at or after (not started: created)"),
    ] = None,
    start_before: Annotated[
        QueryTimestamp | None,
        Query(allow_inf_nan=False, description="Started at or before (not started: created)"),
    ] = None,
    id_prefix: Annotated[str | None, Query(
        pattern=r"^[0-9a-f]{1,32}$", description="The run's id starts with this (hex)")] = None,
    name: Annotated[Name | None, Query(description="The run's name, exactly")] = None,
) -> q.FlowRunFilter:
    return q.FlowRunFilter(
        flow_id=flow_id,
        flow_name=flow_name,
        deployment_id=deployment_id,
        states=tuple(state or ()),
        tags=tuple(tag or ()),
        start_after=start_after,
        start_before=start_before,
        id_prefix=id_prefix,
        name=name,
    )


RunFilter = Annotated[q.FlowRunFilter, Depends(flow_run_filter)]


@router.post(
    "",
    response_model=FlowRunRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": FlowRunRead, "description": "The run existed (same id or key)"}},
)
def create_flow_run(body: FlowRunCreate, database: DB, response: Response) -> FlowRunRead:
    """201 with the new run; 200 with the existing run when `id`, or `idempotency_key` for the
    same flow, is already known. A `flow_name` that names no flow creates the flow."""

    def work(session: Session) -> tuple[FlowRunRead, bool]:
        run, created = q.create_flow_run(session, convert.flow_run_spec(body))
        return convert.flow_run_read(run), created

    run, created = database.transact(work)
    if not created:
        response.status_code = status.HTTP_200_OK
    return run


@router.post("/heartbeat", response_model=RunHeartbeatAnswer)
def heartbeat(body: RunHeartbeat, database: DB) -> RunHeartbeatAnswer:
    """The process running these flow runs is alive (sent every few seconds by every recorder,
    with or without an agent): the reaper ends a run no agent holds once these stop. The answer
    names runs whose cancellation was requested and runs the server ended or does not know."""

    def work(session: Session) -> RunHeartbeatAnswer:
        beat = q.record_run_heartbeats(session, body.flow_run_ids)
        return RunHeartbeatAnswer(cancel=beat.cancel, ended=beat.ended)

    return database.transact(work)


@router.get("", response_model=Page[FlowRunRead])
def list_flow_runs(
    database: DB,
    flt: RunFilter,
    page: PageQuery,
    sort: q.RunSort = q.RunSort.CREATED_DESC,
) -> Page[FlowRunRead]:
    """Newest first by default; every filter given must hold."""
    with database.read() as session:
        runs = q.list_flow_runs(session, flt, sort=sort, page=page)
        items = [convert.flow_run_read(run) for run in runs]
    return Page[FlowRunRead](items=items, limit=page.limit, offset=page.offset)


@router.get("/count", response_model=Count)
def count_flow_runs(
    database: DB,
    flt: RunFilter,
    _page: PageQuery,
    sort: Annotated[q.RunSort | None, Query(
        description="Accepted and ignored, so that a list's query can be counted as it is")] = None,
) -> Count:
    """How many runs the same filters as the list match. The list's `sort`, `limit` and
    `offset` are accepted and ignored, so a list's query can be counted as it is; any other
    parameter is refused."""
    with database.read() as session:
        return Count(count=q.count_flow_runs(session, flt))


@router.get("/{flow_run_id}", response_model=FlowRunRead)
def read_flow_run(flow_run_id: FlowRunId, database: DB) -> FlowRunRead:
    with database.read() as session:
        return convert.flow_run_read(q.read_flow_run(session, flow_run_id))


@router.post(
    "/{flow_run_id}/state",
    response_model=StateRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": StateRead, "description": "A state with this id was already recorded"},
        **CONFLICT,
    },
)
def set_flow_run_state(
    flow_run_id: FlowRunId, body: StateChange, database: DB, response: Response
) -> StateRead:
    """Move the run to a new state through the orchestration rules (409 when one refuses,
    unless `force`, which is recorded on the state)."""
    event = q.StateEvent(
        flow_run_id=flow_run_id,
        state=convert.state_spec(body.state),
        force=body.force,
        id=body.id,
    )
    return record_state(database, event, response)


def live_window(request: Request) -> float:
    """How recent a heartbeat must be for its agent or process to count as alive when a run is
    cancelled: a few missed heartbeats, never more than the agent timeout."""
    timeout = float(request.app.state.agent_timeout)
    return min(timeout, 3 * settings.heartbeat_interval())


@router.post("/{flow_run_id}/release", response_model=FlowRunRead, responses=CONFLICT)
def release_flow_run(flow_run_id: FlowRunId, body: ReleaseRequest, database: DB) -> FlowRunRead:
    """An agent gives back a run it claimed but did not start (it is shutting down): the run is
    SCHEDULED again for another agent, or CANCELLED if that was requested meanwhile. 409 when
    another agent holds it or it already left PENDING."""

    def work(session: Session) -> FlowRunRead:
        return convert.flow_run_read(q.release_run(session, flow_run_id, body.agent_id))

    return database.transact(work)


@router.post("/{flow_run_id}/cancel", response_model=FlowRunRead, responses=CONFLICT)
def cancel_flow_run(flow_run_id: FlowRunId, database: DB, request: Request) -> FlowRunRead:
    """A run that no live agent or process owns (not started, or its agent's / its own
    heartbeats stopped) becomes CANCELLED at once, with its task runs. A run that is being run
    gets `cancel_requested`: its agent (or its own process) learns it from its next heartbeat,
    stops the run and reports CANCELLED. 409 for a run that already finished otherwise."""
    live_within = live_window(request)

    def work(session: Session) -> FlowRunRead:
        return convert.flow_run_read(q.cancel_run(session, flow_run_id, live_within=live_within))

    return database.transact(work)


@router.get("/{flow_run_id}/states", response_model=list[StateRead])
def read_flow_run_states(flow_run_id: FlowRunId, database: DB) -> list[StateRead]:
    """The run's own states (not its task runs'), oldest first."""
    with database.read() as session:
        rows = q.read_states(session, flow_run_id=flow_run_id)
        return [convert.state_read(q.state_row_of(row)) for row in rows]


@router.get("/{flow_run_id}/task_runs", response_model=Page[TaskRunRead])
def list_task_runs(flow_run_id: FlowRunId, database: DB, page: PageQuery) -> Page[TaskRunRead]:
    """The run's task runs in the order they were created."""
    with database.read() as session:
        runs = q.list_task_runs(session, flow_run_id, page=page)
        items = [convert.task_run_read(run) for run in runs]
    return Page[TaskRunRead](items=items, limit=page.limit, offset=page.offset)


_LEVEL_NAMES = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50}


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" for c in word)


#: What `level` may be, as the schema states it (JSON Schema has no case-insensitive flag):
#: up to 9 digits (so always below 2**31) or a level name in any case.
_LEVEL_FORM = "[0-9]{1,9}|" + "|".join(_any_case(name) for name in _LEVEL_NAMES)
LEVEL_PATTERN = f"^({_LEVEL_FORM})$"


def parse_level(value: str | None) -> int | None:
    """A minimum log level given as a number ("20") or a name ("info", "WARNING")."""
    if value is None:
        return None
    if re.fullmatch(_LEVEL_FORM, value, flags=re.ASCII) is None:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "level"),
                    "msg": "level must be a number (up to 9 digits) or one of "
                    + ", ".join(sorted(_LEVEL_NAMES)) + f", not {value[:20]!r}",
                    "type": "value_error",
                }
            ]
        )
    return int(value) if value.isdigit() else _LEVEL_NAMES[value.upper()]


@router.get("/{flow_run_id}/logs", response_model=LogPage)
def list_logs(
    flow_run_id: FlowRunId,
    database: DB,
    page: LogPageQuery,
    level: Annotated[
        str | None,
        Query(max_length=16, description="Minimum level: a number or a name (any case)",
              json_schema_extra={"pattern": LEVEL_PATTERN}),
    ] = None,
    task_run_id: OptionalId = None,
    after: Annotated[
        QueryTimestamp | None, Query(allow_inf_nan=False, description="Only lines stamped later")
    ] = None,
    search: Annotated[
        Name | None, Query(description="Only lines whose message holds this (any case)")
    ] = None,
    after_seq: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_BIGINT,
            description="Follow the run: only lines stored after the line of this seq (0: from "
            "the first), in the order they were stored; ask again with the answer's "
            "next_after_seq (offset then skips lines after the cursor).",
        ),
    ] = None,
) -> LogPage:
    """The run's log lines: oldest first by timestamp, page by page with `offset`; or, with
    `after_seq`, in the order they were stored, from a cursor that misses no line whatever
    the lines' timestamps (lines do not arrive in timestamp order)."""
    flt = q.LogFilter(
        flow_run_id=flow_run_id,
        min_level=parse_level(level),
        task_run_id=task_run_id,
        after=after,
        search=search,
    )
    with database.read() as session:
        if after_seq is None:
            records, next_after_seq = q.list_logs(session, flt, page=page), None
        else:
            followed = q.follow_logs(session, flt, after_seq=after_seq, limit=page.limit,
                                     skip=page.offset)
            records, next_after_seq = followed.lines, followed.next_after_seq
        items = [convert.log_read(record) for record in records]
    return LogPage(items=items, limit=page.limit, offset=page.offset,
                   next_after_seq=next_after_seq)
