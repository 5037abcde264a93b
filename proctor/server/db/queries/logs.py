"""Log lines: written in bulk by the batch endpoint, read back page by page, oldest first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import FlowRun, LogRecord
from .specs import LogFilter, LogSpec, NotFound, Page


def log_row(spec: LogSpec) -> dict[str, object]:
    """The row of one log line."""
    return {
        "id": spec.id,
        "flow_run_id": spec.flow_run_id,
        "task_run_id": spec.task_run_id,
        "level": spec.level,
        "logger": spec.logger,
        "message": spec.message,
        "timestamp": spec.timestamp,
    }


def list_logs(session: Session, flt: LogFilter, *, page: Page = Page()) -> list[LogRecord]:
    """One page of a flow run's log lines, oldest first; raises `NotFound` for a missing run.

    `min_level` keeps lines at that level or above; `after` keeps lines stamped strictly later
    (so a viewer can follow new lines); `search` keeps lines whose message contains the text,
    ignoring case.
    """
    if session.get(FlowRun, flt.flow_run_id) is None:
        raise NotFound("flow run", flt.flow_run_id)
    query = select(LogRecord).where(LogRecord.flow_run_id == flt.flow_run_id)
    if flt.min_level is not None:
        query = query.where(LogRecord.level >= flt.min_level)
    if flt.task_run_id is not None:
        query = query.where(LogRecord.task_run_id == flt.task_run_id)
    if flt.after is not None:
        query = query.where(LogRecord.timestamp > flt.after)
    if flt.search:
        query = query.where(LogRecord.message.icontains(flt.search, autoescape=True))
    query = query.order_by(LogRecord.timestamp, LogRecord.id).limit(page.limit).offset(page.offset)
    return list(session.scalars(query))
