"""What the thread and process executors share: a `concurrent.futures` pool started per run."""

from __future__ import annotations

from concurrent.futures import Executor as FuturesPool

from ..core.errors import ExecutorError
from ..engine.executor import Executor


class PoolExecutor(Executor):
    """An executor backed by a `concurrent.futures` pool of `max_workers`, made by `_new_pool`."""

    parallel = True

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and (
            not isinstance(max_workers, int) or isinstance(max_workers, bool) or max_workers < 1
        ):
            raise ExecutorError(
                f"{type(self).__name__}(max_workers={max_workers!r}): max_workers must be a "
                f"whole number >= 1"
            )
        self.max_workers = max_workers
        self._pool: FuturesPool | None = None

    def _new_pool(self) -> FuturesPool:
        raise NotImplementedError

    def start(self) -> None:
        if self._pool is None:
            self._pool = self._new_pool()

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def abandon(self) -> None:
        """Drop queued tasks and return at once; tasks under way are left to finish (threads
        cannot be stopped) or stopped with their processes (`ProcessExecutor`)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            self._stop_workers(pool)
            pool.shutdown(wait=False, cancel_futures=True)

    def _stop_workers(self, pool: FuturesPool) -> None:
        """Stop the pool's workers where that is possible (processes)."""

    def _running_pool(self) -> FuturesPool:
        if self._pool is None:
            self.start()
        assert self._pool is not None
        return self._pool

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_workers={self.max_workers})"
