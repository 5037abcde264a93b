"""Every trigger against every combination of upstream states, as one explicit table."""

import pytest

from proctor.core.states import (
    Cached,
    Failed,
    Paused,
    Pending,
    Skipped,
    StateType,
    Success,
    TimedOut,
    TriggerFailed,
)
from proctor.core.triggers import (
    all_failed,
    all_finished,
    all_successful,
    always_run,
    any_failed,
    any_successful,
    gate,
    manual_only,
    none_failed,
)

# One letter per upstream state: Success, Cached, Failed, TriggerFailed, timed Out, sKipped.
MAKE = {
    "S": lambda: Success(), "C": lambda: Cached(), "F": lambda: Failed("x"),
    "T": lambda: TriggerFailed("x"), "O": lambda: TimedOut("x"), "K": lambda: Skipped("x"),
}
RUN, TF, SKIP, PAUSE = "run", "trigger_failed", "skipped", "paused"

COMBOS = ["", "S", "C", "F", "T", "O", "K", "SS", "SC", "SF", "ST", "SK", "FF", "FO", "FK",
          "KK", "FT"]

#: trigger -> expected outcome per combination (same order as COMBOS)
TABLE = {
    all_successful: [RUN, RUN, RUN, TF, TF, TF, SKIP, RUN, RUN, TF, TF, SKIP, TF, TF, SKIP, SKIP,
                     TF],
    all_failed:     [RUN, TF, TF, RUN, RUN, RUN, TF, TF, TF, TF, TF, TF, RUN, RUN, TF, TF, RUN],
    any_successful: [RUN, RUN, RUN, TF, TF, TF, TF, RUN, RUN, RUN, RUN, RUN, TF, TF, TF, TF, TF],
    any_failed:     [RUN, TF, TF, RUN, RUN, RUN, TF, TF, TF, RUN, RUN, TF, RUN, RUN, RUN, TF,
                     RUN],
    all_finished:   [RUN] * len(COMBOS),
    none_failed:    [RUN, RUN, RUN, TF, TF, TF, RUN, RUN, RUN, TF, TF, RUN, TF, TF, TF, RUN, TF],
    manual_only:    [PAUSE, PAUSE, PAUSE, PAUSE, PAUSE, PAUSE, SKIP, PAUSE, PAUSE, PAUSE, PAUSE,
                     SKIP, PAUSE, PAUSE, SKIP, SKIP, PAUSE],
}

OUTCOME = {
    None: RUN, StateType.TRIGGER_FAILED: TF, StateType.SKIPPED: SKIP, StateType.PAUSED: PAUSE,
}

CASES = [
    pytest.param(trigger, combo, expected, id=f"{trigger.__name__}-{combo or 'none'}")
    for trigger, row in TABLE.items()
    for combo, expected in zip(COMBOS, row, strict=True)
]


@pytest.mark.parametrize("trigger, combo, expected", CASES)
def test_trigger_table(trigger, combo, expected):
    upstream = [(f"up{i}", MAKE[c]()) for i, c in enumerate(combo)]
    verdict = gate("t", upstream, trigger)
    assert OUTCOME[None if verdict is None else verdict.type] == expected


def test_always_run_is_all_finished():
    assert always_run is all_finished


@pytest.mark.parametrize("trigger", list(TABLE))
def test_unfinished_upstream_keeps_task_pending(trigger):
    for waiting in (Paused(), Pending()):
        verdict = gate("t", [("a", Success()), ("b", waiting)], trigger)
        assert verdict.type is StateType.PENDING and "b" in verdict.message


def test_skip_on_upstream_skip_can_be_turned_off_or_on():
    assert gate("t", [("a", Skipped())], all_successful, skip_on_upstream_skip=False).type is (
        StateType.TRIGGER_FAILED
    )
    assert gate("t", [("a", Skipped())], none_failed, skip_on_upstream_skip=True).type is (
        StateType.SKIPPED
    )


def test_custom_callable_trigger():
    def at_least_half(states):
        return sum(s.is_successful() for s in states) * 2 >= len(states)

    assert gate("t", [("a", Success()), ("b", Failed())], at_least_half) is None
    verdict = gate("t", [("a", Failed()), ("b", Failed()), ("c", Success())], at_least_half)
    assert verdict.type is StateType.TRIGGER_FAILED and "at_least_half" in verdict.message
