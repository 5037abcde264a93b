"""Orchestration rules: which state transitions a run may make (pure, no database needed).

The server asks `check_transition(current, proposed)` before it records a new state for a flow
run or a task run. Each rule names the from-states it guards and the to-states it refuses, and
gives the reason a client sees (HTTP 409). Rules are checked in order; the first that refuses
wins. `force=True` on the API skips them (an operator's override), and is recorded as such.

Final states are final: a finished run (Success, Failed, Cancelled, Crashed...) never takes
another state unless forced. One exception, `late-report-corrects-crash`: a CRASHED the server
*inferred* (its agent or its process went silent; not an operator's forced state) may be
replaced by the final state the run's own process reports late (`own_report`), since that
process knows what really happened and the server only guessed. The correction is a new row of
the history, after the Crashed it corrects.
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

_FINISHED = frozenset(FINISHED_TYPES)

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
        _FINISHED,
        "the run already finished ({current}); a second final state ({proposed}) is refused "
        "(an operator may force it)",
        applies=lambda current, proposed: current is not proposed,
    ),
)

#: The exception to the rules above (see the module docstring).
LATE_REPORT_RULE = "late-report-corrects-crash"


def is_late_correction(
    current: StateType | None, proposed: StateType, *, own_report: bool, current_forced: bool
) -> bool:
    """Is this the run's own late report of how it really ended, replacing a CRASHED the server
    inferred (not one an operator forced)?"""
    return (
        own_report
        and not current_forced
        and current is T.CRASHED
        and proposed in _FINISHED
        and proposed is not T.CRASHED
    )


def check_transition(
    current: StateType | None,
    proposed: StateType,
    *,
    own_report: bool = False,
    current_forced: bool = False,
) -> Verdict:
    """May a run in `current` (None: no state yet) move to `proposed`? `own_report`: the state
    comes from the run's own process (its recorder); `current_forced`: `current` was forced by
    an operator. Both only matter for `late-report-corrects-crash`."""
    if current is None:
        return ACCEPT
    if is_late_correction(current, proposed, own_report=own_report,
                          current_forced=current_forced):
        return ACCEPT
    for rule in RULES:
        verdict = rule.check(current, proposed)
        if verdict is not None:
            return verdict
    return ACCEPT
