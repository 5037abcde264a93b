"""`FilterTask`: keep the results of a mapped task that pass a test (Prefect 1's FilterTask).

Its default test drops what a map yields for runs that gave nothing to build on: None (a failed
or skipped child's result, or a run that returned nothing) and exception objects. It runs once
every upstream finished, however they ended (`all_finished`), so one failed child does not stop
the rest from going on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.control_flow import case, ifelse, merge, switch
from ..core.task import Task
from ..core.triggers import all_finished

#: The branches live in `proctor` (`proctor.case`); here too, where Prefect 1 code imports them.
__all__ = ["FilterTask", "case", "ifelse", "merge", "switch"]


def _kept_by_default(value: Any) -> bool:
    return value is not None and not isinstance(value, BaseException)


class FilterTask(Task):
    """`FilterTask(filter_func=...)(results)`: the elements of `results` for which
    `filter_func(element)` is true (default: drop None and exceptions)."""

    def __init__(self, filter_func: Callable[[Any], bool] | None = None, **options: Any) -> None:
        if filter_func is not None and not callable(filter_func):
            raise TypeError(f"FilterTask(filter_func={filter_func!r}): needs a function")
        self.filter_func = filter_func or _kept_by_default
        options.setdefault("trigger", all_finished)
        options.setdefault("skip_on_upstream_skip", False)
        options.setdefault("name", "FilterTask")
        super().__init__(**options)

    def run(self, task_results: list[Any]) -> list[Any]:
        if task_results is None:
            return []
        return [value for value in task_results if self.filter_func(value)]
