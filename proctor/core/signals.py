"""Signals a task may raise to end its attempt in a chosen state.

They are exceptions only so that they can be raised from anywhere in a task's code; the task
runner catches them in one place and turns them into states. Nothing else raises or re-catches
them.
"""

from __future__ import annotations

from .states import State

_NO_RESULT = object()


class Signal(Exception):
    """Base class of the signals a task may raise.

    `result=` (Prefect 1) is what the state the signal ends in holds as its result; without it,
    a FAIL's state holds the signal itself, so a handler can read its attributes. Other keyword
    arguments become attributes of the signal."""

    def __init__(self, message: str = "", *args: object, result: object = _NO_RESULT,
                 **attributes: object) -> None:
        super().__init__(message, *args)
        self.message = "" if message is None else str(message)
        if result is not _NO_RESULT:
            self.result = result
        for name, value in attributes.items():
            setattr(self, name, value)

    def state_result(self) -> object:
        """The result of the state this signal ends in: `result=`, else the signal."""
        return self.__dict__.get("result", self)


class SKIP(Signal):
    """End the task Skipped; downstream tasks are skipped too (unless their trigger looks)."""


class FAIL(Signal):
    """End the attempt Failed with this message (retried like any failure)."""


class RETRY(Signal):
    """Ask for another attempt, whatever `retry_on` says (still bounded by `max_retries`)."""


class ENDRUN(Signal):
    """End the task run in exactly `state`: no retries, no further checks."""

    def __init__(self, state: State) -> None:
        if not isinstance(state, State):
            raise TypeError(f"ENDRUN needs a State, e.g. ENDRUN(Success(result=1)); got {state!r}")
        super().__init__(state.message)
        self.state = state

    def __reduce__(self):  # travel between processes with the state, not just its message
        return (type(self), (self.state,))


class SUCCESS(Signal):
    """End the task Success now, with `result` as its result."""

    def __init__(self, message: str = "", result: object = None, **attributes: object) -> None:
        super().__init__(message, result=result, **attributes)


class LOOP(Signal):
    """Run the task again at once, as a new attempt of the same task run: the next iteration
    reads `result` as `proctor.context.task_loop_result` (and `task_loop_count`, from 1). The
    iteration that returns (instead of raising LOOP) ends the run. Iterations do not count
    against `max_retries`."""

    def __init__(self, message: str = "", result: object = None, **attributes: object) -> None:
        super().__init__(message, result=result, **attributes)


class TRIGGERFAIL(FAIL):
    """End the task TriggerFailed (as if its trigger had refused it)."""


class PAUSE(Signal):
    """End the attempt Paused: the task waits until the run is resumed
    (`flow.run(resume=state)`), as a `manual_only` task does."""


class VALIDATIONFAIL(FAIL):
    """End the attempt Failed because a result did not validate (a FAIL by another name)."""


#: Prefect 1's name of the signals' base class.
PrefectStateSignal = Signal
