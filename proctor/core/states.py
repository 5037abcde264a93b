"""Run states as immutable value objects.

One enum (`StateType`) says what kind of state a run is in; one record (`State`) carries it with
its message, result, error and timestamps. The named states (`Success(...)`, `Failed(...)`, ...)
are plain constructors of that record, so code compares `state.type`, never classes.

The predicates answer the questions the engine and triggers ask:

- `is_finished()`: the run will not change again on its own (success, failure, skip, cancel...).
- `is_successful()`: finished in a way downstream work may build on (Success, Cached, Skipped
  counts as *not* failed but also not successful; see `is_skipped`).
- `is_failed()`: finished badly (Failed, TriggerFailed, TimedOut, Crashed).

A `Mapped` state is the parent of one child state per mapped element; its predicates are derived
from its children, so a map with one failed child is failed as a whole.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any


class StateType(str, Enum):
    """Every kind of state a flow run or task run can be in."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    LATE = "LATE"
    PAUSED = "PAUSED"
    RUNNING = "RUNNING"
    RETRYING = "RETRYING"
    SUCCESS = "SUCCESS"
    CACHED = "CACHED"
    MAPPED = "MAPPED"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"
    TRIGGER_FAILED = "TRIGGER_FAILED"
    TIMED_OUT = "TIMED_OUT"
    CRASHED = "CRASHED"
    CANCELLED = "CANCELLED"


#: States a run leaves only when something acts on it (not yet running).
WAITING_TYPES = frozenset(
    {StateType.SCHEDULED, StateType.PENDING, StateType.LATE, StateType.PAUSED, StateType.RETRYING}
)
#: States in which a run produced a usable result.
SUCCESS_TYPES = frozenset({StateType.SUCCESS, StateType.CACHED})
#: States that mean the run went wrong.
FAILED_TYPES = frozenset(
    {StateType.FAILED, StateType.TRIGGER_FAILED, StateType.TIMED_OUT, StateType.CRASHED}
)
#: States a run never leaves on its own.
FINISHED_TYPES = SUCCESS_TYPES | FAILED_TYPES | {StateType.SKIPPED, StateType.CANCELLED}

#: Display names of each type (the name a user reads in tables and the UI).
DEFAULT_NAMES = {
    StateType.SCHEDULED: "Scheduled",
    StateType.PENDING: "Pending",
    StateType.LATE: "Late",
    StateType.PAUSED: "Paused",
    StateType.RUNNING: "Running",
    StateType.RETRYING: "Retrying",
    StateType.SUCCESS: "Success",
    StateType.CACHED: "Cached",
    StateType.MAPPED: "Mapped",
    StateType.SKIPPED: "Skipped",
    StateType.FAILED: "Failed",
    StateType.TRIGGER_FAILED: "TriggerFailed",
    StateType.TIMED_OUT: "TimedOut",
    StateType.CRASHED: "Crashed",
    StateType.CANCELLED: "Cancelled",
}


@dataclass(frozen=True, slots=True, eq=False)
class State:
    """The state of one run at one moment.

    `result` holds the return value for finished successful runs; for a flow built with
    `with Flow(...)` it maps each task handle to that task's final state. `exception` and
    `traceback` keep what a failed run raised. `children` holds the child states of a
    `Mapped` state. Timestamps are seconds since the epoch (`time.time()`).
    """

    type: StateType
    message: str = ""
    result: Any = None
    exception: BaseException | None = None
    traceback: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    children: tuple[State, ...] | None = None
    task_states: Mapping[Any, State] | None = None

    # -- naming -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return DEFAULT_NAMES[self.type]

    def __repr__(self) -> str:
        msg = f", message={self.message!r}" if self.message else ""
        return f"{self.name}({msg.lstrip(', ')})"

    # -- predicates ---------------------------------------------------------------------------
    def is_finished(self) -> bool:
        if self.type is StateType.MAPPED:
            return all(child.is_finished() for child in self.children or ())
        return self.type in FINISHED_TYPES

    def is_successful(self) -> bool:
        if self.type is StateType.MAPPED:
            return all(child.is_successful() for child in self.children or ())
        return self.type in SUCCESS_TYPES

    def is_failed(self) -> bool:
        if self.type is StateType.MAPPED:
            return any(child.is_failed() for child in self.children or ())
        return self.type in FAILED_TYPES

    def is_skipped(self) -> bool:
        return self.type is StateType.SKIPPED

    def is_cancelled(self) -> bool:
        return self.type is StateType.CANCELLED

    def is_running(self) -> bool:
        return self.type is StateType.RUNNING

    def is_pending(self) -> bool:
        return self.type in WAITING_TYPES

    def is_scheduled(self) -> bool:
        return self.type is StateType.SCHEDULED

    def is_paused(self) -> bool:
        return self.type is StateType.PAUSED

    def is_mapped(self) -> bool:
        return self.type is StateType.MAPPED

    def is_cached(self) -> bool:
        return self.type is StateType.CACHED

    # -- derived values -----------------------------------------------------------------------
    @property
    def duration(self) -> float | None:
        """Seconds between start and end, when both are known."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    def is_retrying(self) -> bool:
        return self.type is StateType.RETRYING

    def is_looped(self) -> bool:
        """A loop iteration (`signals.LOOP`): the run goes on with another iteration."""
        return self.type is StateType.RETRYING and type(self.exception).__name__ == "LOOP"

    def with_changes(self, **changes: Any) -> State:
        """A copy of this state with some fields replaced (states are never mutated)."""
        return replace(self, **changes)

    def copy(self, **changes: Any) -> State:
        """A copy of this state with some fields replaced: what a state handler returns to
        change a state, e.g. `return new_state.copy(message="handled")`."""
        return replace(self, **changes)


def _refuse_mutation(self: State, name: str, value: Any = None) -> None:
    from .errors import StateMutationError

    raise StateMutationError(
        f"states are values and cannot be changed (setting {name!r} of {self!r}); make a "
        f"changed copy instead: `state = state.copy({name}=...)`. A state handler returns "
        f"the copy to replace the state"
    )


# Set after the class is made: a frozen slots dataclass's own __setattr__ fails with an opaque
# `super(type, obj)` TypeError.
State.__setattr__ = _refuse_mutation  # type: ignore[method-assign,assignment]
State.__delattr__ = _refuse_mutation  # type: ignore[method-assign,assignment]


# -- named constructors --------------------------------------------------------------------------
def Scheduled(message: str = "", *, at: float | None = None) -> State:  # noqa: N802
    """Waiting for its scheduled time (`at`, epoch seconds)."""
    return State(StateType.SCHEDULED, message, result=at)


def Pending(message: str = "") -> State:  # noqa: N802
    return State(StateType.PENDING, message)


def Late(message: str = "") -> State:  # noqa: N802
    return State(StateType.LATE, message)


def Paused(message: str = "") -> State:  # noqa: N802
    return State(StateType.PAUSED, message)


def Running(message: str = "", *, started_at: float | None = None) -> State:  # noqa: N802
    return State(
        StateType.RUNNING, message, started_at=time.time() if started_at is None else started_at
    )


def Retrying(message: str = "", *, at: float | None = None) -> State:  # noqa: N802
    """Waiting to retry; `result` holds the epoch time of the next attempt."""
    return State(StateType.RETRYING, message, result=at)


def Success(  # noqa: N802
    message: str = "",
    *,
    result: Any = None,
    started_at: float | None = None,
    ended_at: float | None = None,
) -> State:
    return State(
        StateType.SUCCESS,
        message,
        result=result,
        started_at=started_at,
        ended_at=time.time() if ended_at is None else ended_at,
    )


def Cached(message: str = "", *, result: Any = None) -> State:  # noqa: N802
    now = time.time()
    return State(StateType.CACHED, message, result=result, started_at=now, ended_at=now)


def Skipped(message: str = "", *, result: Any = None) -> State:  # noqa: N802
    return State(StateType.SKIPPED, message, result=result, ended_at=time.time())


def Failed(  # noqa: N802
    message: str = "",
    *,
    exception: BaseException | None = None,
    traceback: str | None = None,
    started_at: float | None = None,
    ended_at: float | None = None,
    result: Any = None,
) -> State:
    """A failure; `result` may hold what a handler wants to keep (Prefect 1 kept the error)."""
    return State(
        StateType.FAILED,
        message,
        result=result,
        exception=exception,
        traceback=traceback,
        started_at=started_at,
        ended_at=time.time() if ended_at is None else ended_at,
    )


def TriggerFailed(message: str = "", *, result: Any = None) -> State:  # noqa: N802
    return State(StateType.TRIGGER_FAILED, message, result=result, ended_at=time.time())


def TimedOut(message: str = "", *, started_at: float | None = None) -> State:  # noqa: N802
    return State(StateType.TIMED_OUT, message, started_at=started_at, ended_at=time.time())


def Crashed(message: str = "", *, exception: BaseException | None = None) -> State:  # noqa: N802
    return State(StateType.CRASHED, message, exception=exception, ended_at=time.time())


def Cancelled(message: str = "") -> State:  # noqa: N802
    return State(StateType.CANCELLED, message, ended_at=time.time())


def Mapped(children: Sequence[State], message: str = "") -> State:  # noqa: N802
    """The parent state of a mapped task: one child state per element.

    Its `result` is the list of the children's results, in order.
    """
    kids = tuple(children)
    starts = [c.started_at for c in kids if c.started_at is not None]
    ends = [c.ended_at for c in kids if c.ended_at is not None]
    if not message:
        message = f"{len(kids)} mapped run(s)"
    return State(
        StateType.MAPPED,
        message,
        result=[c.result for c in kids],
        started_at=min(starts) if starts else None,
        ended_at=max(ends) if ends else time.time(),
        children=kids,
    )


__all__ = [
    "State",
    "StateType",
    "Scheduled",
    "Pending",
    "Late",
    "Paused",
    "Running",
    "Retrying",
    "Success",
    "Cached",
    "Skipped",
    "Failed",
    "TriggerFailed",
    "TimedOut",
    "Crashed",
    "Cancelled",
    "Mapped",
]
