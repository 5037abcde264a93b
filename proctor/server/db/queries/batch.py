"""The recorder's batch: task runs, then state changes in order, then log lines, in one go.

Everything runs inside the caller's single transaction with a fixed number of statements per
kind (look up which ids exist, load the runs concerned, one bulk INSERT), however many items the
batch holds. Items whose id is already stored are counted as duplicates and skipped, so a batch
sent twice (a retry after a lost answer) changes nothing the second time. An item that cannot
apply (its run is missing, or the orchestration rules refuse it) is listed with the reason, and
the rest of the batch still applies.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..models import FlowRun, LogRecord, StateRecord, TaskRun
from .logs import log_row
from .specs import Batch, BatchResult, Rejection
from .states import StateApplier, chunks, existing_ids, load_runs
from .task_runs import task_run_row


class _Tally:
    def __init__(self) -> None:
        self.accepted = 0
        self.duplicates = 0
        self.rejected: list[Rejection] = []

    def reject(self, item_id: str, reason: str, rule: str | None = None) -> None:
        self.rejected.append(Rejection(item_id, reason, rule))

    def result(self) -> BatchResult:
        return BatchResult(self.accepted, self.duplicates, tuple(self.rejected))


def record_batch(session: Session, batch: Batch, *, now: float | None = None) -> BatchResult:
    """Apply a recorder's batch; see the module docstring for what is skipped and refused."""
    now = time.time() if now is None else now
    tally = _Tally()
    if batch.task_runs:
        _create_task_runs(session, batch, tally, now)
    if batch.states:
        _apply_states(session, batch, tally, now)
    if batch.logs:
        _write_logs(session, batch, tally)
    return tally.result()


def _create_task_runs(session: Session, batch: Batch, tally: _Tally, now: float) -> None:
    seen = existing_ids(session, TaskRun.id, [spec.id for spec in batch.task_runs if spec.id])
    parents = existing_ids(session, FlowRun.id, [spec.flow_run_id for spec in batch.task_runs])
    rows: list[dict[str, Any]] = []
    for index, spec in enumerate(batch.task_runs):
        # Stamped a microsecond apart: listed "in created order", they keep the batch's order.
        row = task_run_row(spec, now + index * 1e-6)
        if row["id"] in seen:
            tally.duplicates += 1
        elif spec.flow_run_id not in parents:
            tally.reject(str(row["id"]), f"flow run {spec.flow_run_id} does not exist")
        else:
            rows.append(row)
            seen.add(str(row["id"]))
    if rows:
        session.execute(insert(TaskRun.__table__), rows)  # Core: no per-row ORM work
        tally.accepted += len(rows)


def _apply_states(session: Session, batch: Batch, tally: _Tally, now: float) -> None:
    events = batch.states
    flow_runs = load_runs(
        session, FlowRun, [e.flow_run_id for e in events if e.task_run_id is None and e.flow_run_id]
    )
    task_runs = load_runs(session, TaskRun, [e.task_run_id for e in events if e.task_run_id])
    known = existing_ids(session, StateRecord.id, [e.id for e in events if e.id])
    applier = StateApplier(
        session, flow_runs=flow_runs, task_runs=task_runs, known_ids=known, now=now
    )
    for event in events:
        outcome = applier.apply(event)
        if outcome.accepted:
            tally.accepted += 1
        elif outcome.duplicate:
            tally.duplicates += 1
        else:
            tally.reject(event.id or "", outcome.reason, outcome.rule or None)
    applier.flush()


def _task_run_parents(session: Session, ids: list[str]) -> dict[str, str]:
    """Task run id -> its flow run id, for the task runs among `ids` that exist."""
    parents: dict[str, str] = {}
    for part in chunks(sorted(set(ids))):
        query = select(TaskRun.id, TaskRun.flow_run_id).where(TaskRun.id.in_(part))
        parents.update((row.id, row.flow_run_id) for row in session.execute(query))
    return parents


def _write_logs(session: Session, batch: Batch, tally: _Tally) -> None:
    logs = batch.logs
    seen = existing_ids(session, LogRecord.id, [log.id for log in logs])
    flow_runs = existing_ids(session, FlowRun.id, [log.flow_run_id for log in logs])
    task_parents = _task_run_parents(session, [log.task_run_id for log in logs if log.task_run_id])
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
        session.execute(insert(LogRecord.__table__), rows)
        tally.accepted += len(rows)
