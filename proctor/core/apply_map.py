"""`apply_map(fn, *args)`: a function of tasks applied to each element, as one mapped sub-graph.

Prefect 1's apply_map calls `fn` once, while the graph is built, in a scope where every task call
becomes a mapped call: the arguments given to `apply_map` are mapped over (a plain list becomes a
constant task to map over; `unmapped(x)` passes x whole), results of tasks called inside the
scope are mapped too, and every other argument (constants, tasks from outside) is passed whole.
A `case` inside the scope makes a mapped check, and the branch's tasks wait for it element by
element (`Node.mapped_upstream`): element 3 skipped by its case skips only element 3 after it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from .bindings import Unmapped
from .context import CALL_SINK
from .errors import FlowDefinitionError

SCOPES: ContextVar[tuple[Any, ...]] = ContextVar("proctor_apply_map", default=())


class MappingScope:
    """The nodes mapped element by element inside one `apply_map` call."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.sources: set[int] = set()

    def source(self, value: Any) -> Any:
        """An argument of apply_map as what task calls inside will map over."""
        if isinstance(value, Unmapped):
            return value.value  # fn sees the value; calls inside pass it whole
        node = self.graph._to_node(value)
        if node is None:
            from .constants import Constant

            node = self.graph.record_call(Constant(value), (), {})
        self.sources.add(id(node))
        return node

    def call(self, task: Any, args: tuple, kwargs: dict, upstream: Any) -> Any:
        wrap = self._argument
        values = (*args, *kwargs.values())
        if not any(self._is_source(v) for v in values) and not any(
            self._is_source(u) for u in upstream or ()
        ):  # nothing of the mapped elements reaches it: an ordinary call
            return self.graph.record_call(task, args, kwargs, upstream)
        node = self.graph.record_call(
            task, tuple(wrap(a) for a in args), {k: wrap(v) for k, v in kwargs.items()},
            upstream, mapped=True,
        )
        self.sources.add(id(node))
        return node

    def _is_source(self, value: Any) -> bool:
        node = self.graph._to_node(value) if not isinstance(value, Unmapped) else None
        return node is not None and id(node) in self.sources

    def _argument(self, value: Any) -> Any:
        if isinstance(value, Unmapped):
            return value
        node = self.graph._to_node(value)
        if node is not None and id(node) in self.sources:
            return node
        return Unmapped(value)


def mapping_scope(graph: Any) -> MappingScope | None:
    """The innermost apply_map scope open on `graph`, or None."""
    for scope in reversed(SCOPES.get()):
        if scope.graph is graph:
            return scope
    return None


def apply_map(fn: Callable[..., Any], *args: Any, flow: Any = None, **kwargs: Any) -> Any:
    """Call `fn` (a function that calls tasks) once per element of `args`/`kwargs`, as a mapped
    sub-graph; returns what `fn` returns (mapped handles). See the module docstring."""
    graph = flow if flow is not None else CALL_SINK.get()
    if not getattr(graph, "records_calls", False):
        raise FlowDefinitionError(
            "apply_map(fn, ...) builds a mapped part of a graph: call it inside `with "
            "Flow(...)` or pass flow=my_flow. In a @flow function, call fn in a loop instead"
        )
    if not callable(fn):
        raise FlowDefinitionError(f"apply_map(fn, ...): fn={fn!r} is not callable")
    from .context import BuildExtras

    BuildExtras.used = True
    scope = MappingScope(graph)
    mapped_args = [scope.source(a) for a in args]
    mapped_kwargs = {k: scope.source(v) for k, v in kwargs.items()}
    token = SCOPES.set((*SCOPES.get(), scope))
    sink = CALL_SINK.set(graph)
    try:
        return fn(*mapped_args, **mapped_kwargs)
    finally:
        CALL_SINK.reset(sink)
        SCOPES.reset(token)
