"""States are immutable values whose predicates the engine and triggers rely on."""

import dataclasses

import pytest

from proctor.core import states as s
from proctor.core.errors import StateMutationError
from proctor.states import Failed, Mapped, Skipped, StateType, Success, TriggerFailed


def test_named_constructors_set_type_and_name():
    for ctor, kind in [
        (s.Pending, StateType.PENDING), (s.Running, StateType.RUNNING),
        (s.Success, StateType.SUCCESS), (s.Failed, StateType.FAILED),
        (s.Retrying, StateType.RETRYING), (s.Skipped, StateType.SKIPPED),
        (s.TriggerFailed, StateType.TRIGGER_FAILED), (s.Cached, StateType.CACHED),
        (s.TimedOut, StateType.TIMED_OUT), (s.Cancelled, StateType.CANCELLED),
        (s.Crashed, StateType.CRASHED), (s.Scheduled, StateType.SCHEDULED),
        (s.Late, StateType.LATE), (s.Paused, StateType.PAUSED),
    ]:
        state = ctor("why")
        assert state.type is kind
        assert state.message == "why"
        assert state.name == s.DEFAULT_NAMES[kind]


@pytest.mark.parametrize(
    "state, finished, successful, failed",
    [
        (s.Pending(), False, False, False),
        (s.Running(), False, False, False),
        (s.Retrying(), False, False, False),
        (s.Scheduled(), False, False, False),
        (s.Paused(), False, False, False),
        (s.Success(result=1), True, True, False),
        (s.Cached(result=1), True, True, False),
        (s.Skipped(), True, False, False),
        (s.Cancelled(), True, False, False),
        (s.Failed(), True, False, True),
        (s.TriggerFailed(), True, False, True),
        (s.TimedOut(), True, False, True),
        (s.Crashed(), True, False, True),
    ],
)
def test_predicates(state, finished, successful, failed):
    assert state.is_finished() is finished
    assert state.is_successful() is successful
    assert state.is_failed() is failed


def test_states_are_immutable_and_copy_with_changes():
    state = Success(result=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.result = 4  # type: ignore[misc]
    # the error says how to change a state (Prefect 1 handlers assigned fields)
    with pytest.raises(StateMutationError, match=r"state\.copy\(message=\.\.\.\)"):
        state.message = "x"  # type: ignore[misc]
    with pytest.raises(StateMutationError):
        del state.message
    changed = state.with_changes(message="done")
    assert changed.message == "done" and changed.result == 3 and state.message == ""
    copied = state.copy(message="handled")
    assert copied.message == "handled" and copied.result == 3 and copied is not state


def test_success_keeps_result_and_timestamps():
    state = Success(result={"a": 1}, started_at=10.0, ended_at=12.5)
    assert state.result == {"a": 1}
    assert state.duration == 2.5


def test_failed_keeps_exception_and_traceback():
    err = ValueError("boom")
    state = Failed("ValueError: boom", exception=err, traceback="Traceback ...")
    assert state.exception is err and state.traceback.startswith("Traceback")


def test_mapped_derives_predicates_and_result_from_children():
    ok = Mapped([Success(result=1), Success(result=2)])
    assert ok.result == [1, 2] and ok.is_successful() and not ok.is_failed()
    assert ok.message == "2 mapped run(s)"
    bad = Mapped([Success(result=1), Failed("x")])
    assert bad.is_failed() and not bad.is_successful() and bad.is_finished()
    assert bad.result == [1, None]


def test_empty_map_is_successful_with_empty_result():
    empty = Mapped([])
    assert empty.is_successful() and empty.result == [] and empty.children == ()


def test_repr_shows_name_and_message():
    assert repr(TriggerFailed("upstream failed")) == "TriggerFailed(message='upstream failed')"
    assert repr(Skipped()) == "Skipped()"


def test_ids_are_unique_uuid4_hex():
    import uuid

    from proctor.core.ids import new_id

    ids = {new_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    sample = uuid.UUID(hex=next(iter(ids)))
    assert sample.version == 4 and sample.variant == uuid.RFC_4122
