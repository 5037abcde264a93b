"""How a flow run's final state follows from its tasks' states (pure).

The rule: the flow failed if any of its reference tasks failed; otherwise it is Paused if some
task has not finished (a `manual_only` task waiting, and what waits behind it); otherwise it
succeeded. Which tasks are the reference tasks is the graph's business (`reference_nodes`); a
failure upstream reaches the terminals as TriggerFailed, so it is never hidden, and the message
names the tasks that actually raised.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from .states import Failed, Paused, State, StateType, Success


def flow_state(
    reference: Sequence[tuple[str, State]],
    every: Sequence[tuple[str, State]],
    *,
    started_at: float,
    result: Any = None,
) -> State:
    """The flow-run state from its reference tasks' states; `every` feeds the message."""
    ended = time.time()
    failed_refs = [key for key, s in reference if s.is_failed()]
    waiting = [key for key, s in every if not s.is_finished()]
    if not failed_refs and waiting:
        return Paused(
            f"waiting: task(s) {', '.join(waiting[:10])} did not run yet (paused, or behind a "
            f"paused task)"
        ).with_changes(started_at=started_at, result=result)
    if not failed_refs:
        return Success(
            "All reference tasks succeeded." if reference else "Completed.",
            result=result,
            started_at=started_at,
            ended_at=ended,
        )
    raised = [key for key, s in every if _raised(s)]
    blocked = sum(1 for _, s in every if s.type is StateType.TRIGGER_FAILED)
    parts = []
    if raised:
        more = " ..." if len(raised) > 10 else ""
        parts.append(f"task(s) failed: {', '.join(raised[:10])}{more}")
    if blocked:
        parts.append(f"{blocked} downstream task(s) did not run")
    if not parts:
        parts.append(f"reference task(s) failed: {', '.join(failed_refs)}")
    return Failed("; ".join(parts), started_at=started_at, ended_at=ended).with_changes(
        result=result
    )


def _raised(state: State) -> bool:
    if state.type is StateType.MAPPED:
        return any(_raised(c) for c in state.children or ())
    return state.is_failed() and state.type is not StateType.TRIGGER_FAILED
