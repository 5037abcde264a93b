"""Run a whole flow: set the flow-run context, drive a `GraphRun`, decide the final state.

`run_graph` runs a graph built with `with Flow(...)`; `run_function` runs a `@flow` body. Both use
the same `GraphRun` and the same rule for the final state (`core.flow_state`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..core.context import CALL_SINK, FLOW_RUN, FlowRunContext
from ..core.flow_state import flow_state
from ..core.graph import FlowGraph, StateMap
from ..core.ids import new_id
from ..core.states import Failed, State
from .dynamic import DynamicSink, resolve_returned
from .executor import Executor
from .graph_run import GraphRun
from .logs import FLOW_LOGGER, configure_console
from .observers import RunObserver
from .task_runner import user_traceback

_log = logging.getLogger(FLOW_LOGGER)


def _extra(ctx: FlowRunContext) -> dict:
    return {"flow_run_id": ctx.flow_run_id, "flow_name": ctx.flow_name,
            "task_run_id": None, "task_name": None}


def run_graph(
    graph: FlowGraph,
    parameters: Mapping[str, Any] | None,
    executor: Executor,
    observers: Iterable[RunObserver] = (),
) -> State:
    """Run every node of `graph`; the state's result maps each node to its final state."""
    values = graph.validate_parameters(parameters)
    order = graph.sorted_nodes()
    configure_console()
    ctx = FlowRunContext(new_id(), graph.name, values)
    run = GraphRun(ctx.flow_run_id, graph.name, executor, values, list(observers))
    token = FLOW_RUN.set(ctx)
    started = time.time()
    _log.info("Flow run %r started", graph.name, extra=_extra(ctx))
    for obs in run.observers:
        obs.flow_run_started(run, order)
    try:
        with executor:
            run.add_all(order)
            run.pump()
    finally:
        FLOW_RUN.reset(token)
    results = StateMap((node, run.states[node]) for node in order)
    reference = [(n.key, run.states[n]) for n in graph.terminal_nodes()]
    state = flow_state(reference, [(n.key, s) for n, s in results.items()], started_at=started,
                       result=results)
    return _finished(run, ctx, state)


def run_function(
    name: str,
    fn: Callable[..., Any],
    parameters: dict[str, Any],
    executor: Executor,
    observers: Iterable[RunObserver] = (),
) -> State:
    """Run a `@flow` body with its (validated) parameters; the state's result is its return."""
    configure_console()
    ctx = FlowRunContext(new_id(), name, parameters)
    run = GraphRun(ctx.flow_run_id, name, executor, parameters, list(observers))
    graph = FlowGraph(name)
    sink = DynamicSink(graph, run)
    flow_token = FLOW_RUN.set(ctx)
    sink_token = CALL_SINK.set(sink)
    started = time.time()
    _log.info("Flow run %r started", name, extra=_extra(ctx))
    for obs in run.observers:
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
    finally:
        CALL_SINK.reset(sink_token)
        FLOW_RUN.reset(flow_token)
    task_states = StateMap((node, run.states[node]) for node in graph.nodes)
    if error is not None:
        state = Failed(f"flow body raised {type(error).__name__}: {error}", exception=error,
                       traceback=trace, started_at=started)
    else:
        unhandled = [(n.key, s) for n, s in task_states.items() if n not in sink.handled
                     and not graph.downstream(n)]
        state = flow_state(unhandled, [(n.key, s) for n, s in task_states.items()],
                           started_at=started, result=value)
    return _finished(run, ctx, state.with_changes(task_states=task_states))


def _finished(run: GraphRun, ctx: FlowRunContext, state: State) -> State:
    for obs in run.observers:
        obs.flow_run_finished(run, state)
    level = logging.ERROR if state.is_failed() else logging.INFO
    text = f"Flow run {ctx.flow_name!r} finished: {state.name} ({state.message})"
    if state.traceback:
        text = f"{text}\n{state.traceback.rstrip()}"
    _log.log(level, text, extra=_extra(ctx))
    return state
