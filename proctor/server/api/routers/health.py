"""`GET /api/health`: is the server up and can it reach its database (no key needed)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy.exc import SQLAlchemyError

from .... import __version__
from ..deps import DB
from ..schemas import Health

router = APIRouter(tags=["health"])


@router.get("/api/health", response_model=Health)
def health(database: DB) -> Health:
    """Answers 200 when the database answers; 503 when it does not, so a load balancer or
    `proctor server start`'s caller can tell a live server from a dead one."""
    try:
        database.ping()
    except SQLAlchemyError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database unreachable") from exc
    return Health(status="ok", database=database.dialect, version=__version__)
