"""Orchestration rules, one class per rule, checked as pure functions."""

import pytest

from proctor.core.orchestration import RULES, check_transition
from proctor.core.states import StateType as T

FINISHED = [T.SUCCESS, T.FAILED, T.CACHED, T.SKIPPED, T.TRIGGER_FAILED, T.TIMED_OUT, T.CRASHED]


def test_first_state_is_always_accepted():
    for proposed in T:
        assert check_transition(None, proposed).accepted


class TestCancelledIsFinal:
    @pytest.mark.parametrize("proposed", [t for t in T if t is not T.CANCELLED])
    def test_nothing_leaves_cancelled(self, proposed):
        verdict = check_transition(T.CANCELLED, proposed)
        assert not verdict.accepted and verdict.rule == "cancelled-is-final"
        assert "cancelled" in verdict.reason

    def test_cancelled_again_is_fine(self):
        assert check_transition(T.CANCELLED, T.CANCELLED).accepted


class TestFinishedDoesNotRestart:
    @pytest.mark.parametrize("current", FINISHED)
    @pytest.mark.parametrize("proposed", [T.RUNNING, T.PENDING, T.SCHEDULED])
    def test_refused(self, current, proposed):
        verdict = check_transition(current, proposed)
        assert not verdict.accepted and verdict.rule == "finished-does-not-restart"
        assert current.value in verdict.reason and proposed.value in verdict.reason


class TestOnlyFailuresRetry:
    @pytest.mark.parametrize("current", [T.FAILED, T.TIMED_OUT, T.CRASHED, T.RUNNING])
    def test_failed_or_running_may_retry(self, current):
        assert check_transition(current, T.RETRYING).accepted

    @pytest.mark.parametrize("current", [T.SUCCESS, T.SKIPPED, T.CACHED, T.PENDING])
    def test_others_may_not(self, current):
        verdict = check_transition(current, T.RETRYING)
        assert not verdict.accepted and verdict.rule == "only-failures-retry"


class TestFinishedStaysFinished:
    def test_second_final_state_refused(self):
        verdict = check_transition(T.SUCCESS, T.FAILED)
        assert not verdict.accepted and verdict.rule == "finished-stays-finished"

    def test_same_final_state_is_idempotent(self):
        assert check_transition(T.SUCCESS, T.SUCCESS).accepted


@pytest.mark.parametrize(
    "current, proposed",
    [
        (T.SCHEDULED, T.PENDING), (T.PENDING, T.RUNNING), (T.RUNNING, T.SUCCESS),
        (T.RUNNING, T.FAILED), (T.RETRYING, T.RUNNING), (T.SCHEDULED, T.LATE),
        (T.LATE, T.RUNNING), (T.RUNNING, T.CANCELLED), (T.PAUSED, T.RUNNING),
        (T.RUNNING, T.PAUSED), (T.PENDING, T.TRIGGER_FAILED), (T.RUNNING, T.CRASHED),
    ],
)
def test_ordinary_life_of_a_run_is_accepted(current, proposed):
    assert check_transition(current, proposed).accepted


def test_rules_have_unique_names():
    assert len({r.name for r in RULES}) == len(RULES)


class TestFinalStatesAreFinal:
    @pytest.mark.parametrize("current", [T.SUCCESS, T.FAILED, T.CRASHED, T.TIMED_OUT])
    def test_a_finished_run_is_not_relabelled_cancelled(self, current):
        verdict = check_transition(current, T.CANCELLED)
        assert not verdict.accepted and verdict.rule == "finished-stays-finished"


class TestLateReportCorrectsCrash:
    @pytest.mark.parametrize("proposed", [T.SUCCESS, T.FAILED, T.CANCELLED, T.TIMED_OUT])
    def test_the_runs_own_report_replaces_an_inferred_crash(self, proposed):
        assert check_transition(T.CRASHED, proposed, own_report=True).accepted

    def test_nobody_else_may(self):
        assert not check_transition(T.CRASHED, T.SUCCESS).accepted

    def test_an_operators_forced_crash_stands(self):
        verdict = check_transition(T.CRASHED, T.SUCCESS, own_report=True, current_forced=True)
        assert not verdict.accepted

    @pytest.mark.parametrize("current", [T.SUCCESS, T.FAILED, T.CANCELLED])
    def test_only_a_crash_is_corrected(self, current):
        assert not check_transition(current, T.TIMED_OUT, own_report=True).accepted

    def test_a_correction_is_a_final_state(self):
        assert not check_transition(T.CRASHED, T.RUNNING, own_report=True).accepted
