"""Parallel execution on a pool of threads: for I/O-bound tasks and C code that frees the GIL."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .pool import PoolExecutor


class ThreadExecutor(PoolExecutor):
    """Runs tasks on `max_workers` threads (default: the pool's own default for this machine)."""

    name = "threads"

    def _new_pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(self.max_workers, thread_name_prefix="proctor-task")

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Future:
        return self._running_pool().submit(fn, arg)
