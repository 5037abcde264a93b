"""State changes: check each against the orchestration rules, record it, mirror it on the run.

One `StateApplier` serves both the single-change routes and the batch endpoint: it is handed the
runs (already loaded, and on PostgreSQL locked with `FOR UPDATE`), applies events in order while
keeping each run's current state in memory, and hands back the history rows to insert in one go.
So a batch of 5,000 state changes costs a few bulk statements, not 5,000 round trips, and the
single route follows exactly the same rules.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ....core.orchestration import check_transition
from ....core.states import DEFAULT_NAMES, FINISHED_TYPES, StateType
from ..models import FlowRun, StateRecord, TaskRun
from .specs import NotFound, StateEvent, StateSpec, new_id

#: Rows per `IN (...)` list, well below every database's limit on bound parameters.
CHUNK = 1000

Run = FlowRun | TaskRun


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one state event.

    `row` is the recorded state (accepted, or the earlier one for a duplicate); `reason` and
    `rule` say why a refused event was refused.
    """

    accepted: bool
    row: dict[str, Any] | None = None
    duplicate: bool = False
    reason: str = ""
    rule: str = ""


def chunks(values: Sequence[str], size: int = CHUNK) -> Iterable[Sequence[str]]:
    """`values` in slices of at most `size` (for IN lists)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def load_runs(session: Session, model: type[Run], ids: Iterable[str]) -> dict[str, Any]:
    """The runs with these ids, by id, locked for update (PostgreSQL; SQLite's write
    transaction already holds the database). Locked in id order so that two batches touching
    the same runs cannot deadlock."""
    wanted = sorted(set(ids))
    found: dict[str, Any] = {}
    for part in chunks(wanted):
        query = select(model).where(model.id.in_(part)).order_by(model.id).with_for_update()
        found.update((run.id, run) for run in session.scalars(query))
    return found


def existing_ids(session: Session, column: Any, ids: Iterable[str]) -> set[str]:
    """Which of `ids` are already present in `column`."""
    wanted = sorted(set(ids))
    present: set[str] = set()
    for part in chunks(wanted):
        present.update(session.scalars(select(column).where(column.in_(part))))
    return present


def state_row_of(record: StateRecord) -> dict[str, Any]:
    """A stored history row as the dict the applier and the API use."""
    return {column: getattr(record, column) for column in _STATE_COLUMNS}


_STATE_COLUMNS = (
    "id",
    "flow_run_id",
    "task_run_id",
    "type",
    "name",
    "message",
    "timestamp",
    "started_at",
    "ended_at",
    "forced",
    "created_at",
)


def current_state_row(run: Run) -> dict[str, Any] | None:
    """A run's current state as a history row, built from the run's own columns (no join)."""
    if run.state_id is None:
        return None
    if isinstance(run, TaskRun):
        flow_run_id, task_run_id = run.flow_run_id, run.id
    else:
        flow_run_id, task_run_id = run.id, None
    return {
        "id": run.state_id,
        "flow_run_id": flow_run_id,
        "task_run_id": task_run_id,
        "type": run.state_type,
        "name": run.state_name,
        "message": run.state_message,
        "timestamp": run.state_timestamp,
        "started_at": run.state_started_at,
        "ended_at": run.state_ended_at,
        "forced": bool(run.state_forced),
    }


def mirror_state(run: Run, row: dict[str, Any], now: float) -> None:
    """Copy a newly recorded state onto its run, and derive the run's start and end times.

    A run starts when it first enters RUNNING (or when a state says when it started); it ends
    when it enters a finished state. Entering RUNNING again (a retry, or a forced restart) clears
    the end time; each entry into RUNNING counts as one attempt of a task run.
    """
    state_type = StateType(row["type"])
    run.state_id = row["id"]
    run.state_type = row["type"]
    run.state_name = row["name"]
    run.state_message = row["message"]
    run.state_timestamp = row["timestamp"]
    run.state_started_at = row["started_at"]
    run.state_ended_at = row["ended_at"]
    run.state_forced = row["forced"]
    if run.start_time is None and row["started_at"] is not None:
        run.start_time = row["started_at"]
    if state_type is StateType.RUNNING:
        if run.start_time is None:
            run.start_time = row["timestamp"]
        run.end_time = None
        if isinstance(run, TaskRun):
            run.attempts = (run.attempts or 0) + 1
    elif state_type in FINISHED_TYPES:
        run.end_time = row["ended_at"] if row["ended_at"] is not None else row["timestamp"]
    elif row["ended_at"] is not None:
        run.end_time = row["ended_at"]
    run.updated_at = now


def _current_type(run: Run) -> StateType | None:
    return StateType(run.state_type) if run.state_type else None


class StateApplier:
    """Applies state events, in order, to runs it was given; collects the rows to insert.

    `flow_runs` and `task_runs` map ids to loaded ORM runs; `known_ids` holds the state ids that
    already exist (events with one of them are duplicates). Call `flush()` once at the end.
    """

    def __init__(
        self,
        session: Session,
        *,
        flow_runs: dict[str, FlowRun],
        task_runs: dict[str, TaskRun],
        known_ids: set[str],
        now: float | None = None,
    ) -> None:
        self._session = session
        self._flow_runs = flow_runs
        self._task_runs = task_runs
        self._known_ids = known_ids
        self._now = time.time() if now is None else now
        self._rows: list[dict[str, Any]] = []

    def apply(self, event: StateEvent) -> Outcome:
        """Check one event against the rules and, when accepted, record it."""
        if event.id is not None and event.id in self._known_ids:
            return Outcome(accepted=False, duplicate=True)
        run: Run | None
        if event.task_run_id is not None:
            run = self._task_runs.get(event.task_run_id)
            if run is None:
                return Outcome(False, reason=f"task run {event.task_run_id} does not exist")
            if event.flow_run_id is not None and event.flow_run_id != run.flow_run_id:
                return Outcome(
                    False,
                    reason=f"task run {run.id} belongs to flow run {run.flow_run_id}, "
                    f"not {event.flow_run_id}",
                )
            flow_run_id = run.flow_run_id
        else:
            run = self._flow_runs.get(event.flow_run_id or "")
            if run is None:
                return Outcome(False, reason=f"flow run {event.flow_run_id} does not exist")
            flow_run_id = run.id
        verdict = check_transition(_current_type(run), event.state.type)
        if not verdict.accepted and not event.force:
            return Outcome(False, reason=verdict.reason, rule=verdict.rule)
        # `forced` marks a state that exists only because an operator overrode a refusal; a
        # `force` on a transition the rules allow anyway overrides nothing.
        row = self._row(event, flow_run_id, forced=not verdict.accepted)
        mirror_state(run, row, self._now)
        self._rows.append(row)
        self._known_ids.add(row["id"])
        return Outcome(True, row=row)

    def _row(self, event: StateEvent, flow_run_id: str, *, forced: bool) -> dict[str, Any]:
        spec: StateSpec = event.state
        # Each row is stamped a little later than the one before, so that history read back in
        # (timestamp, created_at) order keeps the order of the batch even for equal timestamps.
        created_at = self._now + len(self._rows) * 1e-6
        return {
            "id": event.id or new_id(),
            "flow_run_id": flow_run_id,
            "task_run_id": event.task_run_id,
            "type": spec.type.value,
            "name": spec.name or DEFAULT_NAMES[spec.type],
            "message": spec.message,
            "timestamp": self._now if spec.timestamp is None else spec.timestamp,
            "started_at": spec.started_at,
            "ended_at": spec.ended_at,
            "forced": forced,
            "created_at": created_at,
        }

    def flush(self) -> int:
        """Insert the recorded rows (one bulk INSERT) and write the runs' new current state."""
        self._session.flush()  # runs created earlier in this transaction exist before their states
        if self._rows:
            self._session.execute(insert(StateRecord.__table__), self._rows)
        written = len(self._rows)
        self._rows = []
        return written


def set_run_state(
    session: Session,
    event: StateEvent,
    *,
    now: float | None = None,
) -> Outcome:
    """Record one state change of a flow run or task run (the single-change routes).

    Raises `NotFound` for a missing run. A refused change comes back with `accepted` False and
    the rule's reason; an event whose `id` was already recorded comes back as a duplicate with
    the earlier row.
    """
    flow_runs: dict[str, FlowRun] = {}
    task_runs: dict[str, TaskRun] = {}
    if event.task_run_id is not None:
        task_runs = load_runs(session, TaskRun, [event.task_run_id])
        if not task_runs:
            raise NotFound("task run", event.task_run_id)
    else:
        assert event.flow_run_id is not None
        flow_runs = load_runs(session, FlowRun, [event.flow_run_id])
        if not flow_runs:
            raise NotFound("flow run", event.flow_run_id)
    if event.id is not None:
        earlier = session.get(StateRecord, event.id)
        if earlier is not None:
            return Outcome(False, row=state_row_of(earlier), duplicate=True)
    applier = StateApplier(
        session, flow_runs=flow_runs, task_runs=task_runs, known_ids=set(), now=now
    )
    outcome = applier.apply(event)
    applier.flush()
    return outcome


def read_states(
    session: Session, *, flow_run_id: str | None = None, task_run_id: str | None = None
) -> list[StateRecord]:
    """The history of a flow run (its own states, not its task runs') or of a task run,
    oldest first. Raises `NotFound` for a missing run."""
    if task_run_id is not None:
        if session.get(TaskRun, task_run_id) is None:
            raise NotFound("task run", task_run_id)
        where = StateRecord.task_run_id == task_run_id
    else:
        assert flow_run_id is not None
        if session.get(FlowRun, flow_run_id) is None:
            raise NotFound("flow run", flow_run_id)
        where = (StateRecord.flow_run_id == flow_run_id) & StateRecord.task_run_id.is_(None)
    query = (
        select(StateRecord)
        .where(where)
        .order_by(StateRecord.timestamp, StateRecord.created_at, StateRecord.id)
    )
    return list(session.scalars(query))
