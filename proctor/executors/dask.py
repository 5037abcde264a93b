"""Run a flow's tasks on a Dask distributed cluster: `DaskExecutor`.

Change the executor, nothing else: the engine, its retries, triggers, caching and hooks stay in
the flow's process, and each task-run attempt becomes one Dask task.

- **Where.** With no address, a `distributed.LocalCluster` (worker processes) is started for the
  run and closed after it; `cluster_class` picks another cluster manager (any class with the
  `distributed` cluster interface, or its import path), `adapt_kwargs` makes it adaptive. With
  `address`, the executor connects to a running scheduler (`dask scheduler` / `dask worker`).
- **Data stays on the workers.** A successful attempt's result stays in its worker's memory; the
  engine gets a `DaskValue` handle and passes it into downstream tasks, which Dask feeds from
  worker to worker. The flow fetches a value only when it needs one: the list a task is mapped
  over, a `@flow` body reading a result, and, once, every result at the end of the run (so the
  run's final states hold values, as with any other executor). `return_results=False` skips
  that last fetch when results are too big for the flow's machine: they then read None.
- **States and logs** of each attempt travel back as a Dask event (see `dask_worker`), paired
  with the finished future; log records are replayed into the flow's loggers, hence reach the
  console and the server like any others.
- **Batches.** Attempts are sent with one `client.map` per batch (the engine flushes before it
  waits), so a 10,000-element map costs a few scheduler messages, not 10,000.
- **Resources.** A task tag `dask-resource:GPU=1` asks Dask for a worker with that resource.
- **Lost workers.** Dask reruns the work of a worker that dies (and recomputes results that died
  with it); an attempt that kills workers repeatedly ends Crashed (Dask's `KilledWorker`).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

import cloudpickle

from .. import settings
from ..core.errors import ClusterError, ExecutorError, ResourceTagError, TaskNotPicklableError
from ..core.states import SUCCESS_TYPES
from ..engine.executor import Executor, RemoteValue
from .dask_worker import Slot, WorkerJob, run_attempt, swap

#: The Dask event topic attempts publish their states on (one topic for every Proctor client:
#: the scheduler keeps a bounded log per topic, and a client ignores keys it did not send).
TOPIC = "proctor-attempts"
#: The task-tag prefix that asks Dask for worker resources: `dask-resource:GPU=1`.
RESOURCE_TAG = "dask-resource:"

_log = logging.getLogger("proctor.executors.dask")


class DaskValue(RemoteValue):
    """A task's result held in a Dask worker's memory (by its Dask future)."""

    __slots__ = ("future",)

    def __init__(self, future: Any) -> None:
        self.future = future

    def __repr__(self) -> str:
        return f"<result kept on the Dask cluster: {self.future.key}>"


def resources_from_tags(tags: Any) -> dict[str, float]:
    """Dask resource requirements from `dask-resource:NAME=AMOUNT` task tags."""
    wanted: dict[str, float] = {}
    for tag in tags or ():
        if not isinstance(tag, str) or not tag.startswith(RESOURCE_TAG):
            continue
        name, sep, amount = tag[len(RESOURCE_TAG):].partition("=")
        try:
            value = float(amount)
        except ValueError:
            value = -1.0
        if not sep or not name.strip() or value <= 0:
            raise ResourceTagError(
                f"task tag {tag!r} is not a Dask resource requirement: write "
                f"'{RESOURCE_TAG}NAME=AMOUNT' with a positive amount, e.g. '{RESOURCE_TAG}GPU=1'"
            )
        wanted[name.strip()] = value
    return wanted


@dataclass(slots=True)
class _Pending:
    """An attempt sent to the cluster, waiting for its finished future and its state event."""

    outer: Future
    future: Any = None
    meta: bytes | None = None


class DaskExecutor(Executor):
    """Runs tasks on a Dask distributed cluster (see the module docstring)."""

    name = "dask"
    parallel = True
    in_process = False
    holds_results = True
    buffers = True
    #: Dask keeps pending work on its scheduler cheaply: the engine may hand over big maps whole.
    max_in_flight = 100_000
    #: attempts per `client.map` call at most (a bigger burst is sent in several)
    batch_size = 2_000
    #: seconds to wait for an attempt's state once its future has finished (they normally
    #: arrive together, the state first)
    state_timeout = 30.0

    def __init__(
        self,
        address: str | None = None,
        cluster_class: type | str | Callable[..., Any] | None = None,
        cluster_kwargs: Mapping[str, Any] | None = None,
        adapt_kwargs: Mapping[str, Any] | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
        *,
        return_results: bool = True,
    ) -> None:
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ExecutorError(
                f"DaskExecutor(address={address!r}): give the scheduler's address as a string "
                f"such as 'tcp://127.0.0.1:8786', or no address to start a local cluster"
            )
        if address is not None and (cluster_class is not None or cluster_kwargs or adapt_kwargs):
            raise ExecutorError(
                "DaskExecutor: address= connects to a running cluster; cluster_class, "
                "cluster_kwargs and adapt_kwargs describe one to start. Give one or the other."
            )
        for label, value in (("cluster_kwargs", cluster_kwargs), ("adapt_kwargs", adapt_kwargs),
                             ("client_kwargs", client_kwargs)):
            if value is not None and not isinstance(value, Mapping):
                raise ExecutorError(
                    f"DaskExecutor({label}={value!r}): expected a dict of keyword arguments"
                )
        self.address = address.strip() if address else None
        self.cluster_class = cluster_class
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self.adapt_kwargs = dict(adapt_kwargs) if adapt_kwargs is not None else None
        self.client_kwargs = dict(client_kwargs or {})
        #: False: the run's final states do not bring results back from the cluster (see
        #: `Executor.returns_results`); what the flow itself reads is still fetched.
        self.returns_results = bool(return_results)
        self.client: Any = None
        self.cluster: Any = None
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._buffer: list[tuple] = []
        self._jobs: dict[Any, WorkerJob] = {}

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self.client is not None:
            return
        from distributed import Client

        client_kwargs = {"set_as_default": False, **self.client_kwargs}
        if self.address is not None:
            try:
                self.client = Client(self.address, **client_kwargs)
            except (OSError, TimeoutError) as exc:
                raise ClusterError(
                    f"could not reach the Dask scheduler at {self.address} ({exc}); start one "
                    f"with `dask scheduler` and `dask worker {self.address}`, or use "
                    f"DaskExecutor() for a local cluster"
                ) from exc
        else:
            cls = _cluster_class(self.cluster_class)
            kwargs = dict(self.cluster_kwargs)
            if cls.__name__ == "LocalCluster":
                kwargs.setdefault("processes", True)
                kwargs.setdefault("dashboard_address", ":0")  # a free port: never a clash
            try:
                self.cluster = cls(**kwargs)
                if self.adapt_kwargs is not None:
                    self.cluster.adapt(**self.adapt_kwargs)
                self.client = Client(self.cluster, **client_kwargs)
            except Exception as exc:
                if self.cluster is not None:
                    self.cluster.close()
                    self.cluster = None
                raise ClusterError(
                    f"could not start a Dask cluster with {cls.__name__}(**{kwargs!r}): "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        self.client.subscribe_topic(TOPIC, self._on_event)

    def shutdown(self) -> None:
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        self._buffer = []
        self._jobs = {}
        with self._lock:
            pending, self._pending = self._pending, {}
        for entry in pending.values():
            if not entry.outer.done():
                entry.outer.set_exception(ExecutorError("the Dask executor was shut down"))
        if client is not None:
            try:
                client.unsubscribe_topic(TOPIC)
            finally:
                client.close()
        if cluster is not None:
            cluster.close()

    # -- sending --------------------------------------------------------------------------------
    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Future:
        if self.client is None:
            self.start()
        spec = arg
        inputs: list = []

        def leaf(value: Any) -> Any:
            if isinstance(value, DaskValue):
                inputs.append(value.future)
                return Slot(len(inputs) - 1)
            return value

        args, kwargs = swap(spec.args, leaf), swap(spec.kwargs, leaf)
        if inputs:
            spec = replace(spec, args=args, kwargs=kwargs)
        resources = resources_from_tags(spec.task.tags)
        ctx = spec.context
        key = f"{ctx.task_name}-{ctx.id}-{ctx.attempt}"
        outer: Future = Future()
        self._buffer.append((key, spec, inputs, resources, fn, outer))
        if len(self._buffer) >= self.batch_size:
            self.flush()
        return outer

    def flush(self) -> None:
        """Send the attempts `submit` buffered: one `client.map` per runner and resources."""
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        groups: dict[tuple, list[tuple]] = {}
        for item in batch:
            groups.setdefault((item[4], tuple(sorted(item[3].items()))), []).append(item)
        for (fn, resources), items in groups.items():
            self._send(self._job(fn), dict(resources) or None, items)

    def _job(self, fn: Callable) -> WorkerJob:
        job = self._jobs.get(fn)
        if job is None:
            job = WorkerJob(
                runner=fn,
                topic=TOPIC,
                log_level=logging.getLogger("proctor").getEffectiveLevel(),
                results_dir=str(settings.results_dir()),
            )
            self._jobs[fn] = job
        return job

    def _send(self, job: WorkerJob, resources: dict | None, items: list[tuple]) -> None:
        with self._lock:
            for key, *_, outer in items:
                self._pending[key] = _Pending(outer)
        try:
            futures = self.client.map(
                run_attempt, [i[1] for i in items], [i[2] for i in items],
                key=[i[0] for i in items], job=job, resources=resources, pure=False,
            )
        except Exception:  # find the attempt(s) that cannot be sent; send the others
            futures = [self._send_one(job, resources, item) for item in items]
        for future in futures:
            if future is not None:
                future.add_done_callback(self._on_done)

    def _send_one(self, job: WorkerJob, resources: dict | None, item: tuple) -> Any:
        key, spec, inputs, _, _, outer = item
        try:
            return self.client.submit(run_attempt, spec, inputs, key=key, job=job,
                                      resources=resources, pure=False)
        except Exception as exc:
            with self._lock:
                self._pending.pop(key, None)
            outer.set_exception(TaskNotPicklableError(
                f"it (or one of its arguments) cannot be sent to the Dask cluster "
                f"({type(exc).__name__}: {exc}); pass picklable values"
            ))
            return None

    # -- receiving ------------------------------------------------------------------------------
    def _on_done(self, future: Any) -> None:
        """A sent attempt's future finished (called in the client's callback thread)."""
        key = future.key
        if future.status == "finished":
            entry, ready = self._arrived(key, future=future)
            if entry is None:
                return
            if ready:
                self._complete(entry)
            else:
                timer = threading.Timer(self.state_timeout, self._state_missing, (key,))
                timer.daemon = True
                timer.start()
            return
        with self._lock:
            entry = self._pending.pop(key, None)
        if entry is None:
            return
        try:
            error = future.exception()
        except BaseException as exc:  # cancelled futures raise instead of answering
            error = exc
        entry.outer.set_exception(
            error if isinstance(error, BaseException)
            else ExecutorError(f"Dask reported the attempt {key} as {future.status}")
        )

    def _on_event(self, event: Any) -> None:
        """An attempt's state arrived (called in the client's event loop)."""
        try:
            key, payload = event[1]
        except (TypeError, ValueError):
            return
        entry, ready = self._arrived(key, meta=payload)
        if entry is not None and ready:
            self._complete(entry)

    def _arrived(self, key: str, future: Any = None, meta: bytes | None = None) -> tuple:
        """Note one of an attempt's two halves (its finished future, its state); `(entry,
        ready)`: ready when both are in, and the entry is then no longer pending. No entry for
        another client's attempt, or one already concluded."""
        with self._lock:
            entry = self._pending.get(key)
            if entry is None:
                return None, False
            if future is not None:
                entry.future = future
            if meta is not None:
                entry.meta = meta
            ready = entry.future is not None and entry.meta is not None
            if ready:
                del self._pending[key]
        return entry, ready

    def _complete(self, entry: _Pending) -> None:
        try:
            state, records = cloudpickle.loads(entry.meta)
        except BaseException as exc:
            entry.outer.set_exception(ExecutorError(
                f"the state of an attempt could not be read back from the cluster "
                f"({type(exc).__name__}: {exc})"
            ))
            return
        if state.type in SUCCESS_TYPES:
            state = state.with_changes(result=DaskValue(entry.future))
        entry.outer.set_result((state, records))

    def _state_missing(self, key: str) -> None:
        with self._lock:
            entry = self._pending.get(key)
            if entry is None or entry.meta is not None:
                return
            del self._pending[key]
        entry.outer.set_exception(ExecutorError(
            f"attempt {key} finished on the Dask cluster but its state did not arrive within "
            f"{self.state_timeout:g}s"
        ))

    # -- values ---------------------------------------------------------------------------------
    def fetch(self, values: list[RemoteValue]) -> list[Any]:
        if self.client is None:
            raise ExecutorError("the Dask executor is not running: results can no longer be "
                                "fetched from its cluster")
        return self.client.gather([v.future for v in values])

    def __repr__(self) -> str:
        if self.address:
            return f"DaskExecutor(address={self.address!r})"
        cls = self.cluster_class
        name = cls if isinstance(cls, str) else getattr(cls, "__name__", "LocalCluster")
        return f"DaskExecutor(cluster_class={name!r})" if cls else "DaskExecutor()"


def _cluster_class(spec: type | str | Callable[..., Any] | None) -> Callable[..., Any]:
    """The cluster manager to start: LocalCluster by default, a class, or 'module.Class'."""
    if spec is None:
        from distributed import LocalCluster

        return LocalCluster
    if isinstance(spec, str):
        module, _, name = spec.rpartition(".")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ExecutorError(
                f"DaskExecutor(cluster_class={spec!r}): cannot import it ({exc}); give a class "
                f"or its full path such as 'dask_jobqueue.SLURMCluster'"
            ) from exc
    if not callable(spec):
        raise ExecutorError(f"DaskExecutor(cluster_class={spec!r}): expected a class")
    return spec
