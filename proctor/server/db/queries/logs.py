"""Log lines: written in bulk by the batch endpoint, read back page by page.

Two ways to read them:

- `list_logs`: a page in timestamp order, by offset (what a person browsing a finished run
  wants; an offset page may shift while lines are still arriving).
- `follow_logs`: the lines stored after a cursor, in the order they were stored (`seq`), with
  the cursor to ask for next. This is how a follower (`proctor runs logs --follow`, the web UI's
  live tail) keeps up with a run: lines do not arrive in timestamp order (a recorder's batch
  holds lines of several tasks, an outbox delivers old lines late), so "stamped later than the
  last line seen" misses lines, and an offset grows slower to read with every page. "After seq
  N" is one index range read however far the follower has come, and the follower needs to
  remember nothing but N.

Why `seq` can be trusted as a cursor: a follower that has read up to N must never be shown,
later, a line numbered below N. On SQLite the database has one writer at a time, so lines are
numbered in the order they commit. On PostgreSQL numbers are drawn as rows are inserted, and two
transactions may commit in the other order; `order_log_writes` makes the writers of one run's
lines take turns (a transaction-scoped advisory lock per run, taken just before the lines are
inserted, held until commit), so within a run the numbers follow the commits too.

Each read is one short transaction: a page is at most `limit` lines, and a filtered page looks
at no more than `FOLLOW_WINDOW` stored lines, so a follower never holds a read open long
enough to stop SQLite from checkpointing its write-ahead log.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session

from ..models import FlowRun, LogRecord
from .specs import LogFilter, LogSpec, NotFound, Page

#: How many stored lines one filtered follower page looks at, at most, matching or not: the
#: bound on the work of one read when few lines match the filters.
FOLLOW_WINDOW = 5_000
#: First key of PostgreSQL's two-key advisory locks that order writers of a run's log lines
#: ("lg"); the second key is taken from the run's id.
_LOG_LOCK_CLASS = 0x6C67


def log_row(spec: LogSpec) -> dict[str, object]:
    """The row of one log line (its `seq` is given by the database)."""
    return {
        "id": spec.id,
        "flow_run_id": spec.flow_run_id,
        "task_run_id": spec.task_run_id,
        "level": spec.level,
        "logger": spec.logger,
        "message": spec.message,
        "timestamp": spec.timestamp,
    }


def order_log_writes(session: Session, flow_run_ids: set[str]) -> None:
    """PostgreSQL: wait for the other transactions writing lines of these runs to end, and hold
    them off until this one ends, so that each run's lines are numbered in commit order. Taken
    in one order (sorted), so two writers never wait for each other; call it right before the
    lines are inserted, as the last thing the transaction locks. SQLite needs nothing (it
    writes one transaction at a time)."""
    if session.connection().dialect.name != "postgresql":
        return
    statement = text("SELECT pg_advisory_xact_lock(:cls, :key)")
    for run_id in sorted(flow_run_ids):
        # Ids are 32 hex digits: the first 8 make a signed 32-bit key (another run may share
        # it, which only makes the two take turns).
        key = int(run_id[:8], 16) - 2**31
        session.execute(statement, {"cls": _LOG_LOCK_CLASS, "key": key})


def _filters(flt: LogFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if flt.min_level is not None:
        conditions.append(LogRecord.level >= flt.min_level)
    if flt.task_run_id is not None:
        conditions.append(LogRecord.task_run_id == flt.task_run_id)
    if flt.after is not None:
        conditions.append(LogRecord.timestamp > flt.after)
    if flt.search:
        conditions.append(LogRecord.message.icontains(flt.search, autoescape=True))
    return conditions


def _check_run(session: Session, flow_run_id: str) -> None:
    if session.get(FlowRun, flow_run_id) is None:
        raise NotFound("flow run", flow_run_id)


def list_logs(session: Session, flt: LogFilter, *, page: Page = Page()) -> list[LogRecord]:
    """One page of a flow run's log lines, oldest first; raises `NotFound` for a missing run.

    `min_level` keeps lines at that level or above; `after` keeps lines stamped strictly later;
    `search` keeps lines whose message contains the text, ignoring case.
    """
    _check_run(session, flt.flow_run_id)
    query = (
        select(LogRecord)
        .where(LogRecord.flow_run_id == flt.flow_run_id, *_filters(flt))
        .order_by(LogRecord.timestamp, LogRecord.id)
        .limit(page.limit)
        .offset(page.offset)
    )
    return list(session.scalars(query))


@dataclass(frozen=True, slots=True)
class FollowedLines:
    """A follower's page: lines in the order they were stored, and the cursor to ask next."""

    lines: list[LogRecord]
    #: Give this as `after_seq` next time. It is the `seq` of the last line returned, or
    #: further on when the stored lines looked at beyond it matched no filter; it equals the
    #: cursor given when nothing new was stored (the follower is up to date).
    next_after_seq: int


def follow_logs(
    session: Session, flt: LogFilter, *, after_seq: int, limit: int, skip: int = 0
) -> FollowedLines:
    """Up to `limit` lines of the run stored after the line numbered `after_seq` (0: from the
    first), matching `flt`, in `seq` order, the first `skip` of them left out; raises
    `NotFound` for a missing run."""
    _check_run(session, flt.flow_run_id)
    stored_after = (LogRecord.flow_run_id == flt.flow_run_id, LogRecord.seq > after_seq)
    conditions = _filters(flt)
    query = (select(LogRecord).where(*stored_after).order_by(LogRecord.seq)
             .offset(skip).limit(limit))
    if not conditions:
        lines = list(session.scalars(query))
        return FollowedLines(lines, lines[-1].seq if lines else after_seq)
    # Filtered: look at the next FOLLOW_WINDOW stored lines only, and move the cursor past the
    # ones that did not match, so a rare match never costs a scan of the whole run.
    window = (
        select(LogRecord.seq).where(*stored_after).order_by(LogRecord.seq)
        .limit(FOLLOW_WINDOW).subquery()
    )
    window_end = session.scalar(select(func.max(window.c.seq)))
    if window_end is None:
        return FollowedLines([], after_seq)
    lines = list(session.scalars(query.where(LogRecord.seq <= window_end, *conditions)))
    return FollowedLines(lines, lines[-1].seq if len(lines) == limit else int(window_end))
