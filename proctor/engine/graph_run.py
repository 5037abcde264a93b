"""The engine: walk a task graph, submit ready tasks, collect their states.

One class, `GraphRun`, runs both front-ends. A `with Flow(...)` graph is added whole and pumped
to the end; a `@flow` body adds nodes one call at a time and pumps until the value it waits for
exists. All run state is touched by one thread only (the one that pumps); executors report back
through a queue fed by future done-callbacks, so nothing polls and nothing needs a lock.

Run state
---------
- `states`      node -> final State of every finished node
- `waiting`     node -> number of its upstream nodes not finished yet
- `downstream`  node -> nodes waiting on it (filled as nodes are added)
- `ready`       nodes whose upstreams are all finished, in the order they became ready
- `maps`        mapped node -> children states collected so far
- `outstanding` submitted attempts whose futures have not come back
- `deferred`    attempts ready to go but held back while `max_in_flight` are outstanding
- `timers`      a heap of (due time, attempt) for retries waiting out their delay

Policy: ready nodes start in FIFO order; a mapped node expands into one attempt per element when
it starts; a synchronous executor's result is collected inline (no queue hop). A failed attempt
that its task's retry policy accepts goes on the timer heap, holding no executor worker; the loop
sleeps on the result queue with a timeout that ends when the next retry is due.

Each task run's transitions (Pending -> Running -> [Retrying -> Running ...] -> final) go to the
observers and, when the task has any, to its state handlers and hooks, called in this thread with
the task run's context set.

Executors that keep results where they were computed (Dask: `Executor.holds_results`) put
`RemoteValue` handles in successful states. The engine passes them to downstream tasks untouched
and fetches values only where the flow needs them: the iterables a map expands over, hooks,
`value_of` (a `@flow` body reading a result), and `fetch_results` once at the end of the run.
Executors that batch their sends (`Executor.buffers`) are flushed before the loop blocks.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import Any

from ..core.bindings import expand
from ..core.context import TASK_RUN, TaskRunContext
from ..core.errors import MappingError, ProctorError, TaskResultNotPicklableError
from ..core.graph import Node
from ..core.ids import new_id
from ..core.resume import Resumption
from ..core.signals import LOOP
from ..core.states import (
    Crashed,
    Failed,
    Mapped,
    Pending,
    Retrying,
    Running,
    State,
    StateType,
    Success,
)
from ..core.triggers import all_successful, gate, manual_only
from .executor import DoneFuture, Executor, RemoteValue
from .hooks import call_hooks, run_state_handlers
from .logs import TASK_LOGGER, task_run_extra
from .observers import RunObserver
from .task_runner import (
    TaskRunSpec,
    describe,
    replay_logs,
    run_task,
    run_task_shipping_logs,
)

_task_log = logging.getLogger(TASK_LOGGER)
#: Failures that mean the task's own code (or its executor) went wrong; TriggerFailed is only
#: a consequence and is not logged again.
_LOGGED_FAILURES = frozenset({StateType.FAILED, StateType.CRASHED, StateType.TIMED_OUT})
_PENDING = Pending()
_RETRYING = StateType.RETRYING


@dataclass(slots=True)
class _MapProgress:
    children: list
    remaining: int


@dataclass
class GraphRun:
    """The state of one flow run's task graph while it runs (see the module docstring)."""

    flow_run_id: str
    flow_name: str
    executor: Executor
    parameters: dict = field(default_factory=dict)
    observers: list[RunObserver] = field(default_factory=list)
    states: dict = field(default_factory=dict)
    waiting: dict = field(default_factory=dict)
    downstream: dict = field(default_factory=dict)
    ready: deque = field(default_factory=deque)
    maps: dict = field(default_factory=dict)
    outstanding: int = 0
    events: SimpleQueue = field(default_factory=SimpleQueue)
    deferred: deque = field(default_factory=deque)
    timers: list = field(default_factory=list)
    #: attempts handed to the executor at once; the rest wait in `deferred` (bounded memory:
    #: a pending executor future costs several times what a waiting spec does)
    max_in_flight: int = 1024
    #: Optional limiter of concurrent task runs by tag (e.g. slots handed out by a server):
    #: `acquire(ctx, tags) -> bool`, `release(ctx)`, `retry_after` seconds. Only tagged tasks
    #: ask it; a refused attempt waits on the timer heap and asks again.
    gate: Any = None
    #: What this run takes over from an earlier one (`core.resume`): kept states, approvals.
    resumption: Resumption | None = None
    #: the flow run's `proctor.context` values, given to each task run (`core.context_values`)
    run_values: dict | None = None
    #: the flow's `result=`, the default of its tasks (`core.targets`)
    default_result: Any = None
    _retrying: dict = field(default_factory=dict)
    #: node -> tasks still to finish that read its result (only when results may be let go)
    _consumers: dict | None = None
    #: the last remote result fetched for hooks (state handlers, then hooks, see one attempt)
    _shown: tuple | None = None
    _runner: Callable = run_task
    _tiebreak: Any = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        executor = self.executor
        if not executor.in_process:
            self._runner = run_task_shipping_logs
        if executor.max_in_flight is not None:
            self.max_in_flight = executor.max_in_flight
        self._buffers = executor.buffers
        self._remote = executor.holds_results

    # -- adding work ----------------------------------------------------------------------------
    def add(self, node: Node) -> None:
        """Register a node; it becomes ready once all its upstreams have finished."""
        unfinished = 0
        states = self.states
        for up in node.upstream:
            if up not in states:
                unfinished += 1
                self.downstream.setdefault(up, []).append(node)
        if unfinished:
            self.waiting[node] = unfinished
        else:
            self.ready.append(node)

    def add_all(self, nodes: Iterable[Node]) -> None:
        """Register nodes given in an order where upstreams come first (a whole graph)."""
        nodes = list(nodes)
        if self._remote and not self.executor.returns_results:
            # The whole graph is known: a remote result nobody will read again can be let go
            # as soon as the last task using it has finished (the cluster frees its memory).
            consumers: dict = {}
            for node in nodes:
                for up in node.upstream:
                    consumers[up] = consumers.get(up, 0) + 1
            self._consumers = consumers
        for node in nodes:
            self.add(node)

    # -- pumping --------------------------------------------------------------------------------
    def pump(self, until: Callable[[], bool] | None = None) -> None:
        """Start ready nodes and collect results until `until()` holds or nothing is left."""
        ready, events, timers = self.ready, self.events, self.timers
        while True:
            while ready:
                self._start(ready.popleft())
            if timers:
                self._release_due()
                if ready:
                    continue
            if self._buffers:
                self.executor.flush()
            if until is not None and until():
                return
            if self.outstanding == 0 and not timers:
                return
            timeout = max(0.0, timers[0][0] - time.time()) if timers else None
            try:
                item = events.get(timeout=timeout)
            except Empty:
                continue
            self._collect(*item)

    def pump_nowait(self) -> None:
        """Start what is ready and collect what has already finished, without blocking."""
        ready, events = self.ready, self.events
        while True:
            while ready:
                self._start(ready.popleft())
            if self.timers:
                self._release_due()
            if ready:
                continue
            if events.empty():
                if self._buffers:
                    self.executor.flush()
                return
            self._collect(*events.get())

    def _release_due(self) -> None:
        timers, now = self.timers, time.time()
        while timers and timers[0][0] <= now:
            _, _, node, spec = heapq.heappop(timers)
            self._dispatch(node, spec)

    # -- starting a node ------------------------------------------------------------------------
    def _start(self, node: Node) -> None:
        task = node.task
        if task.is_parameter:
            try:
                value = task.coerce(self.parameters.get(task.name, task.default))
            except Exception as exc:  # a value its Parameter type cannot read
                self._verdict(node, None, Failed(
                    f"parameter {task.name!r}: {exc}", exception=exc))
                return
            self._finish(node, Success(result=value))
            return
        if self.resumption is not None:
            kept = self.resumption.kept.get(node.key)
            if kept is not None:  # succeeded in the run this one resumes: not run again
                self._finish(node, kept)
                return
        if node.mapped:
            self._start_map(node)
            return
        upstream = node.upstream
        trigger = self._trigger(node)
        if upstream:
            states = self.states
            if trigger is not all_successful or not all(
                states[up].is_successful() for up in upstream
            ):
                verdict = gate(node.key, [(u.key, states[u]) for u in upstream], trigger,
                               task.skip_on_upstream_skip)
                if verdict is not None:
                    self._verdict(node, None, verdict)
                    return
            args, kwargs = node.bindings.resolve(self._value)
        else:
            if trigger is manual_only:
                self._verdict(node, None, gate(node.key, [], trigger))
                return
            args, kwargs = list(node.bindings.args), node.bindings.kwargs
        self._submit(node, None, args, kwargs)

    def _start_map(self, node: Node) -> None:
        states, task = self.states, node.task
        by_element = [
            up for _, up in node.bindings.direct if states[up].type is StateType.MAPPED
        ]
        over = node.mapped_upstream  # mapped over without taking their values
        if over:
            by_element += [u for u in over if states[u].type is StateType.MAPPED
                           and not any(u is b for b in by_element)]
        element_ids = {id(u) for u in by_element}
        whole = [(u.key, states[u]) for u in node.upstream if id(u) not in element_ids]
        trigger = self._trigger(node)
        if whole or trigger is manual_only:
            verdict = gate(node.key, whole, trigger, task.skip_on_upstream_skip)
            if verdict is not None:
                self._verdict(node, None, verdict)
                return
        args, kwargs = node.bindings.resolve(self._value)
        if self._remote:  # the elements to map over are needed here, in the flow
            args, kwargs = self._fetch_mapped(args, kwargs)
        try:
            size = self._mapped_size(node) if over else None
            runs = expand(node.key, args, kwargs, size)
        except MappingError as exc:
            self._verdict(node, None, Failed(str(exc), exception=exc))
            return
        for obs in self.observers:
            obs.map_expanded(self, node, len(runs))
        if not runs:
            self._finish(node, Mapped([]))
            return
        self.maps[node] = _MapProgress([None] * len(runs), len(runs))
        for index, (a, k) in enumerate(runs):
            if by_element:
                verdict = gate(
                    f"{node.key}[{index}]",
                    [(f"{u.key}[{index}]", states[u].children[index]) for u in by_element],
                    trigger, task.skip_on_upstream_skip,
                )
                if verdict is not None:
                    self._verdict(node, index, verdict)
                    continue
            self._submit(node, index, a, k)

    def _learn_secret(self, value: Any) -> None:
        """Mask a secret task's value here, and in every task run sent out from now on."""
        from ..core import secrets

        if isinstance(value, RemoteValue):
            value = self.executor.fetch([value])[0]
        secrets.register(value)
        if self.run_values is not None:
            self.run_values["_secrets"] = list(secrets.known())

    def _mapped_size(self, node: Node) -> int:
        """How many runs the upstreams a node maps over without their values ask for."""
        sizes = set()
        for up in node.mapped_upstream:
            state = self.states[up]
            if state.type is StateType.MAPPED:
                sizes.add(len(state.children))
                continue
            value = self.value_of(up)
            try:
                sizes.add(len(value))
            except TypeError:
                raise MappingError(
                    f"task {node.key!r} is mapped over upstream {up.key!r}, whose result "
                    f"({type(value).__name__}) has no elements; map over a mapped task or a "
                    f"list, or wrap it in unmapped(...)"
                ) from None
        if len(sizes) > 1:
            raise MappingError(
                f"task {node.key!r} is mapped over upstreams of different lengths "
                f"({sorted(sizes)})"
            )
        return sizes.pop()

    def _trigger(self, node: Node) -> Any:
        """The node's trigger, except that resuming approves a paused `manual_only` task."""
        trigger = node.task.trigger
        if (trigger is manual_only and self.resumption is not None
                and node.key in self.resumption.approved):
            return all_successful
        return trigger

    def _context(self, node: Node, index: int | None) -> TaskRunContext:
        return TaskRunContext(
            new_id(), node.task.name, node.key, self.flow_run_id, self.flow_name, index, 1,
            node.task, self.run_values, None, None, self.default_result,
        )

    def _submit(self, node: Node, index: int | None, args: list, kwargs: dict) -> None:
        spec = TaskRunSpec(node.task, args, kwargs, self._context(node, index))
        if node.task.task_run_name is not None:
            from .run_names import run_name

            spec.context.name = run_name(spec)
        self._dispatch(node, spec)

    def _dispatch(self, node: Node, spec: TaskRunSpec) -> None:
        gate = self.gate
        if gate is not None and node.task.tags and not self._acquired(gate, spec):
            due = time.time() + gate.retry_after
            heapq.heappush(self.timers, (due, next(self._tiebreak), node, spec))
            return
        if self.outstanding >= self.max_in_flight:
            self.deferred.append((node, spec))
            return
        self._send(node, spec)

    def _acquired(self, gate: Any, spec: TaskRunSpec) -> bool:
        """Ask the gate for a slot; a gate that fails lets the task run (logged), never the run
        crash: a limit on load must not become a reason for lost work."""
        try:
            return bool(gate.acquire(spec.context, spec.task.tags))
        except Exception as exc:
            _task_log.warning("concurrency gate failed (%s: %s); running without a slot",
                              type(exc).__name__, exc, extra=task_run_extra(spec.context))
            return True

    def _send(self, node: Node, spec: TaskRunSpec) -> None:
        ctx = spec.context
        if self.observers or node.task.hooks:
            old = self._retrying.pop(ctx.id, _PENDING)
            self._transition(node, ctx, old, Running())
            for obs in self.observers:
                obs.task_run_submitted(self, node, ctx)
        try:
            future = self.executor.submit(self._runner, spec)
        except Exception as exc:
            state = Failed(
                f"{describe(spec)} could not be sent to the {self.executor.name} executor: {exc}",
                exception=exc,
            )
            self._record(node, spec, state)
            return
        if future.__class__ is DoneFuture:
            self._collect(node, spec, future)
            return
        self.outstanding += 1
        events = self.events
        future.add_done_callback(lambda fut: events.put((node, spec, fut, True)))

    # -- collecting results ---------------------------------------------------------------------
    def _collect(self, node: Node, spec: TaskRunSpec, future: Any, queued: bool = False) -> None:
        if queued:
            self.outstanding -= 1
            if self.deferred:
                self._send(*self.deferred.popleft())
        try:
            state = future.result()
            if state.__class__ is tuple:  # from another process: (state, its log records)
                state, records = state
                replay_logs(records)
        except TaskResultNotPicklableError as exc:
            state = Failed(f"task {spec.context.task_key} ran, but {exc}", exception=exc)
        except ProctorError as exc:
            state = Failed(f"task {spec.context.task_key} could not run: {exc}", exception=exc)
        except BaseException as exc:  # the executor itself failed (dead worker, pickling, ...)
            state = Crashed(
                f"the {self.executor.name} executor failed running task "
                f"{spec.context.task_key}: {type(exc).__name__}: {exc}",
                exception=exc,
            )
        self._record(node, spec, state)

    def _verdict(self, node: Node, index: int | None, state: State) -> None:
        """A run decided without running (trigger, skip, pause, bad map): record it as one."""
        ctx = self._context(node, index)
        if self.observers or node.task.hooks:
            self._transition(node, ctx, _PENDING, state)
        self._conclude(node, ctx, state)

    def _record(self, node: Node, spec: TaskRunSpec, state: State) -> None:
        """An attempt ended in `state`: retry it, or conclude the task run.

        State handlers see the transition that actually happens (Running -> Retrying, or
        Running -> the final state) and may replace its new state: a handler that turns a
        Retrying into a final state stops the retries, one that turns a failure into a success
        stops it being a failure.
        """
        ctx = spec.context
        task = node.task
        if self.gate is not None and task.tags:
            try:
                self.gate.release(ctx)
            except Exception as exc:
                _task_log.warning("concurrency gate failed to release (%s: %s)",
                                  type(exc).__name__, exc, extra=task_run_extra(ctx))
        policy = task.retry_policy
        hooks = task.hooks
        if state.type is _RETRYING and isinstance(state.exception, LOOP):
            # a LOOP signal: the next iteration, at once
            self._loop(node, spec, state)
            return
        if not (policy.max_retries or hooks or self.observers):  # the common, cheap path
            self._conclude(node, ctx, state)
            return
        running = Running(started_at=state.started_at)
        tries = ctx.attempt - ctx.loop_count + 1  # loop iterations are not retries
        if policy.max_retries and policy.should_retry(state, tries):
            delay = policy.delay_before(tries + 1)
            retrying = Retrying(
                f"attempt {ctx.attempt} of {policy.max_retries + 1} failed ({state.message}); "
                f"retrying in {delay:.2f}s",
                at=time.time() + delay,
            ).with_changes(exception=state.exception, traceback=state.traceback)
            if hooks.state_handlers:
                retrying = self._handled(node, ctx, running, retrying)
            if retrying.type is StateType.RETRYING:
                self._schedule_retry(node, spec, running, retrying)
                return
            state = retrying
        elif hooks.state_handlers:
            state = self._handled(node, ctx, running, state)
        if self.observers or hooks:
            self._transition(node, ctx, running, state, handled=True)
        self._conclude(node, ctx, state)

    def _loop(self, node: Node, spec: TaskRunSpec, looped: State) -> None:
        """Start the next iteration of a looping task (`signals.LOOP`) as its next attempt."""
        ctx = spec.context
        signal = looped.exception
        if self.observers or node.task.hooks:
            running = Running(started_at=looped.started_at)
            self._transition(node, ctx, running, looped)
            self._retrying[ctx.id] = looped
        next_ctx = dataclasses.replace(ctx, attempt=ctx.attempt + 1,
                                       loop=(ctx.loop_count + 1, getattr(signal, "result", None)))
        self._dispatch(node, dataclasses.replace(spec, context=next_ctx))

    def _schedule_retry(
        self, node: Node, spec: TaskRunSpec, running: State, retrying: State
    ) -> None:
        ctx = spec.context
        _task_log.warning("Task run %s", retrying.message, extra=task_run_extra(ctx))
        if self.observers or node.task.hooks:
            self._transition(node, ctx, running, retrying, handled=True)
            self._retrying[ctx.id] = retrying
        next_ctx = dataclasses.replace(ctx, attempt=ctx.attempt + 1)
        due = retrying.result if isinstance(retrying.result, float) else time.time()
        heapq.heappush(
            self.timers,
            (due, next(self._tiebreak), node, dataclasses.replace(spec, context=next_ctx)),
        )

    def _conclude(self, node: Node, ctx: TaskRunContext, state: State) -> None:
        if node.task.is_secret and state.type is StateType.SUCCESS:
            self._learn_secret(state.result)
        if state.type in _LOGGED_FAILURES:
            _log_failure(ctx, state)
        for obs in self.observers:
            obs.task_run_finished(self, node, ctx, state)
        if ctx.map_index is None:
            self._finish(node, state)
        else:
            self._child_done(node, ctx.map_index, state)

    # -- transitions and hooks ------------------------------------------------------------------
    def _handled(self, node: Node, ctx: TaskRunContext, old: State, new: State) -> State:
        token = TASK_RUN.set(ctx)
        try:
            shown = self._for_hooks(new)
            handled = run_state_handlers(node.task, node.task.hooks, old, shown,
                                         task_run_extra(ctx))
            return new if handled is shown else handled  # the run keeps the result remote
        finally:
            TASK_RUN.reset(token)

    def _for_hooks(self, state: State) -> State:
        """The state as hooks see it: with its value, also when the executor keeps it remote
        (only tasks with hooks pay for that fetch)."""
        if self._remote and isinstance(state.result, RemoteValue):
            handle = state.result
            last = self._shown
            if last is not None and last[0] is handle:  # the state handlers' fetch, reused
                return state.with_changes(result=last[1])
            try:
                value = self.executor.fetch([handle])[0]
                self._shown = (handle, value)
                return state.with_changes(result=value)
            except Exception as exc:  # hooks still run; they see the handle
                _task_log.warning("result not fetched for hooks (%s: %s)",
                                  type(exc).__name__, exc)
        return state

    def _transition(
        self, node: Node, ctx: TaskRunContext, old: State, new: State, handled: bool = False
    ) -> None:
        """Tell observers and hooks that a task run moved from `old` to `new`."""
        for obs in self.observers:
            obs.task_run_transition(self, node, ctx, old, new)
        hooks = node.task.hooks
        if not hooks:
            return
        token = TASK_RUN.set(ctx)
        try:
            extra = task_run_extra(ctx)
            new = self._for_hooks(new)
            if not handled and hooks.state_handlers:
                run_state_handlers(node.task, hooks, old, new, extra)  # notification only here
            call_hooks(node.task, hooks, ctx, new, extra)
        finally:
            TASK_RUN.reset(token)

    # -- finishing ------------------------------------------------------------------------------
    def _child_done(self, node: Node, index: int, state: State) -> None:
        progress = self.maps[node]
        progress.children[index] = state
        progress.remaining -= 1
        if progress.remaining == 0:
            del self.maps[node]
            self._finish(node, Mapped(progress.children))

    def _finish(self, node: Node, state: State) -> None:
        self.states[node] = state
        for obs in self.observers:
            obs.node_finished(self, node, state)
        if self._consumers is not None:
            self._let_go_of_inputs(node)
        waiting, ready = self.waiting, self.ready
        for down in self.downstream.pop(node, ()):
            left = waiting[down] - 1
            if left:
                waiting[down] = left
            else:
                del waiting[down]
                ready.append(down)

    def _value(self, node: Node) -> Any:
        return self.states[node].result

    def _let_go_of_inputs(self, node: Node) -> None:
        """Drop the remote results `node` was the last reader of (see `add_all`)."""
        consumers = self._consumers
        for up in node.upstream:
            left = consumers.get(up, 0) - 1
            consumers[up] = left
            if left > 0:
                continue
            state = self.states.get(up)
            if state is None:
                continue
            if isinstance(state.result, RemoteValue):
                self.states[up] = state.with_changes(result=None)
            elif state.type is StateType.MAPPED and any(
                isinstance(c.result, RemoteValue) for c in state.children
            ):
                children = tuple(c.with_changes(result=None)
                                 if isinstance(c.result, RemoteValue) else c
                                 for c in state.children)
                self.states[up] = state.with_changes(children=children,
                                                     result=[c.result for c in children])

    # -- results an executor keeps remotely -----------------------------------------------------
    def _fetch_mapped(self, args: list, kwargs: dict) -> tuple[list, dict]:
        """Arguments of a map with the iterables it maps over fetched from the executor (what
        is passed `unmapped` stays remote, and so do the elements of a fetched list)."""
        fetch = self.executor.fetch
        args = [fetch([a])[0] if isinstance(a, RemoteValue) else a for a in args]
        kwargs = {k: fetch([v])[0] if isinstance(v, RemoteValue) else v
                  for k, v in kwargs.items()}
        return args, kwargs

    def value_of(self, node: Node) -> Any:
        """The result of a finished node as a value, fetched if the executor kept it remote."""
        result = self.states[node].result
        if self._remote:
            if isinstance(result, RemoteValue):
                return self.executor.fetch([result])[0]
            if isinstance(result, list) and any(isinstance(r, RemoteValue) for r in result):
                return self._fetched_list(result)
        return result

    def _fetched_list(self, items: list) -> list:
        remote = [r for r in items if isinstance(r, RemoteValue)]
        values = iter(self.executor.fetch(remote))
        return [next(values) if isinstance(r, RemoteValue) else r for r in items]

    def fetch_results(self) -> None:
        """Replace every remote result in the run's states by its value, with one `fetch`.

        Called at the end of a run, while the executor is still up, so that the run's final
        states hold values whatever the executor was. A result that cannot be fetched (its
        worker died and it cannot be recomputed) is left as its handle, with a warning. An
        executor told not to return results (`Executor.returns_results` False: results too big
        for the flow's machine) gets its handles dropped instead: those results read None.
        """
        if not self._remote:
            return
        wanted: list[RemoteValue] = []
        for state in self.states.values():
            if isinstance(state.result, RemoteValue):
                wanted.append(state.result)
            elif state.type is StateType.MAPPED:
                wanted.extend(c.result for c in state.children
                              if isinstance(c.result, RemoteValue))
        if not wanted:
            return
        keep = self.executor.returns_results
        values = _fetch_each(self.executor, wanted) if keep else {}

        def value(handle: RemoteValue) -> Any:
            return values.get(id(handle), handle if keep else None)

        for node, state in list(self.states.items()):
            result = state.result
            if isinstance(result, RemoteValue):
                self.states[node] = state.with_changes(result=value(result))
            elif state.type is StateType.MAPPED and any(
                isinstance(c.result, RemoteValue) for c in state.children
            ):
                children = tuple(
                    c.with_changes(result=value(c.result))
                    if isinstance(c.result, RemoteValue) else c
                    for c in state.children
                )
                self.states[node] = state.with_changes(
                    children=children, result=[c.result for c in children]
                )


def _fetch_each(executor: Executor, wanted: list[RemoteValue]) -> dict[int, Any]:
    """Values by handle id: all at once, or one by one when that fails, so that one lost
    result does not cost the others."""
    try:
        return {id(h): v for h, v in zip(wanted, executor.fetch(wanted), strict=True)}
    except Exception:
        values = {}
        for handle in wanted:
            try:
                values[id(handle)] = executor.fetch([handle])[0]
            except Exception as exc:
                _task_log.warning("a result kept by the %s executor could not be fetched "
                                  "(%s: %s); the run's state keeps its handle %r",
                                  executor.name, type(exc).__name__, exc, handle)
        return values


def _log_failure(ctx: TaskRunContext, state: State) -> None:
    text = f"Task run failed: {state.message}"
    if state.traceback:
        text = f"{text}\n{state.traceback.rstrip()}"
    _task_log.error(text, extra=task_run_extra(ctx))
