"""Resuming a run: what a new run takes over from an earlier run of the same flow. Pure.

`flow.run(resume=earlier_state)` starts a new run that
- keeps the state (and result) of every task that succeeded earlier, without running it again,
- runs the tasks that were Paused by the `manual_only` trigger (resuming is their approval),
- runs everything else again: failed, timed-out, crashed, skipped and never-started tasks.

So the same call serves two needs: approving paused tasks, and restarting a failed run from where
it failed. Tasks are matched by key (`extract`, `transform`, `transform-2`...), which is the same
from one run of a flow to the next as long as the flow calls the same tasks in the same order.
A mapped task is kept only when every one of its children succeeded; otherwise it runs whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import ResumeError
from .states import State, StateType


@dataclass(frozen=True)
class Resumption:
    """The states a new run keeps (by task key) and the manual tasks it approves."""

    kept: Mapping[str, State] = field(default_factory=dict)
    approved: frozenset[str] = frozenset()

    @classmethod
    def from_state(cls, earlier: State) -> Resumption:
        """From the State an earlier `flow.run()` returned (its task states, by key)."""
        task_states = earlier.task_states
        if task_states is None and isinstance(earlier.result, Mapping):
            task_states = earlier.result
        if not task_states:
            raise ResumeError(
                f"cannot resume from {earlier.name}({earlier.message!r}): it holds no task "
                f"states; pass the State an earlier flow.run() of this flow returned"
            )
        kept: dict[str, State] = {}
        approved: set[str] = set()
        for node, state in task_states.items():
            key = getattr(node, "key", node)
            if state.type is StateType.PAUSED:
                approved.add(key)
            elif state.is_successful():
                kept[key] = state
        return cls(kept, frozenset(approved))

    @classmethod
    def given(cls, graph: object, task_states: Mapping[object, State],
              base: Resumption | None = None) -> Resumption:
        """States given to some tasks of `graph` (`flow.run(task_states={task: state})`)."""
        kept = dict(base.kept) if base is not None else {}
        for task, state in task_states.items():
            if not isinstance(state, State):
                raise ResumeError(
                    f"task_states[{task!r}] is {state!r}, not a State; give e.g. "
                    f"Success(result=...) from proctor.core.states"
                )
            kept[graph.node_of(task).key] = state  # type: ignore[attr-defined]
        return cls(kept, base.approved if base is not None else frozenset())
