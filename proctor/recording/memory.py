"""Keep every state transition of a run in memory: the history of each task run and flow run.

Pass `MemoryRecorder()` as an observer (`flow.run(observers=[recorder])`) and read
`recorder.history("extract")` afterwards: the states a task run went through, in order, e.g.
Running, Retrying, Running, Success.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.states import State
from ..engine.observers import RunObserver


@dataclass
class TaskRunRecord:
    """One task run: its identity and every state it went through."""

    id: str
    task_key: str
    map_index: int | None
    states: list[State] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        return sum(1 for s in self.states if s.is_running())

    @property
    def final(self) -> State | None:
        return self.states[-1] if self.states else None


class MemoryRecorder(RunObserver):
    """Records task-run and flow-run transitions, in order."""

    def __init__(self) -> None:
        self.task_runs: dict[str, TaskRunRecord] = {}
        self.flow_states: list[State] = []

    def task_run_transition(self, run: Any, node: Any, ctx: Any, old: State, new: State) -> None:
        record = self.task_runs.get(ctx.id)
        if record is None:
            record = self.task_runs[ctx.id] = TaskRunRecord(ctx.id, ctx.task_key, ctx.map_index)
        record.states.append(new)

    def flow_run_transition(self, flow_run: Any, old: State, new: State) -> None:
        self.flow_states.append(new)

    def runs_of(self, task_key: str) -> list[TaskRunRecord]:
        """Every task run of the node `task_key` (several for a mapped task), in start order."""
        return [r for r in self.task_runs.values() if r.task_key == task_key]

    def history(self, task_key: str, map_index: int | None = None) -> list[str]:
        """The state names one task run went through (the child `map_index` of a map)."""
        for record in self.runs_of(task_key):
            if record.map_index == map_index:
                return [s.name for s in record.states]
        raise KeyError(f"no task run of {task_key!r} (map index {map_index}) was recorded")
