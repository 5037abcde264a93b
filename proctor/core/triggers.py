"""Triggers: when may a task run, given the final states of its upstream tasks?

A trigger is a plain function of the upstream states returning True (run) or False (do not run;
the task ends TriggerFailed). `gate` applies the rules in order: skipped upstreams skip the task
(unless the task opts out), then the trigger decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .states import Skipped, State, TriggerFailed

Trigger = Callable[[Sequence[State]], bool]


def all_successful(states: Sequence[State]) -> bool:
    """Run only if every upstream task succeeded (the default)."""
    return all(s.is_successful() for s in states)


def gate(
    task_key: str,
    upstream: Sequence[tuple[str, State]],
    trigger: Trigger = all_successful,
    skip_on_upstream_skip: bool = True,
) -> State | None:
    """None when the task may run; otherwise the state it ends in without running."""
    states = [s for _, s in upstream]
    if trigger is all_successful and all(s.is_successful() for s in states):
        return None
    if skip_on_upstream_skip:
        skipped = [k for k, s in upstream if s.is_skipped()]
        if skipped:
            return Skipped(f"upstream task(s) {', '.join(skipped)} skipped, so {task_key} skipped")
    if trigger(states):
        return None
    bad = [k for k, s in upstream if not s.is_successful()]
    return TriggerFailed(
        f"trigger {getattr(trigger, '__name__', trigger)!r} of {task_key} was not met: "
        f"upstream task(s) {', '.join(bad) or '(none)'} did not succeed"
    )
