"""Core tasks: `Constant` and `FunctionTask` (Prefect 1's `prefect.tasks.core`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.constants import Constant
from ..core.task import Task


class FunctionTask(Task):
    """A task running `fn` (what `@task` makes): `FunctionTask(fn=load, name="load")`."""

    def __init__(self, fn: Callable[..., Any], **options: Any) -> None:
        super().__init__(fn, **options)


__all__ = ["Constant", "FunctionTask"]
