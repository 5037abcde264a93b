"""Orchestration rules: which state transitions a run may make (pure, no database needed).

The server asks `check_transition(current, proposed)` before it records a new state for a flow
run or a task run. Each rule names the from-states it guards and the to-states it refuses, and
gives the reason a client sees (HTTP 409). Rules are checked in order; the first that refuses
wins. `force=True` on the API skips them (an operator's override), and is recorded as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .states import FINISHED_TYPES, StateType

T = StateType


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to a proposed transition."""

    accepted: bool
    reason: str = ""
    rule: str = ""


ACCEPT = Verdict(True)


@dataclass(frozen=True, slots=True)
class Rule:
    """Refuse `to_types` when the run is in one of `from_types`."""

    name: str
    from_types: frozenset[StateType]
    to_types: frozenset[StateType]
    reason: str
    applies: Callable[[StateType, StateType], bool] | None = None

    def check(self, current: StateType, proposed: StateType) -> Verdict | None:
        if current in self.from_types and proposed in self.to_types:
            if self.applies is None or self.applies(current, proposed):
                return Verdict(False, self.reason.format(current=current.value,
                                                         proposed=proposed.value), self.name)
        return None


_ALL = frozenset(StateType)
_FINISHED_NOT_CANCELLED = frozenset(FINISHED_TYPES) - {T.CANCELLED}

RULES: tuple[Rule, ...] = (
    Rule(
        "cancelled-is-final",
        frozenset({T.CANCELLED}),
        _ALL - {T.CANCELLED},
        "the run was cancelled: a cancelled run never changes state again",
    ),
    Rule(
        "finished-does-not-restart",
        _FINISHED_NOT_CANCELLED,
        frozenset({T.RUNNING, T.PENDING, T.SCHEDULED, T.LATE, T.PAUSED}),
        "the run already finished ({current}); it cannot go back to {proposed}. Retries of a "
        "failed run go through RETRYING; start a new run otherwise",
    ),
    Rule(
        "only-failures-retry",
        _ALL - {T.FAILED, T.TIMED_OUT, T.CRASHED, T.RUNNING, T.RETRYING, T.LATE},
        frozenset({T.RETRYING}),
        "a run in {current} cannot be retried: only a running or failed run moves to RETRYING",
    ),
    Rule(
        "finished-stays-finished",
        _FINISHED_NOT_CANCELLED,
        _FINISHED_NOT_CANCELLED,
        "the run already finished ({current}); a second final state ({proposed}) is refused",
        applies=lambda current, proposed: current is not proposed,
    ),
)


def check_transition(current: StateType | None, proposed: StateType) -> Verdict:
    """May a run in `current` (None: no state yet) move to `proposed`?"""
    if current is None:
        return ACCEPT
    for rule in RULES:
        verdict = rule.check(current, proposed)
        if verdict is not None:
            return verdict
    return ACCEPT
