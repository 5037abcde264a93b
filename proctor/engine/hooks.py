"""Calling hooks: state handlers may replace a state; a hook that raises is logged, never fatal."""

from __future__ import annotations

import logging
from typing import Any

from ..core.hooks import Hooks
from ..core.states import State

_log = logging.getLogger("proctor.hooks")


def run_state_handlers(
    owner: Any, hooks: Hooks, old: State, new: State, extra: dict | None = None
) -> State:
    """Pass a transition through the handlers; each may return a replacement state."""
    for handler in hooks.state_handlers:
        try:
            replaced = handler(owner, old, new)
        except Exception as exc:
            _log.error(
                "state handler %s of %s raised %s: %s (ignored; the state stays %s)",
                _name(handler), _name(owner), type(exc).__name__, exc, new.name, extra=extra,
                exc_info=True,
            )
            continue
        if isinstance(replaced, State):
            new = replaced
    return new


def call_hooks(owner: Any, hooks: Hooks, context: Any, state: State, extra: dict | None = None):
    """Call the `on_*` hooks that `state` selects, with (owner, run context, state)."""
    for hook in hooks.hooks_for(state):
        try:
            hook(owner, context, state)
        except Exception as exc:
            _log.error(
                "hook %s of %s raised %s: %s (ignored; the run's outcome is unchanged)",
                _name(hook), _name(owner), type(exc).__name__, exc, extra=extra, exc_info=True,
            )


def _name(obj: Any) -> str:
    return getattr(obj, "name", None) or getattr(obj, "__name__", None) or repr(obj)
