"""`/api/concurrency_limits`: tag limits (create or change, list, delete) and the slots task
runs take and give back under them (all or nothing)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy.orm import Session

from ...db import queries as q
from .. import convert
from ..control_schemas import (
    ConcurrencyLimitCreate,
    ConcurrencyLimitRead,
    SlotsAcquire,
    SlotsGranted,
    SlotsRelease,
    SlotsReleased,
)
from ..deps import DB, PageQuery, PathName
from ..schemas import Page

router = APIRouter(prefix="/api/concurrency_limits", tags=["concurrency limits"])


@router.post(
    "",
    response_model=ConcurrencyLimitRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ConcurrencyLimitRead, "description": "The limit was changed"}},
)
def put_limit(
    body: ConcurrencyLimitCreate, database: DB, response: Response
) -> ConcurrencyLimitRead:
    """201 for a new tag limit, 200 when the tag had one (now changed). Lowering a limit takes
    no slot back: new ones wait until enough are released."""

    def work(session: Session) -> tuple[ConcurrencyLimitRead, bool]:
        limit, created = q.put_concurrency_limit(session, body.tag, body.limit)
        active = q.active_slots(session, [limit.tag]).get(limit.tag, 0)
        return convert.concurrency_limit_read(limit, active), created

    read, created = database.transact(work)
    if not created:
        response.status_code = status.HTTP_200_OK
    return read


@router.get("", response_model=Page[ConcurrencyLimitRead])
def list_limits(database: DB, page: PageQuery) -> Page[ConcurrencyLimitRead]:
    """Limits by tag, each with the number of slots held now (`active`)."""
    with database.read() as session:
        limits = q.list_concurrency_limits(session, page=page)
        active = q.active_slots(session, [limit.tag for limit in limits])
        items = [convert.concurrency_limit_read(lim, active.get(lim.tag, 0)) for lim in limits]
    return Page[ConcurrencyLimitRead](items=items, limit=page.limit, offset=page.offset)


@router.post("/acquire", response_model=SlotsGranted)
def acquire(body: SlotsAcquire, database: DB) -> SlotsGranted:
    """One slot of every limited tag in `tags` for the task run, or none: `granted` false means
    some limit is full and nothing was taken (ask again later). Tags without a limit need no
    slot. 404 when the task run does not exist."""
    granted = database.transact(
        lambda session: q.acquire_concurrency_slots(session, body.task_run_id, body.tags)
    )
    return SlotsGranted(granted=granted)


@router.post("/release", response_model=SlotsReleased)
def release(body: SlotsRelease, database: DB) -> SlotsReleased:
    """Give back every slot the task run holds; how many (0 when it held none)."""
    released = database.transact(
        lambda session: q.release_concurrency_slots(session, body.task_run_id)
    )
    return SlotsReleased(released=released)


@router.delete("/{tag}", status_code=status.HTTP_204_NO_CONTENT)
def delete_limit(tag: PathName, database: DB) -> Response:
    """Remove the tag's limit (the tag is unlimited from now on; held slots are dropped)."""
    database.transact(lambda session: q.delete_concurrency_limit(session, tag))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
