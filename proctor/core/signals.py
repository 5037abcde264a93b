"""Signals a task may raise to end its attempt in a chosen state.

They are exceptions only so that they can be raised from anywhere in a task's code; the task
runner catches them in one place and turns them into states. Nothing else raises or re-catches
them.
"""

from __future__ import annotations

from .states import State


class Signal(Exception):
    """Base class of the signals a task may raise."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


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
