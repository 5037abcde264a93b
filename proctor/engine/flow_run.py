"""Run a whole flow: set the flow-run context, drive a `GraphRun`, decide the final state.

`run_graph` runs a graph built with `with Flow(...)`; `run_function` runs a `@flow` body. Both use
the same `GraphRun`, the same rule for the final state (`core.flow_state`), and the same wrapper
for what happens around attempts: flow transitions (Pending -> Running -> [Retrying -> Running]
-> final) told to observers, state handlers and hooks, and whole-flow retries.

A run always reaches a final state that observers (the recorder) are told about, even when it
does not end on its own: an interrupt (Ctrl-C, SIGTERM, a cancel; see `engine.interrupts`) ends
it CANCELLED with the reason, and an error of the machinery rather than of the tasks (an
executor that cannot start, a Dask scheduler out of reach) ends it CRASHED with the error. The
exception is raised again afterwards, so the caller still sees it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.context import CALL_SINK, FLOW_RUN, FlowRunContext
from ..core.flow_state import flow_state
from ..core.graph import FlowGraph, StateMap
from ..core.hooks import Hooks
from ..core.ids import new_id
from ..core.resume import Resumption
from ..core.retries import RetryPolicy
from ..core.states import Cancelled, Crashed, Failed, Pending, Retrying, Running, State
from .dynamic import DynamicSink, resolve_returned
from .executor import Executor
from .graph_run import GraphRun
from .hooks import call_hooks, run_state_handlers
from .interrupts import reason_of
from .logs import FLOW_LOGGER, configure_console
from .observers import RunObserver
from .task_runner import user_traceback

_log = logging.getLogger(FLOW_LOGGER)


@dataclass(frozen=True)
class FlowRunOptions:
    """What a flow asks of each of its runs beyond the tasks: retries and hooks."""

    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    hooks: Hooks = field(default_factory=Hooks)


def _extra(ctx: FlowRunContext) -> dict:
    return {"flow_run_id": ctx.flow_run_id, "flow_name": ctx.flow_name,
            "task_run_id": None, "task_name": None}


def run_graph(
    graph: FlowGraph,
    parameters: Mapping[str, Any] | None,
    executor: Executor,
    observers: Iterable[RunObserver] = (),
    options: FlowRunOptions | None = None,
    flow_run_id: str | None = None,
    gate: Any = None,
    resumption: Resumption | None = None,
) -> State:
    """Run every node of `graph`; the state's result maps each node to its final state.
    With `resumption`, what an earlier run achieved is kept (see `core.resume`)."""
    values = graph.validate_parameters(parameters)
    order = graph.sorted_nodes()
    observers = list(observers)

    def attempt(ctx: FlowRunContext) -> State:
        run = GraphRun(ctx.flow_run_id, graph.name, executor, values, observers, gate=gate,
                       resumption=resumption, run_values=ctx.values,
                       default_result=getattr(graph, "result", None))
        started = time.time()
        for obs in observers:
            obs.flow_run_started(run, order)
        building = CALL_SINK.set(None)  # a run started inside `with Flow` builds nothing
        try:
            with executor:
                run.add_all(order)
                run.pump()
                run.fetch_results()  # results an executor kept remote come back once, at the end
        finally:
            CALL_SINK.reset(building)
        results = StateMap((node, run.states[node]) for node in graph.nodes)
        reference = [(n.key, run.states[n]) for n in graph.reference_nodes()]
        every = [(n.key, s) for n, s in results.items()]
        state = flow_state(reference, every, started_at=started, result=results)
        handler = getattr(graph, "terminal_state_handler", None)
        if handler is not None:
            state = _terminal_state(graph, handler, state, [s for _, s in reference])
        for obs in observers:
            obs.flow_run_finished(run, state)
        return state

    return _run_attempts(graph, graph.name, values, observers, options, attempt, flow_run_id)


def run_function(
    name: str,
    fn: Callable[..., Any],
    parameters: dict[str, Any],
    executor: Executor,
    observers: Iterable[RunObserver] = (),
    options: FlowRunOptions | None = None,
    owner: Any = None,
    flow_run_id: str | None = None,
    gate: Any = None,
    resumption: Resumption | None = None,
) -> State:
    """Run a `@flow` body with its (validated) parameters; the state's result is its return.
    With `resumption`, what an earlier run achieved is kept (see `core.resume`)."""
    observers = list(observers)

    def attempt(ctx: FlowRunContext) -> State:
        run = GraphRun(ctx.flow_run_id, name, executor, parameters, observers, gate=gate,
                       resumption=resumption, run_values=ctx.values)
        graph = FlowGraph(name)
        sink = DynamicSink(graph, run)
        sink_token = CALL_SINK.set(sink)
        started = time.time()
        for obs in observers:
            obs.flow_run_started(run, [])
        error: BaseException | None = None
        trace = None
        value = None
        try:
            with executor:
                try:
                    value = resolve_returned(fn(**parameters))
                except Exception as exc:
                    error, trace = exc, user_traceback(exc)
                run.pump()  # let everything the body submitted finish
                run.fetch_results()
        finally:
            CALL_SINK.reset(sink_token)
        task_states = StateMap((node, run.states[node]) for node in graph.nodes)
        if error is not None:
            state = Failed(f"flow body raised {type(error).__name__}: {error}", exception=error,
                           traceback=trace, started_at=started)
        else:
            unhandled = [(n.key, s) for n, s in task_states.items() if n not in sink.handled]
            state = flow_state(unhandled, [(n.key, s) for n, s in task_states.items()],
                               started_at=started, result=value)
        state = state.with_changes(task_states=task_states)
        for obs in observers:
            obs.flow_run_finished(run, state)
        return state

    return _run_attempts(owner, name, parameters, observers, options, attempt, flow_run_id)


def _terminal_state(graph: Any, handler: Callable, state: State, reference: list) -> State:
    """The flow's `terminal_state_handler` may replace its final state (Prefect 1)."""
    try:
        new = handler(graph, state, set(reference))
    except Exception as exc:
        return Failed(f"terminal_state_handler raised {type(exc).__name__}: {exc}",
                      exception=exc, traceback=user_traceback(exc),
                      started_at=state.started_at).with_changes(result=state.result)
    if new is None:
        return state
    if not isinstance(new, State):
        exc = TypeError(f"terminal_state_handler returned {new!r}, not a State or None")
        return Failed(str(exc), exception=exc).with_changes(result=state.result)
    return new if new.result is not None else new.with_changes(result=state.result)


def _run_attempts(
    owner: Any,
    name: str,
    parameters: dict[str, Any],
    observers: list[RunObserver],
    options: FlowRunOptions | None,
    attempt: Callable[[FlowRunContext], State],
    flow_run_id: str | None = None,
) -> State:
    """Run attempts of one flow run until one is final, telling everyone each transition.

    `flow_run_id` is given when the run already exists elsewhere (an agent running a run the
    server scheduled); otherwise a new id is chosen.
    """
    options = options or FlowRunOptions()
    policy, hooks = options.retry_policy, options.hooks
    configure_console()
    from ..core.context_values import run_values

    values = run_values()
    values["parameters"] = parameters
    ctx = FlowRunContext(flow_run_id or new_id(), name, parameters, values)
    token = FLOW_RUN.set(ctx)
    current: State = Pending()  # the last state observers were told
    try:
        number = 1
        while True:
            running = Running()
            _transition(owner, ctx, hooks, observers, current, running)
            current = running
            _log.info("Flow run %r started%s", name,
                      f" (attempt {number})" if number > 1 else "", extra=_extra(ctx))
            state = attempt(ctx)
            if hooks.state_handlers:
                state = run_state_handlers(owner, hooks, running, state, _extra(ctx))
            if policy.max_retries and policy.should_retry(state, number):
                delay = policy.delay_before(number + 1)
                retrying = Retrying(
                    f"attempt {number} of {policy.max_retries + 1} failed ({state.message}); "
                    f"retrying in {delay:.2f}s", at=time.time() + delay,
                ).with_changes(exception=state.exception, traceback=state.traceback)
                _log.warning("Flow run %r: %s", name, retrying.message, extra=_extra(ctx))
                _transition(owner, ctx, hooks, observers, running, retrying)
                current = retrying
                time.sleep(delay)
                number += 1
                continue
            _transition(owner, ctx, hooks, observers, running, state, handled=True)
            current = state
            _log_end(ctx, state)
            return state
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, a cancel: see engine.interrupts
        if not current.is_finished():
            _end_abruptly(owner, ctx, hooks, observers, current, Cancelled(reason_of(exc)))
        raise
    except Exception as exc:  # the machinery failed, not a task (their errors are states)
        if not current.is_finished():
            crashed = Crashed(f"the run could not go on: {type(exc).__name__}: {exc}",
                              exception=exc)
            _end_abruptly(owner, ctx, hooks, observers, current, crashed)
        raise
    finally:
        FLOW_RUN.reset(token)


def _end_abruptly(
    owner: Any, ctx: FlowRunContext, hooks: Hooks, observers: list[RunObserver],
    current: State, final: State,
) -> None:
    """Tell everyone the run ended in `final` although no attempt finished."""
    _transition(owner, ctx, hooks, observers, current, final, handled=True)
    _log_end(ctx, final)


def _transition(
    owner: Any, ctx: FlowRunContext, hooks: Hooks, observers: list[RunObserver],
    old: State, new: State, handled: bool = False,
) -> None:
    for obs in observers:
        obs.flow_run_transition(ctx, old, new)
    if hooks:
        if not handled and hooks.state_handlers:
            run_state_handlers(owner, hooks, old, new, _extra(ctx))
        call_hooks(owner, hooks, ctx, new, _extra(ctx))


def _log_end(ctx: FlowRunContext, state: State) -> None:
    level = logging.ERROR if state.is_failed() else logging.INFO
    text = f"Flow run {ctx.flow_name!r} finished: {state.name} ({state.message})"
    if state.traceback:
        text = f"{text}\n{state.traceback.rstrip()}"
    _log.log(level, text, extra=_extra(ctx))
