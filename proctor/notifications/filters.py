"""Which states a notifier speaks about (`only_states`).

Users name states the way they meet them elsewhere in proctor: the constructors (`Failed`), the
enum (`StateType.FAILED`) or a name (`"Failed"`, `"timed_out"`). All become one `StateFilter`.

One rule is not an exact match: *Failed* (in any spelling) means "the run went wrong", i.e. every
state whose `is_failed()` is true: Failed, TriggerFailed, TimedOut, Crashed, and a Mapped state
with a failed child. Someone asking to hear about failures expects a timeout or a crash to count,
and would otherwise learn the difference on the day it mattered. Every other entry matches its
own type only (Success does not include Cached; Cancelled is not a failure).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

from proctor.core import states as _states
from proctor.core.states import DEFAULT_NAMES, State, StateType

from .errors import NotificationConfigError

#: What `only_states` accepts per entry.
StateSpec: TypeAlias = "Callable[..., State] | StateType | str"


def _squash(text: str) -> str:
    return text.replace("_", "").replace("-", "").replace(" ", "").lower()


# "failed", "triggerfailed", ... -> StateType, from the enum values and the display names.
_BY_NAME = {_squash(t.value): t for t in StateType} | {
    _squash(name): t for t, name in DEFAULT_NAMES.items()
}
# The constructor functions of proctor.core.states (Failed, Success, ...) -> StateType.
_BY_CONSTRUCTOR = {
    id(getattr(_states, name)): t
    for t, name in DEFAULT_NAMES.items()
    if callable(getattr(_states, name, None))
}


def _state_type(entry: Any) -> StateType:
    if isinstance(entry, StateType):
        return entry
    if isinstance(entry, str):
        found = _BY_NAME.get(_squash(entry))
        if found is None:
            known = ", ".join(DEFAULT_NAMES.values())
            raise NotificationConfigError(
                f"only_states: unknown state name {entry!r}; use one of {known}"
            )
        return found
    if callable(entry) and id(entry) in _BY_CONSTRUCTOR:
        return _BY_CONSTRUCTOR[id(entry)]
    raise NotificationConfigError(
        f"only_states: {entry!r} is not a state; use constructors from proctor.core.states "
        f"(Failed, Success, ...), StateType members, or state names such as 'Failed'"
    )


@dataclass(frozen=True, slots=True)
class StateFilter:
    """The states a notifier reports. `None` types means every state."""

    types: frozenset[StateType] | None

    @classmethod
    def build(cls, only_states: Iterable[StateSpec] | StateSpec | None) -> StateFilter:
        """Normalize `only_states`; a single entry is accepted as well as a collection."""
        if only_states is None:
            return cls(None)
        if isinstance(only_states, (str, StateType)) or callable(only_states):
            entries: list[Any] = [only_states]
        else:
            try:
                entries = list(only_states)
            except TypeError:
                raise NotificationConfigError(
                    f"only_states must be a list of states (e.g. [Failed, Success]) or None for "
                    f"every state, got {only_states!r}"
                ) from None
        if not entries:
            raise NotificationConfigError(
                "only_states is empty, so nothing would ever be sent; list the states to report "
                "(e.g. [Failed]) or pass None for every state"
            )
        return cls(frozenset(_state_type(entry) for entry in entries))

    def matches(self, state: State) -> bool:
        """Whether `state` should be reported (see the module docstring for the Failed rule)."""
        if self.types is None:
            return True
        if StateType.FAILED in self.types and state.is_failed():
            return True
        return state.type in self.types

    def describe(self) -> str:
        """The filter as a user would have written it, for reprs."""
        if self.types is None:
            return "every state"
        return ", ".join(sorted(DEFAULT_NAMES[t] for t in self.types))
