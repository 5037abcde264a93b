"""Parallel execution in worker processes: for CPU-bound Python tasks.

Tasks and arguments travel with cloudpickle, so functions defined in scripts and notebooks work.
Start method: `fork` where the platform has it (Linux), else `spawn`. With `fork` a script needs
no `if __name__ == "__main__":` guard and workers start in milliseconds; the price is the usual
one of forking a process that runs other threads (a lock held by another thread at fork time stays
held in the child), so the pool forks all its workers at once on the first submit, before the
engine's own threads start. Pass `start_method="forkserver"` (with the guard) to avoid fork; its
server then preloads Proctor once instead of importing it in every worker.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import cloudpickle

from ..core.errors import ExecutorError, TaskNotPicklableError, TaskResultNotPicklableError
from .pool import PoolExecutor


def _run_pickled(payload: bytes) -> bytes:
    """Worker side: unpickle the call, run it, pickle what it returned. A result that cannot
    be pickled is said as such (the task ran; its value cannot travel back), not left to
    surface as a bare TypeError of the pool."""
    fn, arg = cloudpickle.loads(payload)
    result = fn(arg)
    try:
        return cloudpickle.dumps(result)
    except Exception as exc:
        raise TaskResultNotPicklableError(
            f"its return value cannot be pickled to travel back from the worker process "
            f"({type(exc).__name__}: {exc}); return plain data (not open files, locks, "
            f"connections, generators or lambdas), or run this task on the threads executor"
        ) from None


class ProcessExecutor(PoolExecutor):
    """Runs tasks in `max_workers` processes (default: one per CPU)."""

    name = "processes"
    in_process = False

    def __init__(self, max_workers: int | None = None, start_method: str | None = None) -> None:
        super().__init__(max_workers)
        methods = multiprocessing.get_all_start_methods()
        if start_method is None:
            start_method = "fork" if "fork" in methods else "spawn"
        if start_method not in methods:
            raise ExecutorError(
                f"ProcessExecutor(start_method={start_method!r}): this platform offers "
                f"{', '.join(methods)}"
            )
        self.start_method = start_method

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":
            # Workers fork from a server that imported Proctor once.
            context.set_forkserver_preload(["proctor.executors.processes"])
        return ProcessPoolExecutor(self.max_workers, mp_context=context)

    def _stop_workers(self, pool: Any) -> None:
        """Kill the worker processes: an interrupted run must not leave tasks running."""
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            try:
                process.kill()
            except (OSError, ValueError, AttributeError):
                pass

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Future:
        pool = self._running_pool()
        try:
            payload = cloudpickle.dumps((fn, arg))
        except Exception as exc:
            raise TaskNotPicklableError(
                f"it (or one of its arguments) cannot be pickled to send to a worker process "
                f"({type(exc).__name__}: {exc}); use the threads executor for it, or pass "
                f"picklable values"
            ) from exc
        outer: Future = Future()

        def relay(inner: Future) -> None:
            try:
                outer.set_result(cloudpickle.loads(inner.result()))
            except BaseException as exc:
                outer.set_exception(exc)

        pool.submit(_run_pickled, payload).add_done_callback(relay)
        return outer

