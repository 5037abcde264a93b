"""Sequential execution in the calling thread: the default, and the cheapest per task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..engine.executor import DoneFuture, Executor


class LocalExecutor(Executor):
    """Runs each task when it is submitted, one after another, in the thread that runs the flow."""

    name = "local"
    parallel = False

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> DoneFuture:
        try:
            return DoneFuture(fn(arg))
        except Exception as exc:
            return DoneFuture(exception=exc)
