"""Parallel execution on a pool of threads: for I/O-bound tasks and C code that frees the GIL."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..core.errors import ExecutorError
from ..engine.executor import Executor


class ThreadExecutor(Executor):
    """Runs tasks on `max_workers` threads (default: the pool's own default for this machine)."""

    name = "threads"
    parallel = True

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and (not isinstance(max_workers, int) or max_workers < 1):
            raise ExecutorError(
                f"ThreadExecutor(max_workers={max_workers!r}): max_workers must be a whole "
                f"number >= 1"
            )
        self.max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="proctor-task")

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Future:
        if self._pool is None:
            self.start()
        assert self._pool is not None
        return self._pool.submit(fn, arg)

    def __repr__(self) -> str:
        return f"ThreadExecutor(max_workers={self.max_workers})"
