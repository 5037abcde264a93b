"""The task graph of a flow, built by calling tasks inside `with FlowGraph(...)`.

Each task call becomes a `Node` (the handle the call returns). Edges come from data (a handle
passed as an argument, anywhere inside lists, tuples, sets and dicts) or from order alone
(`upstream_tasks=[...]`, `set_upstream`, `set_dependencies`). The graph is pure data: building it
runs nothing, and it knows nothing of executors or threads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .apply_map import mapping_scope
from .bindings import Bindings, Unmapped, bind, split_mapped, strip_unmapped
from .context import CALL_SINK, BuildExtras
from .control_flow import guard_of
from .errors import (
    CycleError,
    FlowDefinitionError,
    MissingParameterError,
    NotATaskError,
    TaskHandleError,
    UnknownParameterError,
)
from .imperative import Edge, ImperativeGraph
from .operators import Operators
from .task import Task
from .triggers import BUILTIN, RUNS_ON_FAILURE

_NO_DEFAULT = object()


class Node(Operators):
    """One call of a task in a flow's graph: the handle a call returns while building.

    Operators on a handle record small tasks (`a + b`, see `core.operators`); some of the task's
    attributes read through it (`handle.tags`, `handle.max_retries`), as Prefect 1's copies of
    a task offered them. A node added by the imperative API (`flow.add_task(t)`,
    `t.set_upstream(..., flow=f)`) stands for its task: the task-level views (`flow.tasks`,
    `root_tasks()`) show the task object itself, which is what such code holds.
    """

    _proctor_handle = True
    __slots__ = ("flow", "task", "key", "bindings", "mapped", "order_deps", "mapped_upstream",
                 "added", "__weakref__")

    def __init__(self, flow: FlowGraph, task: Task, key: str, bindings: Bindings, mapped: bool):
        self.flow = flow
        self.task = task
        self.key = key
        self.bindings = bindings
        self.mapped = mapped
        self.order_deps: list[Node] = []
        #: upstreams a mapped node maps over without taking their values (`.map(upstream_tasks=
        #: [t])` in Prefect 1): one run per element of their results; also in `order_deps`
        self.mapped_upstream: tuple[Node, ...] = ()
        self.added = False

    @property
    def handle(self) -> Any:
        """What the user holds for this node: the task when it was added whole, else the node."""
        return self.task if self.added else self

    # Some of the task's attributes, read through the call as Prefect 1's task copies offered
    # them. Properties, not __getattr__: a class with __getattr__ pays on every attribute
    # access, and the engine reads nodes' attributes several times per task run.
    tags = property(lambda self: self.task.tags)
    slug = property(lambda self: self.task.slug)
    max_retries = property(lambda self: self.task.max_retries)
    timeout = property(lambda self: self.task.timeout)
    trigger = property(lambda self: self.task.trigger)
    description = property(lambda self: self.task.description)
    logger = property(lambda self: self.task.logger)

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def upstream(self) -> tuple[Node, ...]:
        """Every node this one waits for: data dependencies first, then order-only ones."""
        deps = self.bindings.deps
        if not self.order_deps:  # (upstreams mapped over without values are order deps too)
            return deps
        seen = {id(n) for n in deps}
        return deps + tuple(n for n in self.order_deps if id(n) not in seen)

    def set_upstream(self, other: Any, flow: Any = None, key: str | None = None,
                     mapped: bool = False) -> None:
        """Make `other` run before this call (passed as argument `key` when given)."""
        self.flow.add_edge(other, self, key=key, mapped=mapped)

    def set_downstream(self, other: Any, flow: Any = None, key: str | None = None,
                       mapped: bool = False) -> None:
        """Make this call run before `other` (passed to it as argument `key` when given)."""
        self.flow.add_edge(self, other, key=key, mapped=mapped)

    def __getitem__(self, key: Any) -> Node:
        """`rows[0]` inside a flow: a node that picks one item of this node's result."""
        return self.flow.call(GET_ITEM, (self, key), {}, None)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotATaskError(
            f"{self!r} is the result of a task call, not a task, so it cannot be called; call "
            f"the task itself ({self.task.name}(...)) to run it again"
        )

    def map(self, *args: Any, **kwargs: Any) -> Any:
        raise NotATaskError(
            f"{self!r} is the result of a task call, not a task; use {self.task.name}.map(...) "
            f"to map the task, or pass this handle as the iterable to map over"
        )

    def __iter__(self) -> Iterator[Any]:
        """`a, b = t()` for a task that says how many values it returns (`nout=2`, or a
        `-> tuple[int, int]` annotation): one item node per value."""
        count = outputs_of(self.task)
        if count:
            return iter([self[i] for i in range(count)])
        raise TypeError(
            f"cannot iterate over {self!r} while building flow {self.flow.name!r}: its value "
            f"exists only at run time. Use a_task.map({self.key}) to run a task per element, "
            f"or give the task nout=N (or a tuple[...] return annotation) to unpack N values."
        )

    def __repr__(self) -> str:
        kind = "mapped " if self.mapped else ""
        return f"<{kind}task {self.key!r}>"


class _NoDefault:
    """The default of a `Parameter` given none (distinct from an explicit `default=None`)."""

    def __repr__(self) -> str:
        return "<no default>"


NO_DEFAULT: Any = _NoDefault()


class Parameter(Task):
    """A named input of a flow, given to `flow.run(parameters={...})`.

    Created inside `with Flow(...)`, it joins that flow at once; used as an argument, it passes
    its value to the task. As in Prefect 1, a parameter without a default is required (a run
    without it is refused, naming it), unless `required=False` (it is then None); one with a
    default, even `default=None`, is optional unless `required=True`.
    """

    is_parameter = True

    def __init__(self, name: str, default: Any = NO_DEFAULT,
                 required: bool | None = None) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise FlowDefinitionError(
                f"Parameter name {name!r} is not valid: use a Python identifier such as 'n'"
            )
        super().__init__(name=name)
        self.default = None if default is NO_DEFAULT else default
        self.required = (default is NO_DEFAULT) if required is None else bool(required)
        sink = CALL_SINK.get()
        if isinstance(sink, FlowGraph):
            sink.add_task(self)

    def run(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - engine feeds values
        return self.default

    def coerce(self, value: Any) -> Any:
        """The value the flow's tasks receive for what the run was given (as it is, here)."""
        return value

    def __repr__(self) -> str:
        return f"<Parameter {self.name!r}>"


class DateTimeParameter(Parameter):
    """A parameter read as a datetime: ISO-8601 text ('2026-12-06T09:00:00+00:00', or a date)
    or a datetime; None stays None (Prefect 1's DateTimeParameter)."""

    def coerce(self, value: Any) -> Any:
        from datetime import date, datetime

        if value is None or isinstance(value, datetime):
            return value
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day)
        if isinstance(value, str):
            text = value.strip()
            try:
                return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z")
                                              else text)
            except ValueError:
                pass
        raise ValueError(f"{value!r} is not a datetime; give ISO-8601 text such as "
                         f"'2026-12-06T09:00:00+00:00'")


class _GetItem(Task):
    """Picks `value[key]`: what `handle[key]` records in a flow."""

    def run(self, value: Any, key: Any) -> Any:
        return value[key]


GET_ITEM = _GetItem(name="getitem")


class StateMap(dict):
    """{node: State} of a flow run, also looked up by task object or by node key/name."""

    def __missing__(self, key: Any) -> Any:
        if isinstance(key, Task):
            matches = [n for n in self if n.task is key]
            what = f"task {key.name!r}"
        elif isinstance(key, str):
            matches = [n for n in self if n.key == key] or [n for n in self if n.name == key]
            what = f"key {key!r}"
        else:
            raise KeyError(f"{key!r} is not a task of this flow run")
        if len(matches) == 1:
            return self[matches[0]]
        if not matches:
            raise KeyError(f"no {what} in this flow run; known: {sorted(n.key for n in self)}")
        raise KeyError(
            f"{what} was called {len(matches)} times in this flow; use the handle a call "
            f"returned, or one of the keys {[n.key for n in matches]}"
        )


class FlowGraph(ImperativeGraph):
    """A named graph of task calls. `with FlowGraph("etl") as g:` records calls into it.

    The node-level API (`nodes`, `root_nodes()`, `add_edge`) is the engine's; the task-level
    views and the imperative wiring of Prefect 1 (`tasks`, `edges`, `root_tasks()`, `bind`,
    `copy`) are in `core.imperative`.
    """

    #: what `core.operators` looks for to know a graph is being built
    records_calls = True

    def __init__(self, name: str, *, description: str = "") -> None:
        if not isinstance(name, str) or not name.strip():
            raise FlowDefinitionError(f"a flow needs a non-empty name, got {name!r}")
        self.name = name
        self.description = description
        self.nodes: list[Node] = []
        self._downstream: dict[Node, list[Node]] = {}
        self._by_task: dict[Task, list[Node]] = {}
        self._keys: dict[str, int] = {}
        self._tokens: list[Any] = []
        self._reference: list[Node] | None = None
        #: nodes of other graphs -> this graph's node for them (after `copy`/`update`)
        self._origin: dict[Node, Node] = {}

    # -- the `with` block -----------------------------------------------------------------------
    def __enter__(self) -> FlowGraph:
        self._tokens.append(CALL_SINK.set(self))
        return self

    def __exit__(self, *exc: Any) -> None:
        CALL_SINK.reset(self._tokens.pop())

    # -- CallSink: what task calls inside the block do ----------------------------------------
    def call(self, task: Task, args: tuple, kwargs: dict, upstream: Iterable[Any] | None) -> Node:
        if BuildExtras.used:  # apply_map or mapped() was used: they may apply to this call
            scope = mapping_scope(self)
            if scope is not None:  # inside apply_map: every call is mapped (core.apply_map)
                return scope.call(task, args, kwargs, upstream)
            split = split_mapped(args, kwargs)  # `t(x=mapped(rows), y=5)`: a mapped call
            if split is not None:
                return self.record_call(task, *split, upstream, mapped=True)
        return self.record_call(task, args, kwargs, upstream)

    def submit(self, task: Task, args: tuple, kwargs: dict, upstream: Iterable[Any] | None) -> Node:
        return self.record_call(task, args, kwargs, upstream)

    def map(self, task: Task, args: tuple, kwargs: dict, upstream: Iterable[Any] | None) -> Node:
        if not args and not kwargs and not upstream:
            raise FlowDefinitionError(
                f"{task.name}.map() needs at least one argument (or mapped upstream task) to map "
                f"over"
            )
        return self.record_call(task, args, kwargs, upstream, mapped=True)

    # -- building -------------------------------------------------------------------------------
    def add_node(self, task: Task) -> Node:
        """The node of `task` added whole (with no arguments yet), or its node if it is in the
        flow already."""
        existing = self._by_task.get(self._check_task(task))
        if existing:
            return existing[0]
        node = self.record_call(task, (), {})
        node.added = True
        return node

    def node_of(self, item: Any) -> Node:
        """The node an argument stands for: a handle of this flow, or a task used once here."""
        if isinstance(item, Node):
            if item.flow is not self:
                adopted = self._origin.get(item)  # a handle of the flow this one copies
                if adopted is not None:
                    return adopted
                raise TaskHandleError(
                    f"task handle {item!r} belongs to flow {item.flow.name!r} and cannot be used "
                    f"in flow {self.name!r}; call the task again inside this flow instead"
                )
            return item
        task = self._check_task(item)
        nodes = self._by_task.get(task)
        if not nodes:
            return self.add_node(task)
        if len(nodes) > 1:
            raise FlowDefinitionError(
                f"task {task.name!r} is called {len(nodes)} times in flow {self.name!r}, so the "
                f"task alone is ambiguous; use the handle returned by the call you mean"
            )
        return nodes[0]

    def set_dependencies(
        self,
        task: Any,
        upstream_tasks: Iterable[Any] | None = None,
        downstream_tasks: Iterable[Any] | None = None,
        keyword_tasks: Mapping[str, Any] | None = None,
        mapped: bool = False,
        **_ignored: Any,
    ) -> None:
        """Wire `task` into the flow: order-only upstreams/downstreams, and data by keyword
        (mapped over when `mapped`; the other arguments of a mapped task are passed whole)."""
        node = self.node_of(task)
        if keyword_tasks:
            args, kwargs = node.bindings.args, dict(node.bindings.kwargs)
            if mapped and not node.mapped:  # what it had before is passed whole
                args = tuple(_whole(args))
                kwargs = {k: unmapped_value(v) for k, v in kwargs.items()}
                node.mapped = True
            kwargs.update(_as_mapped(node, keyword_tasks, mapped))
            self.rebind(node, args, kwargs)
        for up in upstream_tasks or ():
            self.add_edge(up, node)
        for down in downstream_tasks or ():
            self.add_edge(node, down)

    def rebind(self, node: Node, args: tuple | list, kwargs: dict) -> None:
        """Give `node` new arguments (the imperative `bind`, keyword edges), linking the new
        upstreams."""
        old = {id(n): n for n in node.bindings.deps}
        node.bindings = bind(tuple(args), dict(kwargs), self._to_node)
        kept = {id(n) for n in node.upstream}
        for gone in (n for i, n in old.items() if i not in kept):
            downs = self._downstream.get(gone, [])
            downs[:] = [d for d in downs if d is not node]
        for up in node.bindings.deps:
            if id(up) not in old:
                if self._path(node, up) is not None:
                    raise CycleError(
                        f"passing {up.key!r} to {node.key!r} would create a cycle in flow "
                        f"{self.name!r}"
                    )
                self._link(up, node)

    def add_edge(self, upstream: Any, downstream: Any, key: str | None = None,
                 mapped: bool = False, **_ignored: Any) -> Edge:
        """`downstream` runs after `upstream` finishes; with `key`, it receives `upstream`'s
        result as its argument `key` (mapped over it when `mapped`). With `mapped` and no key,
        `downstream` runs once per element of `upstream`'s result without taking it.
        Returns the `Edge`."""
        up, down = self.node_of(upstream), self.node_of(downstream)
        if key is not None:
            self.set_dependencies(down, keyword_tasks={key: up}, mapped=mapped)
            return Edge(up.handle, down.handle, key=key, mapped=mapped)
        self._order_edge(up, down)
        if mapped and not any(n is up for n in down.mapped_upstream):
            down.mapped_upstream = (*down.mapped_upstream, up)
            down.mapped = True
        return Edge(up.handle, down.handle, mapped=mapped)

    def _order_edge(self, up: Node, down: Node) -> None:
        if up is down:
            raise CycleError(f"task {up.key!r} cannot depend on itself in flow {self.name!r}")
        if any(n is up for n in down.upstream):
            return
        path = self._path(down, up)
        if path is not None:
            chain = " -> ".join(n.key for n in [up, *path])
            raise CycleError(
                f"making {down.key!r} depend on {up.key!r} would create a cycle in flow "
                f"{self.name!r}: {chain}"
            )
        down.order_deps.append(up)
        self._link(up, down)

    # -- reading --------------------------------------------------------------------------------
    def upstream(self, node: Node) -> tuple[Node, ...]:
        return node.upstream

    def downstream(self, node: Node) -> list[Node]:
        return self._downstream.get(node, [])

    def parameters(self) -> dict[str, Parameter]:
        return {n.task.name: n.task for n in self.nodes if n.task.is_parameter}

    def terminal_nodes(self) -> list[Node]:
        return [n for n in self.nodes if not self._downstream.get(n)]

    def set_reference_tasks(self, tasks: Iterable[Any]) -> None:
        """Choose the tasks whose states decide the flow's final state."""
        self._reference = [self.node_of(t) for t in tasks]

    def reference_nodes(self) -> list[Node]:
        """The nodes whose states decide the flow's final state.

        Explicit ones when `set_reference_tasks` was called. Otherwise the terminal nodes, where
        a terminal node whose trigger runs even after failures (`always_run`/`all_finished`,
        `any_failed`, `all_failed`, or a custom trigger) also brings in its upstream nodes, and
        so on up: a cleanup or a failure handler at the end never hides a failure before it.
        """
        if self._reference is not None:
            return list(self._reference)
        chosen: dict[Node, None] = {}
        todo = self.terminal_nodes()
        while todo:
            node = todo.pop()
            if node in chosen:
                continue
            chosen[node] = None
            trigger = node.task.trigger
            if trigger in RUNS_ON_FAILURE or trigger not in BUILTIN:
                todo.extend(node.upstream)
        return [n for n in self.nodes if n in chosen]

    def root_nodes(self) -> list[Node]:
        return [n for n in self.nodes if not n.upstream]

    def sorted_nodes(self) -> list[Node]:
        """Nodes in an order where every node comes after its upstreams (Kahn's algorithm)."""
        waiting = {n: len(n.upstream) for n in self.nodes}
        ready = deque(n for n in self.nodes if waiting[n] == 0)
        out: list[Node] = []
        while ready:
            node = ready.popleft()  # stable: tasks start in the order they were written
            out.append(node)
            for down in self._downstream.get(node, ()):
                waiting[down] -= 1
                if waiting[down] == 0:
                    ready.append(down)
        if len(out) != len(self.nodes):
            stuck = sorted(n.key for n, w in waiting.items() if w > 0)
            raise CycleError(f"flow {self.name!r} has a cycle through: {', '.join(stuck)}")
        return out

    def validate_parameters(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        """The value of every parameter for a run, or a clear error before anything runs."""
        declared = self.parameters()
        given = dict(given or {})
        unknown = sorted(set(given) - set(declared))
        if unknown:
            valid = ", ".join(sorted(declared)) or "(none: this flow takes no parameters)"
            raise UnknownParameterError(
                f"flow {self.name!r} has no parameter(s) {', '.join(map(repr, unknown))}; "
                f"valid names: {valid}"
            )
        missing = sorted(n for n, p in declared.items() if p.required and n not in given)
        if missing:
            raise MissingParameterError(
                f"flow {self.name!r} needs parameter(s) {', '.join(map(repr, missing))}: pass "
                f"them as parameters={{{', '.join(repr(m) + ': ...' for m in missing)}}}"
            )
        return {n: given.get(n, p.default) for n, p in declared.items()}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {len(self.nodes)} task(s)>"

    # -- internals ------------------------------------------------------------------------------
    def record_call(
        self,
        task: Task,
        args: tuple,
        kwargs: dict,
        upstream: Iterable[Any] | None = None,
        *,
        mapped: bool = False,
        to_node: Callable[[Any], Node | None] | None = None,
        key: str | None = None,
    ) -> Node:
        """Add one call of `task` as a node; `to_node` says which argument values are handles."""
        self._check_task(task)
        if task.is_parameter:
            self._check_parameter(task)
        if not mapped:
            args, kwargs = strip_unmapped(list(args), kwargs)
        to_node = to_node or self._to_node
        bindings = bind(tuple(args), kwargs, to_node)
        node = Node(self, task, self._new_key(key or task.name), bindings, mapped)
        self.nodes.append(node)
        self._by_task.setdefault(task, []).append(node)
        for up in bindings.deps:
            self._link(up, node)
        # In a mapped call, an upstream task is mapped over (one run per element of its
        # result, element by element for a mapped one, as Prefect 1 does) when it is mapped
        # itself or when nothing else is mapped over; `unmapped(t)` always means order only.
        maps_arguments = mapped and any(not isinstance(v, Unmapped)
                                        for v in (*args, *kwargs.values()))
        for item in upstream or ():
            whole = isinstance(item, Unmapped)
            up = to_node(item.value if whole else item)
            if up is None:
                raise NotATaskError(
                    f"upstream_tasks of {node.key!r} holds {item!r} ({type(item).__name__}), "
                    f"which is not a task or a task result of flow {self.name!r}"
                )
            over = mapped and not whole and (up.mapped or not maps_arguments)
            self.add_edge(up, node, mapped=over)
        guard = guard_of(self)
        if guard is not None and guard is not node and not task.is_parameter:
            # called inside `with case(...)`: runs only on a match (element by element when
            # both are mapped, as inside apply_map)
            self.add_edge(guard, node, mapped=mapped and guard.mapped)
        return node

    def _to_node(self, value: Any) -> Node | None:
        if isinstance(value, (Node, Task)):
            return self.node_of(value)
        return None

    def _link(self, up: Node, down: Node) -> None:
        self._downstream.setdefault(up, []).append(down)

    def new_key(self, name: str) -> str:
        """A node key based on `name` that no node of this graph has yet."""
        return self._new_key(name)

    def _new_key(self, name: str) -> str:
        count = self._keys.get(name, 0) + 1
        self._keys[name] = count
        return name if count == 1 else f"{name}-{count}"

    def _check_task(self, task: Any) -> Task:
        if not isinstance(task, Task):
            raise NotATaskError(
                f"{task!r} ({type(task).__name__}) is not a task, so flow {self.name!r} cannot "
                f"run it; decorate the function with @task or subclass proctor.Task"
            )
        return task

    def _check_parameter(self, param: Task) -> None:
        other = self.parameters().get(param.name)
        if other is not None and other is not param:
            raise FlowDefinitionError(
                f"flow {self.name!r} already has a parameter named {param.name!r}; parameter "
                f"names must be unique"
            )

    def _path(self, start: Node, goal: Node) -> list[Node] | None:
        """A downstream path from `start` to `goal`, if one exists."""
        stack: list[tuple[Node, list[Node]]] = [(start, [start])]
        seen = {start}
        while stack:
            node, path = stack.pop()
            if node is goal:
                return path
            for nxt in self._downstream.get(node, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
        return None


def _whole(values: Iterable[Any]) -> list[Any]:
    """Arguments of a node that becomes mapped: passed whole, as they were before."""
    return [v if isinstance(v, Unmapped) else Unmapped(v) for v in values]


def _as_mapped(node: Node, keyword_tasks: Mapping[str, Any], mapped: bool) -> dict[str, Any]:
    """New keyword arguments of `node`: mapped over when `mapped`, whole on a mapped node."""
    if mapped or not node.mapped:
        return dict(keyword_tasks)
    return {k: unmapped_value(v) for k, v in keyword_tasks.items()}


def unmapped_value(value: Any) -> Any:
    return value if isinstance(value, Unmapped) else Unmapped(value)


def outputs_of(task: Task) -> int | None:
    """How many values a task's result unpacks into: `nout`, else a fixed-length tuple return
    annotation (`-> tuple[int, str]`), else None."""
    count = getattr(task, "nout", None)
    if count:
        return count
    import typing

    fn = task.fn if task.fn is not None else task.run
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:
        return None
    if typing.get_origin(hint) is tuple:
        items = typing.get_args(hint)
        if items and Ellipsis not in items and items != ((),):
            return len(items)
    return None
