"""`GET /metrics`: Prometheus text, with run counts by state and request timings by route."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from ...db.queries import count_runs_by_state
from .. import metrics
from ..deps import DB

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=PlainTextResponse)
def prometheus_metrics(request: Request, database: DB) -> PlainTextResponse:
    """Counts come from the database at each scrape; timings from this process's memory."""
    with database.read() as session:
        counts = count_runs_by_state(session)
    body = metrics.render(counts, request.app.state.request_metrics)
    return PlainTextResponse(body, media_type=metrics.CONTENT_TYPE)
