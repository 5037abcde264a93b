"""The recorder's batch: task runs, then state changes in order, then log lines, in one go.

Everything runs inside the caller's single transaction with a fixed number of statements per
kind, however many items the batch holds, and without ORM objects: which ids exist, the few
columns of the runs concerned (one SELECT), then one bulk write per table (`COPY` on
PostgreSQL, an `executemany` of plain tuples on SQLite) and one executemany UPDATE per kind of
run. The states are applied in memory first (`BatchStateApplier`), so a task run created by the
batch is inserted with the columns of its last state already in place, and a run created
earlier gets one UPDATE however many of its states the batch carries.

Items whose id is already stored are counted as duplicates and skipped, so a batch sent twice (a
retry after a lost answer) changes nothing the second time. An item that cannot apply (its run
is missing, or the orchestration rules refuse it) is listed with the reason, and the rest of the
batch still applies. A flow run the batch ends is followed up in the same transaction
(`lifecycle`: its open task runs close, its slots free, a crash retries).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import FlowRun, LogRecord, StateRecord, TaskRun
from .bulk import FLOW_RUN_UPDATE, TASK_RUN_UPDATE, bulk_insert, update_runs
from .lifecycle import follow_up
from .logs import log_row, order_log_writes
from .specs import Batch, BatchResult, Rejection
from .states import (
    FLOW_RUN_FIELDS,
    MIRROR_COLUMNS,
    TASK_RUN_FIELDS,
    BatchStateApplier,
    chunks,
    existing_ids,
    load_run_values,
)
from .task_runs import task_run_row

#: The mirrored columns of a task run that has no state yet (every new row carries them, so that
#: one INSERT takes rows with and without a state).
_NO_STATE = dict.fromkeys(MIRROR_COLUMNS)
_FLOW_RUN_UPDATE = FLOW_RUN_UPDATE
_TASK_RUN_UPDATE = TASK_RUN_UPDATE


class _Tally:
    def __init__(self) -> None:
        self.accepted = 0
        self.duplicates = 0
        self.rejected: list[Rejection] = []

    def reject(self, item_id: str, reason: str, rule: str | None = None) -> None:
        self.rejected.append(Rejection(item_id, reason, rule))

    def result(self) -> BatchResult:
        return BatchResult(self.accepted, self.duplicates, tuple(self.rejected))


def record_batch(
    session: Session, batch: Batch, *, now: float | None = None, optimistic: bool = False
) -> BatchResult:
    """Apply a recorder's batch; see the module docstring for what is skipped and refused.

    `optimistic`: do not look up the ids of state events of task runs this batch creates. Such
    an id can only be stored already if a client reused it for another run; the states'
    primary key then refuses the batch (`IntegrityError`), and the caller must apply it again
    without `optimistic`, which counts that event as a duplicate as usual.
    """
    now = time.time() if now is None else now
    tally = _Tally()
    session.flush()  # nothing the caller added to this session may wait behind our statements
    created = _new_task_runs(session, batch, tally, now) if batch.task_runs else {}
    applier = (
        _apply_states(session, batch, created, tally, now, optimistic) if batch.states else None
    )
    if created:
        bulk_insert(session, TaskRun.__table__, list(created.values()))
    if applier is not None:
        _write_states(session, applier, created)
        if applier.finished:
            follow_up(session, applier.finished, now=now)
    if batch.logs:
        _write_logs(session, batch, created, tally)
    return tally.result()


def _new_task_runs(
    session: Session, batch: Batch, tally: _Tally, now: float
) -> dict[str, dict[str, Any]]:
    """The rows of the task runs to create, by id (inserted once their states are applied)."""
    seen = existing_ids(session, TaskRun.id, [spec.id for spec in batch.task_runs if spec.id])
    parents = existing_ids(session, FlowRun.id, [spec.flow_run_id for spec in batch.task_runs])
    rows: dict[str, dict[str, Any]] = {}
    for index, spec in enumerate(batch.task_runs):
        # Stamped a microsecond apart: listed "in created order", they keep the batch's order.
        row = task_run_row(spec, now + index * 1e-6)
        run_id = str(row["id"])
        if run_id in seen:
            tally.duplicates += 1
        elif spec.flow_run_id not in parents:
            tally.reject(run_id, f"flow run {spec.flow_run_id} does not exist")
        else:
            row.update(_NO_STATE)
            rows[run_id] = row
            seen.add(run_id)
    tally.accepted += len(rows)
    return rows


def _apply_states(
    session: Session,
    batch: Batch,
    created: dict[str, dict[str, Any]],
    tally: _Tally,
    now: float,
    optimistic: bool,
) -> BatchStateApplier:
    events = batch.states
    flow_runs = load_run_values(
        session,
        FlowRun.__table__,
        [e.flow_run_id for e in events if e.task_run_id is None and e.flow_run_id],
        FLOW_RUN_FIELDS,
    )
    task_runs = load_run_values(
        session,
        TaskRun.__table__,
        {e.task_run_id for e in events if e.task_run_id} - created.keys(),
        TASK_RUN_FIELDS,
    )
    task_runs.update(created)
    known = existing_ids(
        session,
        StateRecord.id,
        [e.id for e in events if e.id and not (optimistic and e.task_run_id in created)],
    )
    # The batch is the recorder's: the runs' own processes report (see `late-report-corrects-
    # crash` in `core.orchestration`).
    applier = BatchStateApplier(
        flow_runs=flow_runs, task_runs=task_runs, known_ids=known, now=now, own_report=True
    )
    apply = applier.apply
    for event in events:
        outcome = apply(event)
        if outcome is None:
            continue
        if outcome.duplicate:
            tally.duplicates += 1
        else:
            tally.reject(event.id or "", outcome.reason, outcome.rule or None)
    tally.accepted += len(applier.rows)
    return applier


def _write_states(
    session: Session, applier: BatchStateApplier, created: dict[str, dict[str, Any]]
) -> None:
    """Insert the history rows, then write the new current state of the runs that existed
    before this batch (those created by it were inserted with theirs)."""
    if applier.rows:
        bulk_insert(session, StateRecord.__table__, applier.rows)
    update_runs(session, FlowRun.__table__, _FLOW_RUN_UPDATE, applier.changed_flow_runs, {})
    update_runs(session, TaskRun.__table__, _TASK_RUN_UPDATE, applier.changed_task_runs, created)


def _task_run_parents(
    session: Session, ids: list[str], created: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """Task run id -> its flow run id, for the task runs among `ids` that exist (or were just
    created by this batch)."""
    parents: dict[str, str] = {}
    wanted = set()
    for task_run_id in ids:
        row = created.get(task_run_id)
        if row is not None:
            parents[task_run_id] = row["flow_run_id"]
        else:
            wanted.add(task_run_id)
    for part in chunks(sorted(wanted)):
        query = select(TaskRun.id, TaskRun.flow_run_id).where(TaskRun.id.in_(part))
        parents.update((row.id, row.flow_run_id) for row in session.execute(query))
    return parents


def _write_logs(
    session: Session, batch: Batch, created: dict[str, dict[str, Any]], tally: _Tally
) -> None:
    logs = batch.logs
    seen = existing_ids(session, LogRecord.id, [log.id for log in logs])
    flow_runs = existing_ids(session, FlowRun.id, [log.flow_run_id for log in logs])
    task_parents = _task_run_parents(
        session, [log.task_run_id for log in logs if log.task_run_id], created
    )
    rows: list[dict[str, Any]] = []
    for log in logs:
        if log.id in seen:
            tally.duplicates += 1
        elif log.flow_run_id not in flow_runs:
            tally.reject(log.id, f"flow run {log.flow_run_id} does not exist")
        elif log.task_run_id is not None and log.task_run_id not in task_parents:
            tally.reject(log.id, f"task run {log.task_run_id} does not exist")
        elif log.task_run_id is not None and task_parents[log.task_run_id] != log.flow_run_id:
            tally.reject(
                log.id,
                f"task run {log.task_run_id} belongs to flow run "
                f"{task_parents[log.task_run_id]}, not {log.flow_run_id}",
            )
        else:
            rows.append(log_row(log))
            seen.add(log.id)
    if rows:
        # Lines are numbered (`seq`) as they go in; followers page by that number, so on
        # PostgreSQL the writers of one run's lines take turns (see `logs`).
        order_log_writes(session, {str(row["flow_run_id"]) for row in rows})
        bulk_insert(session, LogRecord.__table__, rows)
        tally.accepted += len(rows)
