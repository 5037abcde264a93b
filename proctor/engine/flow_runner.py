"""`FlowRunner(flow).run(...)`: Prefect 1's way of running a flow, as `flow.run(...)`."""

from __future__ import annotations

from typing import Any

from ..core.states import State


class FlowRunner:
    """Runs `flow` once: `FlowRunner(flow=f).run(parameters={...}, task_states={...},
    executor=...)` is `f.run(..., run_on_schedule=False)`."""

    def __init__(self, flow: Any, **_ignored: Any) -> None:
        self.flow = flow

    def run(self, parameters: dict[str, Any] | None = None,
            task_states: dict[Any, State] | None = None, executor: Any = None,
            **_ignored: Any) -> State:
        return self.flow.run(parameters or {}, task_states=task_states, executor=executor,
                             run_on_schedule=False)
