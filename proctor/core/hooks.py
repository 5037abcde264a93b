"""Hooks on state changes, for tasks and flows alike.

Two styles: `state_handlers=[fn(obj, old_state, new_state) -> State | None]` see every
transition and may replace the new state; `on_failure/on_success/on_retry/on_completion=[fn(obj,
run_context, state)]` are called when a run enters that kind of state. `on_completion` fires for
every final state (success, failure, skip, cancel). Which hooks a transition calls is decided here
(pure); calling them, and logging those that raise, is the engine's job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import TaskOptionError
from .states import State, StateType

StateHandler = Callable[[Any, State, State], State | None]
Hook = Callable[[Any, Any, State], None]


def _callables(owner: str, option: str, value: Any) -> tuple:
    if value is None:
        return ()
    if callable(value):
        return (value,)
    try:
        items = tuple(value)
    except TypeError:
        raise TaskOptionError(
            f"{owner}: {option}={value!r} must be a callable or a list of callables"
        ) from None
    bad = [v for v in items if not callable(v)]
    if bad:
        raise TaskOptionError(f"{owner}: {option} holds {bad[0]!r}, which is not callable")
    return items


@dataclass(frozen=True)
class Hooks:
    """The hooks of one task or flow."""

    state_handlers: tuple = ()
    on_failure: tuple = ()
    on_success: tuple = ()
    on_retry: tuple = ()
    on_completion: tuple = ()

    @classmethod
    def build(
        cls, owner: str, *, state_handlers: Iterable[StateHandler] | None = None,
        on_failure: Iterable[Hook] | None = None, on_success: Iterable[Hook] | None = None,
        on_retry: Iterable[Hook] | None = None, on_completion: Iterable[Hook] | None = None,
    ) -> Hooks:
        return cls(
            _callables(owner, "state_handlers", state_handlers),
            _callables(owner, "on_failure", on_failure),
            _callables(owner, "on_success", on_success),
            _callables(owner, "on_retry", on_retry),
            _callables(owner, "on_completion", on_completion),
        )

    def __post_init__(self) -> None:
        # asked on every transition of every task run: answer from a field, not a method body
        object.__setattr__(self, "_any", bool(
            self.state_handlers or self.on_failure or self.on_success or self.on_retry
            or self.on_completion
        ))

    def __bool__(self) -> bool:
        return self._any

    def hooks_for(self, state: State) -> list[Hook]:
        """The `on_*` hooks a run entering `state` calls, in a fixed order."""
        chosen: list[Hook] = []
        if state.type is StateType.RETRYING:
            chosen.extend(self.on_retry)
        if state.is_finished():
            if state.is_failed():
                chosen.extend(self.on_failure)
            elif state.is_successful():
                chosen.extend(self.on_success)
            chosen.extend(self.on_completion)
        return chosen
