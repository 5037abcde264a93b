"""The contract between the engine and the places task code runs.

An executor only has to `submit(fn, arg)` and hand back something with the
`concurrent.futures.Future` interface. The engine never polls: it attaches a done-callback that
puts the finished future on its queue, and blocks on that queue.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class Executor:
    """Base class of executors. Subclasses implement `submit`; `start`/`shutdown` are optional."""

    #: A short name for tables and logs ("local", "threads", ...).
    name = "executor"
    #: True when submitted work may run at the same time as other submitted work.
    parallel = False
    #: False when tasks run in another process: their log records are then sent back with
    #: their states and replayed in the flow's process.
    in_process = True
    #: True when successful results stay where they were computed: the states the executor
    #: returns carry `RemoteValue` handles, which the engine passes on to downstream tasks as
    #: they are and turns into values (`fetch`) only where a value is needed in the flow.
    holds_results = False
    #: With `holds_results`: whether the run's final states get the values (one fetch at the
    #: end of the run) or lose them (None) when results are too big for the flow's machine.
    returns_results = True
    #: True when `submit` may hold work back until `flush()` (to send it in batches).
    buffers = False
    #: Attempts the engine hands over at once (None: the engine's own default).
    max_in_flight: int | None = None

    def start(self) -> None:
        """Acquire resources (pools, clusters) before the first submit of a run."""

    def shutdown(self) -> None:
        """Release what `start` acquired; called once at the end of a run."""

    def abandon(self) -> None:
        """Release what `start` acquired without waiting for work under way: the run was
        interrupted (Ctrl-C, SIGTERM, a cancel) and must end now. Default: `shutdown`."""
        self.shutdown()

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Future | DoneFuture:
        raise NotImplementedError

    def flush(self) -> None:
        """Send work `submit` held back; the engine calls it before it waits for results."""

    def fetch(self, values: list[RemoteValue]) -> list[Any]:
        """The values behind `RemoteValue` handles this executor returned, in order."""
        raise NotImplementedError(f"the {self.name} executor holds no remote values")

    def __enter__(self) -> Executor:
        self.start()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is not None and not issubclass(exc_type, Exception):
            self.abandon()  # an interrupt: do not wait for the tasks under way
        else:
            self.shutdown()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class RemoteValue:
    """A task's result kept where it was computed (a Dask worker's memory, say).

    An executor that holds results (`Executor.holds_results`) puts one of these in a successful
    state instead of the value. The engine passes it unchanged into downstream tasks submitted to
    the same executor, which turns it back into the value where the task runs, and asks the
    executor to `fetch` it when the flow itself needs the value (a map's length, a `@flow` body
    reading a result, the run's final states).
    """

    __slots__ = ()


class DoneFuture:
    """An already-finished future: what a synchronous executor returns.

    `concurrent.futures.Future` builds a lock and a condition per instance; work that has
    already run needs neither, and the sequential engine path is measured per task.
    """

    __slots__ = ("_result", "_exception")

    def __init__(self, result: Any = None, exception: BaseException | None = None) -> None:
        self._result = result
        self._exception = exception

    def done(self) -> bool:
        return True

    def cancelled(self) -> bool:
        return False

    def result(self, timeout: float | None = None) -> Any:
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self._exception

    def add_done_callback(self, fn: Callable[[Any], Any]) -> None:
        fn(self)
