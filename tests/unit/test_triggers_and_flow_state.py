"""The pure rules: may a task run, and what is the flow's final state."""

from proctor.core.flow_state import flow_state
from proctor.core.states import Failed, Mapped, Skipped, StateType, Success, TriggerFailed
from proctor.core.triggers import all_successful, gate


def test_all_successful_runs_when_every_upstream_succeeded():
    assert gate("t", [("a", Success()), ("b", Success())]) is None
    assert gate("t", []) is None
    assert all_successful([]) is True


def test_failed_upstream_gives_trigger_failed_naming_it():
    verdict = gate("t", [("a", Success()), ("b", Failed("x"))])
    assert verdict.type is StateType.TRIGGER_FAILED
    assert "b" in verdict.message and "a," not in verdict.message


def test_skipped_upstream_skips_by_default():
    assert gate("t", [("a", Skipped())]).type is StateType.SKIPPED
    assert gate("t", [("a", Skipped())], skip_on_upstream_skip=False).type is (
        StateType.TRIGGER_FAILED
    )


def test_custom_trigger_may_run_despite_failure():
    always = lambda states: True  # noqa: E731
    assert gate("t", [("a", Failed())], trigger=always) is None


def test_flow_succeeds_when_reference_tasks_succeed():
    state = flow_state([("a", Success())], [("a", Success())], started_at=0.0, result=42)
    assert state.is_successful() and state.result == 42 and state.started_at == 0.0


def test_flow_fails_naming_the_task_that_raised():
    every = [("a", Failed("boom")), ("b", TriggerFailed()), ("c", TriggerFailed())]
    state = flow_state([("c", TriggerFailed())], every, started_at=0.0)
    assert state.is_failed()
    assert state.message == "task(s) failed: a; 2 downstream task(s) did not run"


def test_failed_mapped_child_counts_as_raised():
    mapped = Mapped([Success(), Failed()])
    state = flow_state([("m", mapped)], [("m", mapped)], started_at=0.0)
    assert state.is_failed() and "m" in state.message
