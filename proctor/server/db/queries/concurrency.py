"""Tag concurrency limits: at most N task runs carrying a tag hold a slot at the same time.

A slot is a row of `concurrency_slots`. Taking slots checks every limit first and then inserts
all the rows, inside the caller's write transaction, so a task run gets all its slots or none;
limits are locked in tag order (PostgreSQL), so two runs asking for overlapping tags queue
instead of deadlocking. Deleting a task run or a limit frees its slots by cascade.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ..models import ConcurrencyLimit, ConcurrencySlot, TaskRun
from .specs import NotFound, Page, new_id


def set_concurrency_limit(
    session: Session, tag: str, slot_limit: int, *, now: float | None = None
) -> ConcurrencyLimit:
    """Create or change the limit of `tag`."""
    return put_concurrency_limit(session, tag, slot_limit, now=now)[0]


def put_concurrency_limit(
    session: Session, tag: str, slot_limit: int, *, now: float | None = None
) -> tuple[ConcurrencyLimit, bool]:
    """Create or change the limit of `tag`; `(limit, created)`. Lowering a limit below the slots
    in use takes none back: new slots wait until enough are released."""
    now = time.time() if now is None else now
    limit = session.scalars(
        select(ConcurrencyLimit).where(ConcurrencyLimit.tag == tag).with_for_update()
    ).first()
    created = limit is None
    if limit is None:
        limit = ConcurrencyLimit(
            id=new_id(), tag=tag, slot_limit=slot_limit, created_at=now, updated_at=now
        )
        session.add(limit)
    else:
        limit.slot_limit = slot_limit
        limit.updated_at = now
    session.flush()
    return limit, created


def active_slots(session: Session, tags: Sequence[str]) -> dict[str, int]:
    """How many slots of each tag are held (tags holding none are left out)."""
    query = (
        select(ConcurrencySlot.tag, func.count())
        .where(ConcurrencySlot.tag.in_(sorted(set(tags))))
        .group_by(ConcurrencySlot.tag)
    )
    return {tag: int(count) for tag, count in session.execute(query)}


def list_concurrency_limits(session: Session, *, page: Page = Page()) -> list[ConcurrencyLimit]:
    """Limits by tag."""
    query = select(ConcurrencyLimit).order_by(ConcurrencyLimit.tag)
    return list(session.scalars(query.limit(page.limit).offset(page.offset)))


def delete_concurrency_limit(session: Session, tag: str) -> None:
    """Remove the limit of `tag` (its held slots go with it: the tag is unlimited from now on);
    raises `NotFound`."""
    result = session.execute(delete(ConcurrencyLimit).where(ConcurrencyLimit.tag == tag))
    if not getattr(result, "rowcount", 0):
        raise NotFound("concurrency limit", tag)


def acquire_concurrency_slots(
    session: Session, task_run_id: str, tags: Sequence[str], *, now: float | None = None
) -> bool:
    """Take one slot of every limited tag in `tags` for the task run, or none at all.

    True when the run now holds them (tags without a limit need no slot; slots it already holds
    count as taken); False when some limit is full. Raises `NotFound` for a missing task run.
    """
    now = time.time() if now is None else now
    if session.get(TaskRun, task_run_id) is None:
        raise NotFound("task run", task_run_id)
    limits = session.scalars(
        select(ConcurrencyLimit)
        .where(ConcurrencyLimit.tag.in_(sorted(set(tags))))
        .order_by(ConcurrencyLimit.tag)
        .with_for_update()
    ).all()
    held = set(
        session.scalars(
            select(ConcurrencySlot.tag).where(ConcurrencySlot.task_run_id == task_run_id)
        )
    )
    wanted = [limit for limit in limits if limit.tag not in held]
    for limit in wanted:
        count = select(func.count()).select_from(ConcurrencySlot)
        in_use = session.scalar(count.where(ConcurrencySlot.tag == limit.tag)) or 0
        if in_use >= limit.slot_limit:
            return False
    rows = [{"tag": limit.tag, "task_run_id": task_run_id, "acquired_at": now} for limit in wanted]
    if rows:
        session.execute(insert(ConcurrencySlot), rows)
    return True


def release_concurrency_slots(session: Session, task_run_id: str) -> int:
    """Give back every slot the task run holds; how many were held."""
    result = session.execute(
        delete(ConcurrencySlot).where(ConcurrencySlot.task_run_id == task_run_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)
