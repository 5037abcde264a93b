"""`POST /api/events`: the recorder's batch of task runs, state changes and log lines."""

from __future__ import annotations

from fastapi import APIRouter

from ...db import queries as q
from .. import convert
from ..deps import DB
from ..schemas import BatchIn, BatchOut

router = APIRouter(prefix="/api/events", tags=["events"])


@router.post("", response_model=BatchOut)
def record_events(body: BatchIn, database: DB) -> BatchOut:
    """Apply the batch in one transaction: task runs, then state changes in order, then logs.

    Items whose id is already stored count as duplicates; items that cannot apply are listed in
    `rejected` with the reason, and the rest still apply (the answer is 200 either way).
    """
    batch = convert.batch(body)
    result = database.transact(lambda session: q.record_batch(session, batch))
    return convert.batch_out(result)
