"""State changes: check each against the orchestration rules, record it, mirror it on the run.

Two appliers follow the same rules. `StateApplier` works on ORM runs and serves the single-change
routes (and the initial state of a created run). `BatchStateApplier` serves the batch endpoint:
it works on plain dicts of the few columns the rules need, so a batch of thousands of changes
costs a few statements (one SELECT of the runs concerned, one bulk write of the history, one
executemany UPDATE of the runs' mirrored columns) and no per-row ORM work. Both keep each
run's current state in memory while applying events in order, so only the last state of a run
reaches its columns, and both derive start time, end time and attempts the same way
(`mirror_values`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, Table, any_, bindparam, insert, select, text
from sqlalchemy import column as sql_column
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ....core.orchestration import Verdict, check_transition, is_late_correction
from ....core.states import DEFAULT_NAMES, FINISHED_TYPES, StateType
from ..models import FlowRun, StateRecord, TaskRun
from .specs import NotFound, StateEvent, new_id

#: Rows per `IN (...)` list, well below every database's limit on bound parameters.
CHUNK = 1000

Run = FlowRun | TaskRun

#: The run columns that mirror its current state (plus `updated_at`, and `attempts` of a task
#: run), in the order `mirror_values` fills them.
MIRROR_COLUMNS = (
    "state_id",
    "state_type",
    "state_name",
    "state_message",
    "state_timestamp",
    "state_started_at",
    "state_ended_at",
    "state_forced",
    "start_time",
    "end_time",
)

_RUNNING = StateType.RUNNING.value
_FINISHED = frozenset(state_type.value for state_type in FINISHED_TYPES)
_TYPES = {state_type.value: state_type for state_type in StateType}
_NAMES = {state_type.value: name for state_type, name in DEFAULT_NAMES.items()}


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
    #: Set when the accepted state ended a flow run (a `Finish`, for `lifecycle`).
    finish: Any = None


_DUPLICATE = Outcome(accepted=False, duplicate=True)


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


def _one_parameter(session: Session) -> bool:
    """Can this database take a list of ids as one parameter (see `_id_in`)?"""
    return session.get_bind().dialect.name in ("postgresql", "sqlite")


def _id_in(session: Session, column: Any, ids: Sequence[str]) -> Any:
    """`column IN ids`, with the ids sent as one parameter rather than one parameter per id
    (quicker to compile, send and plan, and one statement however many ids): an array on
    PostgreSQL (`= ANY(:ids)`), a JSON list on SQLite (`IN (SELECT value FROM
    json_each(:ids))`). Elsewhere a plain IN list, `CHUNK` ids at a time."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return column == any_(bindparam("ids", list(ids), type_=ARRAY(String)))
    if dialect == "sqlite":
        each = text("SELECT value FROM json_each(:ids)").bindparams(ids=json.dumps(list(ids)))
        return column.in_(each.columns(sql_column("value", String)))
    return column.in_(ids)


def _parts(session: Session, ids: Iterable[str]) -> Iterable[Sequence[str]]:
    """The distinct `ids`, sorted, in as few lists as `_id_in` can take."""
    wanted = sorted(set(ids))
    if _one_parameter(session):
        return [wanted] if wanted else []
    return chunks(wanted)


def load_run_values(
    session: Session, table: Table, ids: Iterable[str], columns: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """`load_runs` without the ORM: the given columns (and `id`) of the runs with these ids, as
    dicts by id, locked for update in id order likewise."""
    selected = [table.c.id, *(table.c[name] for name in columns)]
    found: dict[str, dict[str, Any]] = {}
    for part in _parts(session, ids):
        query = select(*selected).where(_id_in(session, table.c.id, part)).order_by(table.c.id)
        for row in session.execute(query.with_for_update()):
            found[row[0]] = row._asdict()
    return found


def existing_ids(session: Session, column: Any, ids: Iterable[str]) -> set[str]:
    """Which of `ids` are already present in `column`."""
    present: set[str] = set()
    for part in _parts(session, ids):
        present.update(session.scalars(select(column).where(_id_in(session, column, part))))
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


def mirror_values(
    values: dict[str, Any], row: dict[str, Any], now: float, *, task_run: bool
) -> None:
    """Copy a newly recorded state into `values`, a run's columns as a dict, and derive the
    run's start and end times (and a task run's attempts) from what `values` held before.

    A run starts when it first enters RUNNING (or when a state says when it started); it ends
    when it enters a finished state. Entering RUNNING again (a retry, or a forced restart) clears
    the end time; each entry into RUNNING counts as one attempt of a task run. `values` must hold
    `start_time` and `end_time` (and `attempts` for a task run); every key of `MIRROR_COLUMNS`
    and `updated_at` are set.
    """
    state_type = row["type"]
    started_at = row["started_at"]
    ended_at = row["ended_at"]
    values["state_id"] = row["id"]
    values["state_type"] = state_type
    values["state_name"] = row["name"]
    values["state_message"] = row["message"]
    values["state_timestamp"] = row["timestamp"]
    values["state_started_at"] = started_at
    values["state_ended_at"] = ended_at
    values["state_forced"] = row["forced"]
    if values["start_time"] is None and started_at is not None:
        values["start_time"] = started_at
    if state_type == _RUNNING:
        if values["start_time"] is None:
            values["start_time"] = row["timestamp"]
        values["end_time"] = None
        if task_run:
            values["attempts"] = (values["attempts"] or 0) + 1
    elif state_type in _FINISHED:
        values["end_time"] = ended_at if ended_at is not None else row["timestamp"]
    elif ended_at is not None:
        values["end_time"] = ended_at
    values["updated_at"] = now


def mirror_state(run: Run, row: dict[str, Any], now: float) -> None:
    """Copy a newly recorded state onto its ORM run (see `mirror_values`)."""
    task_run = isinstance(run, TaskRun)
    values: dict[str, Any] = {"start_time": run.start_time, "end_time": run.end_time}
    if task_run:
        values["attempts"] = run.attempts
    mirror_values(values, row, now, task_run=task_run)
    for column, value in values.items():
        setattr(run, column, value)


_VERDICTS: dict[tuple[str | None, StateType, bool, bool], Verdict] = {}


def _verdict(
    current: str | None, proposed: StateType, own_report: bool, current_forced: bool
) -> Verdict:
    """`check_transition` for a current type as stored (a string, or None), remembered: the
    rules are pure, and there are only so many combinations."""
    key = (current, proposed, own_report, current_forced)
    verdict = _VERDICTS.get(key)
    if verdict is None:
        verdict = check_transition(_TYPES[current] if current else None, proposed,
                                   own_report=own_report, current_forced=current_forced)
        _VERDICTS[key] = verdict
    return verdict


def _judge(
    event: StateEvent, current: str | None, *, own_report: bool = False,
    current_forced: bool = False,
) -> Outcome | bool:
    """The refusal of `event` by the rules, or whether recording it is forced (an operator's
    `force` that overrides a refusal; a `force` on an allowed transition overrides nothing)."""
    verdict = _verdict(current, event.state.type, own_report, bool(current_forced))
    if verdict.accepted:
        return False
    if not event.force:
        return Outcome(False, reason=verdict.reason, rule=verdict.rule)
    return True


@dataclass(frozen=True, slots=True)
class Finish:
    """A flow run that reached a final state in this transaction (what `lifecycle` follows up).

    `previous` is the type it left; `corrected` is set when the run's own late report replaced
    a CRASHED the server had inferred; `forced` when an operator forced the final state."""

    flow_run_id: str
    previous: str | None
    state_type: str
    forced: bool
    corrected: bool


#: Added to the message of a state that corrects an inferred CRASHED, so the history says so.
CORRECTION_NOTE = "reported late by the run's own process; it corrects the Crashed state inferred"


def _finish(run_id: str, previous: str | None, row: dict[str, Any],
            corrected: bool) -> Finish | None:
    """The `Finish` of a flow run whose newly recorded state `row` ends it, else None."""
    if row["type"] not in _FINISHED or (previous in _FINISHED and not corrected):
        return None
    return Finish(run_id, previous, row["type"], bool(row["forced"]), corrected)


def _corrects(event: StateEvent, current: str | None, current_forced: Any,
              own_report: bool) -> bool:
    if not own_report or current is None:
        return False
    return is_late_correction(_TYPES[current], event.state.type, own_report=True,
                              current_forced=bool(current_forced))


def _noted(row: dict[str, Any]) -> None:
    """Say in a correcting state's message what it corrects."""
    note = CORRECTION_NOTE
    row["message"] = f"{row['message']} ({note})" if row["message"] else note


def state_row(
    event: StateEvent, flow_run_id: str, *, forced: bool, now: float, index: int
) -> dict[str, Any]:
    """The history row of an accepted event, the `index`-th recorded in its transaction.

    Each row is stamped a little later than the one before, so that history read back in
    (timestamp, created_at) order keeps the order of the batch even for equal timestamps.
    """
    spec = event.state
    state_type = spec.type.value
    return {
        "id": event.id or new_id(),
        "flow_run_id": flow_run_id,
        "task_run_id": event.task_run_id,
        "type": state_type,
        "name": spec.name or _NAMES[state_type],
        "message": spec.message,
        "timestamp": now if spec.timestamp is None else spec.timestamp,
        "started_at": spec.started_at,
        "ended_at": spec.ended_at,
        "forced": forced,
        "created_at": now + index * 1e-6,
    }


def _foreign(task_run_id: str, owner: str, claimed: str) -> Outcome:
    return Outcome(
        False, reason=f"task run {task_run_id} belongs to flow run {owner}, not {claimed}"
    )


class StateApplier:
    """Applies state events, in order, to ORM runs it was given; collects the rows to insert.

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
        #: Flow runs that reached a final state, in order (see `Finish`).
        self.finished: list[Finish] = []

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
                return _foreign(run.id, run.flow_run_id, event.flow_run_id)
            flow_run_id = run.flow_run_id
        else:
            run = self._flow_runs.get(event.flow_run_id or "")
            if run is None:
                return Outcome(False, reason=f"flow run {event.flow_run_id} does not exist")
            flow_run_id = run.id
        previous = run.state_type
        forced = _judge(event, previous)
        if isinstance(forced, Outcome):
            return forced
        row = state_row(event, flow_run_id, forced=forced, now=self._now, index=len(self._rows))
        mirror_state(run, row, self._now)
        self._rows.append(row)
        self._known_ids.add(row["id"])
        if event.task_run_id is None:
            finish = _finish(flow_run_id, previous, row, corrected=False)
            if finish is not None:
                self.finished.append(finish)
        return Outcome(True, row=row)

    def flush(self) -> int:
        """Insert the recorded rows (one bulk INSERT) and write the runs' new current state."""
        self._session.flush()  # runs created earlier in this transaction exist before their states
        if self._rows:
            self._session.execute(insert(StateRecord.__table__), self._rows)
        written = len(self._rows)
        self._rows = []
        return written


#: What `BatchStateApplier` needs of a flow run / a task run (besides its id).
FLOW_RUN_FIELDS = ("state_type", "state_forced", "start_time", "end_time")
TASK_RUN_FIELDS = (
    "flow_run_id", "state_type", "state_forced", "start_time", "end_time", "attempts",
)


class BatchStateApplier:
    """`StateApplier`'s rules over plain dicts: the batch endpoint's applier.

    `flow_runs` and `task_runs` map ids to dicts holding at least `FLOW_RUN_FIELDS` /
    `TASK_RUN_FIELDS` (rows read with `load_run_values`, or rows about to be inserted). An
    accepted event updates its run's dict in place with the run's new mirrored columns
    (`mirror_values`), and the run is listed in `changed_flow_runs` / `changed_task_runs`. The
    accepted history rows collect in `rows`, in order; the caller writes everything.

    `own_report`: the events come from the runs' own processes (the recorder's batch), so a
    late final state may correct a CRASHED the server inferred (`late-report-corrects-crash`).
    """

    def __init__(
        self,
        *,
        flow_runs: dict[str, dict[str, Any]],
        task_runs: dict[str, dict[str, Any]],
        known_ids: set[str],
        now: float,
        own_report: bool = False,
    ) -> None:
        self._flow_runs = flow_runs
        self._task_runs = task_runs
        self._known_ids = known_ids
        self._now = now
        self._own_report = own_report
        self.rows: list[dict[str, Any]] = []
        self.changed_flow_runs: dict[str, dict[str, Any]] = {}
        self.changed_task_runs: dict[str, dict[str, Any]] = {}
        #: Flow runs that reached a final state, in order (see `Finish`).
        self.finished: list[Finish] = []

    def apply(self, event: StateEvent) -> Outcome | None:
        """Check one event against the rules and, when accepted, record it: None when accepted
        (no `Outcome` is built for the common case), else the duplicate or the refusal."""
        if event.id is not None and event.id in self._known_ids:
            return _DUPLICATE
        task_run_id = event.task_run_id
        if task_run_id is not None:
            values = self._task_runs.get(task_run_id)
            if values is None:
                return Outcome(False, reason=f"task run {task_run_id} does not exist")
            flow_run_id = values["flow_run_id"]
            if event.flow_run_id is not None and event.flow_run_id != flow_run_id:
                return _foreign(task_run_id, flow_run_id, event.flow_run_id)
            changed = self.changed_task_runs
            run_id = task_run_id
        else:
            run_id = event.flow_run_id or ""
            values = self._flow_runs.get(run_id)
            if values is None:
                return Outcome(False, reason=f"flow run {event.flow_run_id} does not exist")
            flow_run_id = run_id
            changed = self.changed_flow_runs
        previous = values["state_type"]
        current_forced = values.get("state_forced")
        forced = _judge(event, previous, own_report=self._own_report,
                        current_forced=current_forced)
        if isinstance(forced, Outcome):
            return forced
        rows = self.rows
        row = state_row(event, flow_run_id, forced=forced, now=self._now, index=len(rows))
        corrected = _corrects(event, previous, current_forced, self._own_report)
        if corrected:
            _noted(row)
        mirror_values(values, row, self._now, task_run=task_run_id is not None)
        rows.append(row)
        self._known_ids.add(row["id"])
        changed[run_id] = values
        if task_run_id is None:
            finish = _finish(run_id, previous, row, corrected)
            if finish is not None:
                self.finished.append(finish)
        return None


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
    if applier.finished:
        return Outcome(outcome.accepted, outcome.row, finish=applier.finished[-1])
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
