"""Flows: created on first use and found again by name, so clients never have to remember ids."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Flow
from .specs import NotFound, Page, new_id


def upsert_flow(
    session: Session,
    name: str,
    *,
    description: str | None = None,
    tags: Sequence[str] | None = None,
    flow_id: str | None = None,
    now: float | None = None,
) -> tuple[Flow, bool]:
    """The flow called `name`, created when missing; `(flow, created)`.

    An existing flow keeps its id; the description and tags given (not None) replace its own, so
    the latest code's docstring and tags win. A `flow_id` that already exists returns that flow,
    as a retried create would.
    """
    now = time.time() if now is None else now
    if flow_id is not None:
        same_id = session.get(Flow, flow_id)
        if same_id is not None:
            return same_id, False
    # No row lock: every run of a flow passes here, and a lost update of a description is
    # harmless, whereas serializing all run creations of a flow on its row would not be.
    flow = session.scalars(select(Flow).where(Flow.name == name)).first()
    if flow is not None:
        if description is not None and description != flow.description:
            flow.description = description
            flow.updated_at = now
        if tags is not None and list(tags) != flow.tags:
            flow.tags = list(tags)
            flow.updated_at = now
        return flow, False
    flow = Flow(
        id=flow_id or new_id(),
        name=name,
        description=description or "",
        tags=list(tags or ()),
        created_at=now,
        updated_at=now,
    )
    session.add(flow)
    session.flush()
    return flow, True


def read_flow(session: Session, flow_id: str) -> Flow:
    """The flow with this id; raises `NotFound`."""
    flow = session.get(Flow, flow_id)
    if flow is None:
        raise NotFound("flow", flow_id)
    return flow


def list_flows(session: Session, *, name: str | None = None, page: Page = Page()) -> list[Flow]:
    """Flows by name (alphabetical); `name` keeps only the flow of that exact name."""
    query = select(Flow)
    if name is not None:
        query = query.where(Flow.name == name)
    query = query.order_by(Flow.name, Flow.id).limit(page.limit).offset(page.offset)
    return list(session.scalars(query))
