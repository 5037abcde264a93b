"""`Constant(value)`: a task returning a fixed value (Prefect 1's `Constant`)."""

from __future__ import annotations

from typing import Any

from .task import Task


class Constant(Task):
    """Returns `value`; what a plain value stands for where a task is needed (apply_map maps
    over a list through one)."""

    def __init__(self, value: Any, name: str | None = None, **options: Any) -> None:
        self.value = value
        super().__init__(name=name or _label(value), **options)

    def run(self) -> Any:
        return self.value


def _label(value: Any) -> str:
    text = repr(value)
    return f"Constant[{type(value).__name__}]" if len(text) > 40 else f"Constant({text})"
