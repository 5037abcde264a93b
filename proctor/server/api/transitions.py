"""The one way the single-change routes record a state: shared by flow runs and task runs."""

from __future__ import annotations

from fastapi import HTTPException, Response, status

from ..db import queries as q
from ..db.engine import Database
from . import convert
from .schemas import StateRead


def record_state(database: Database, event: q.StateEvent, response: Response) -> StateRead:
    """Apply `event`: 201 with the new state, 200 with the earlier one for a repeated `id`, or
    409 with the refusing rule's `reason` and `rule`."""
    if event.task_run_id is None:
        outcome = database.transact(lambda session: q.record_flow_run_state(session, event))
    else:
        outcome = database.transact(lambda session: q.set_run_state(session, event))
    if outcome.accepted and outcome.row is not None:
        return convert.state_read(outcome.row)
    if outcome.duplicate and outcome.row is not None:
        response.status_code = status.HTTP_200_OK
        return convert.state_read(outcome.row)
    raise HTTPException(
        status.HTTP_409_CONFLICT, detail={"reason": outcome.reason, "rule": outcome.rule}
    )
