"""Triggers: may a task run, given the final states of its upstream tasks?

A trigger is a plain function of the upstream states returning True (run) or False (the task ends
TriggerFailed, which downstream tasks see as a failure). Any callable of that shape works.
`manual_only` is the one exception: it never passes by itself, and the task waits in Paused.

`gate` applies the rules in order:
1. an upstream that has not finished (Paused, or waiting behind a paused task) keeps the task
   Pending: it does not run and is not failed;
2. a skipped upstream skips the task when `skip_on_upstream_skip` is on (the default for
   `all_successful`, `manual_only` and custom triggers; the other built-in triggers look at
   skips themselves);
3. `manual_only` pauses the task;
4. the trigger decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .signals import SKIP
from .states import Paused, Pending, Skipped, State, TriggerFailed

Trigger = Callable[[Sequence[State]], bool]


def all_successful(states: Sequence[State]) -> bool:
    """Run only if every upstream task succeeded (the default)."""
    return all(s.is_successful() for s in states)


def all_failed(states: Sequence[State]) -> bool:
    """Run only if every upstream task failed (a fallback for when everything broke)."""
    return all(s.is_failed() for s in states)


def any_successful(states: Sequence[State]) -> bool:
    """Run if at least one upstream task succeeded (or there are none)."""
    return not states or any(s.is_successful() for s in states)


def any_failed(states: Sequence[State]) -> bool:
    """Run if at least one upstream task failed (or there are none): failure branches."""
    return not states or any(s.is_failed() for s in states)


def all_finished(states: Sequence[State]) -> bool:
    """Run once every upstream task finished, however it ended: cleanups."""
    return all(s.is_finished() for s in states)


#: `always_run` is the name cleanups usually go by.
always_run = all_finished


def none_failed(states: Sequence[State]) -> bool:
    """Run if no upstream task failed: succeeded or skipped are both fine."""
    return not any(s.is_failed() for s in states)


def manual_only(states: Sequence[State]) -> bool:
    """Never run on its own: the task waits in Paused until someone resumes it."""
    return False


def _count_trigger(kind: str, test: Callable[[State], bool], at_least: float | None,
                   at_most: float | None) -> Trigger:
    for name, bound in (("at_least", at_least), ("at_most", at_most)):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float))
                                  or bound < 0):
            raise TypeError(f"some_{kind}({name}={bound!r}): a count, or a fraction in (0, 1)")

    def limit(bound: float, total: int) -> float:
        return bound * total if isinstance(bound, float) and 0 < bound < 1 else bound

    def trigger(states: Sequence[State]) -> bool:
        if not all(st.is_finished() for st in states):
            return False
        count = sum(1 for st in states if test(st))
        if at_least is not None and count < limit(at_least, len(states)):
            return False
        return not (at_most is not None and count > limit(at_most, len(states)))

    trigger.__name__ = f"some_{kind}"
    trigger.__doc__ = (f"between {at_least if at_least is not None else 0} and "
                       f"{at_most if at_most is not None else 'any number of'} upstream tasks "
                       f"{'succeeded' if kind == 'successful' else 'failed'}")
    return trigger


def some_successful(at_least: float | None = None, at_most: float | None = None) -> Trigger:
    """A trigger: run when at least / at most this many upstream tasks succeeded (a float in
    (0, 1) is a fraction of them). Prefect 1's `some_successful`."""
    return _count_trigger("successful", State.is_successful, at_least, at_most)


def some_failed(at_least: float | None = None, at_most: float | None = None) -> Trigger:
    """A trigger: run when at least / at most this many upstream tasks failed."""
    return _count_trigger("failed", State.is_failed, at_least, at_most)


#: Built-in triggers that look at non-successful upstreams themselves, so skipped upstreams do
#: not skip their task by default.
SEES_SKIPS = frozenset({all_failed, any_successful, any_failed, all_finished, none_failed})
#: Built-in triggers that run a task even though an upstream failed: such a task, when terminal,
#: must not hide that failure from the flow's final state.
RUNS_ON_FAILURE = frozenset({all_failed, any_failed, all_finished})
BUILTIN = frozenset({all_successful, manual_only}) | SEES_SKIPS


def skips_on_upstream_skip(trigger: Trigger, setting: bool | None) -> bool:
    """The effective `skip_on_upstream_skip`: explicit setting, else per the trigger."""
    if setting is not None:
        return setting
    return trigger not in SEES_SKIPS


def gate(
    task_key: str,
    upstream: Sequence[tuple[str, State]],
    trigger: Trigger = all_successful,
    skip_on_upstream_skip: bool | None = None,
) -> State | None:
    """None when the task may run; otherwise the state it ends (or waits) in without running."""
    states = [s for _, s in upstream]
    if trigger is all_successful and all(s.is_successful() for s in states):
        return None
    waiting = [k for k, s in upstream if not s.is_finished()]
    if waiting:
        return Pending(f"waiting for upstream task(s) {', '.join(waiting)}")
    if skips_on_upstream_skip(trigger, skip_on_upstream_skip):
        skipped = [k for k, s in upstream if s.is_skipped()]
        if skipped:
            return Skipped(f"upstream task(s) {', '.join(skipped)} skipped, so {task_key} skipped")
    if trigger is manual_only:
        return Paused(f"{task_key} waits to be resumed (trigger 'manual_only')")
    try:
        if trigger(states):
            return None
    except SKIP as exc:  # a trigger may decide the task is skipped (merge: every branch was)
        return Skipped(str(exc) or f"{task_key} skipped by its trigger")
    return TriggerFailed(
        f"trigger {getattr(trigger, '__name__', trigger)!r} of {task_key} was not met: it "
        f"wants {wants(trigger)}, and saw {saw(upstream)}"
    )


#: What each built-in trigger waits for, in the words its TriggerFailed message uses.
WANTS = {
    all_successful: "every upstream task to succeed",
    all_failed: "every upstream task to fail",
    any_successful: "at least one upstream task to succeed",
    any_failed: "at least one upstream task to fail",
    all_finished: "every upstream task to finish",
    none_failed: "no upstream task to fail",
}
_SHOWN = 8


def wants(trigger: Trigger) -> str:
    """What a trigger waits for: its entry in WANTS, else its docstring's first line."""
    known = WANTS.get(trigger)
    if known is not None:
        return known
    doc = (getattr(trigger, "__doc__", None) or "").strip().splitlines()
    return f"its own condition ({doc[0].rstrip('.')})" if doc else "its own condition"


def saw(upstream: Sequence[tuple[str, State]]) -> str:
    """The upstream states in a few words: 'a: Success, b: Failed' (the first few)."""
    if not upstream:
        return "no upstream task"
    shown = [f"{key}: {state.name}" for key, state in upstream[:_SHOWN]]
    more = len(upstream) - _SHOWN
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
