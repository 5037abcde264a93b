"""The task an operator on task results records (`a + b` inside `with Flow`; see operators)."""

from __future__ import annotations

from typing import Any

from .operators import FUNCTIONS
from .task import Task


class OperatorTask(Task):
    """Computes one Python operator on its inputs; pickles by the operator's name."""

    def __init__(self, op: str) -> None:
        if op not in FUNCTIONS:
            raise ValueError(f"no operator named {op!r}; known: {', '.join(sorted(FUNCTIONS))}")
        super().__init__(name=op)
        self.op = op

    def run(self, *values: Any) -> Any:
        return FUNCTIONS[self.op](*values)
