"""What the engine tells the outside world while a run goes on.

Progress bars, recorders (memory, database, server) and hooks subscribe by subclassing
`RunObserver` and overriding what they need. Observers are called from the thread that pumps the
run, so they need no locks; they must be quick (they sit on the per-task path) and must not raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.context import TaskRunContext
    from ..core.graph import Node
    from ..core.states import State


class RunObserver:
    """No-op base: override the events you care about."""

    def flow_run_started(self, run: Any, nodes: list[Node]) -> None:
        """The run starts; `nodes` are the nodes known up front (all of them for a built graph)."""

    def map_expanded(self, run: Any, node: Node, count: int) -> None:
        """A mapped node expanded into `count` task runs."""

    def task_run_submitted(self, run: Any, node: Node, ctx: TaskRunContext) -> None:
        """A task-run attempt was handed to the executor."""

    def task_run_transition(
        self, run: Any, node: Node, ctx: TaskRunContext, old: State, new: State
    ) -> None:
        """A task run moved from `old` to `new` (Pending -> Running -> Retrying -> ... -> final).

        `ctx.attempt` is the attempt the transition belongs to; `ctx.id` stays the same across
        the attempts of one task run.
        """

    def task_run_finished(self, run: Any, node: Node, ctx: TaskRunContext, state: State) -> None:
        """A task-run attempt ended in `state` (children of maps included)."""

    def node_finished(self, run: Any, node: Node, state: State) -> None:
        """A node reached its final state (for a mapped node: the Mapped parent state)."""

    def flow_run_finished(self, run: Any, state: State) -> None:
        """The flow run ended in `state`."""

    def flow_run_transition(self, flow_run: Any, old: State, new: State) -> None:
        """The flow run moved from `old` to `new`; `flow_run` is its `FlowRunContext`."""
