"""`/api/flows`: create-or-find a flow by name, list flows, read one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.orm import Session

from ...db import queries as q
from .. import convert
from ..deps import DB, FlowId, PageQuery
from ..schemas import FlowCreate, FlowRead, Name, Page

router = APIRouter(prefix="/api/flows", tags=["flows"])


@router.post(
    "",
    response_model=FlowRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": FlowRead, "description": "The flow already existed"}},
)
def create_flow(body: FlowCreate, database: DB, response: Response) -> FlowRead:
    """Upsert by name: 201 with a new flow, 200 with the existing one (its description and tags
    replaced by those given)."""

    def work(session: Session) -> tuple[FlowRead, bool]:
        flow, created = q.upsert_flow(
            session,
            body.name,
            description=body.description,
            tags=body.tags,
            flow_id=body.id,
        )
        return convert.flow_read(flow), created

    flow, created = database.transact(work)
    if not created:
        response.status_code = status.HTTP_200_OK
    return flow


@router.get("", response_model=Page[FlowRead])
def list_flows(
    database: DB,
    page: PageQuery,
    name: Annotated[Name | None, Query(description="Only the flow with this exact name")] = None,
) -> Page[FlowRead]:
    """Flows in alphabetical order."""
    with database.read() as session:
        flows = q.list_flows(session, name=name, page=page)
        items = [convert.flow_read(flow) for flow in flows]
    return Page[FlowRead](items=items, limit=page.limit, offset=page.offset)


@router.get("/{flow_id}", response_model=FlowRead)
def read_flow(flow_id: FlowId, database: DB) -> FlowRead:
    with database.read() as session:
        return convert.flow_read(q.read_flow(session, flow_id))
