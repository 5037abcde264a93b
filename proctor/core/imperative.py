"""Prefect 1's task-level view of a graph, and its imperative wiring outside `with Flow`.

The engine's graph is made of nodes (one per task call). Prefect 1 code speaks of tasks:
`flow.add_task(t)`, `flow.add_edge(a, b, key="x")`, `t.set_upstream(a, flow=f)`,
`t.bind(x, flow=f)`, then `flow.tasks`, `flow.edges`, `flow.root_tasks()`, `flow.copy()`. This
mixin answers in those terms: each node is shown as what the user holds for it (`Node.handle`:
the task itself when it was added whole, the call's handle otherwise), so `flow.root_tasks() ==
{t}` holds in both styles. Nothing here runs anything; it only reads and rewires the graph.
"""

from __future__ import annotations

import copy as _copy
import inspect
from collections.abc import Iterable
from typing import Any

from .bindings import Unmapped


class Edge:
    """One dependency of a flow, as Prefect 1 shows it: `downstream_task` runs after
    `upstream_task`, receiving its result as argument `key` (None: order only), mapped over it
    when `mapped`. Compared by identity of its tasks (a task's `==` builds a task in a flow)."""

    __slots__ = ("upstream_task", "downstream_task", "key", "mapped", "flattened")

    def __init__(self, upstream_task: Any, downstream_task: Any, key: str | None = None,
                 mapped: bool = False, flattened: bool = False) -> None:
        self.upstream_task = upstream_task
        self.downstream_task = downstream_task
        self.key = key
        self.mapped = bool(mapped)
        self.flattened = bool(flattened)

    def _identity(self) -> tuple:
        return (id(self.upstream_task), id(self.downstream_task), self.key, self.mapped,
                self.flattened)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Edge) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        up = getattr(self.upstream_task, "name", self.upstream_task)
        down = getattr(self.downstream_task, "name", self.downstream_task)
        key = f", key={self.key!r}" if self.key else ""
        mapped = ", mapped" if self.mapped else ""
        return f"<Edge {up} -> {down}{key}{mapped}>"


def argument_names(task: Any, count: int) -> list[str]:
    """Names of the first `count` positional parameters of a task's function (or run)."""
    target = task.fn if getattr(task, "fn", None) is not None else task.run
    try:
        params = [p for p in inspect.signature(target).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params[:count]]
    return names + [f"arg{i}" for i in range(len(names), count)]


class ImperativeGraph:
    """Task-level reading and wiring of a `FlowGraph` (see the module docstring)."""

    # -- views ------------------------------------------------------------------------------------
    @property
    def tasks(self) -> set[Any]:
        """Every task of the flow (a call's handle for tasks called in `with Flow`)."""
        return {n.handle for n in self.nodes}

    @property
    def edges(self) -> set[Edge]:
        return {edge for node in self.nodes for edge in self._edges_into(node)}

    @property
    def constants(self) -> dict[Any, dict[str, Any]]:
        """{task: {argument: value}} of the arguments that are plain values, not tasks."""
        out: dict[Any, dict[str, Any]] = {}
        for node in self.nodes:
            bindings = node.bindings
            names = argument_names(node.task, len(bindings.args))
            values = {**dict(zip(names, bindings.args, strict=True)), **bindings.kwargs}
            plain = {k: (v.value if isinstance(v, Unmapped) else v) for k, v in values.items()
                     if not _holds_node(v)}
            if plain:
                out[node.handle] = plain
        return out

    def _edges_into(self, node: Any) -> list[Edge]:
        bindings = node.bindings
        names = argument_names(node.task, len(bindings.args))
        edges: list[Edge] = []
        seen: set[int] = set()
        values = {**dict(zip(names, bindings.args, strict=True)), **bindings.kwargs}
        for key, value in values.items():
            whole = isinstance(value, Unmapped)
            inner = value.value if whole else value
            for up in _nodes_in(inner):
                direct = up is inner
                edges.append(Edge(up.handle, node.handle, key=key,
                                  mapped=node.mapped and not whole and direct))
                seen.add(id(up))
        for up in node.mapped_upstream:
            edges.append(Edge(up.handle, node.handle, mapped=True))
            seen.add(id(up))
        for up in node.order_deps:
            if id(up) not in seen:
                edges.append(Edge(up.handle, node.handle))
        return edges

    def edges_to(self, task: Any) -> set[Edge]:
        return set(self._edges_into(self.node_of(task)))

    def edges_from(self, task: Any) -> set[Edge]:
        node = self.node_of(task)
        return {e for down in self.downstream(node) for e in self._edges_into(down)
                if e.upstream_task is node.handle}

    def upstream_tasks(self, task: Any) -> set[Any]:
        return {n.handle for n in self.node_of(task).upstream}

    def downstream_tasks(self, task: Any) -> set[Any]:
        return {n.handle for n in self.downstream(self.node_of(task))}

    def root_tasks(self) -> set[Any]:
        """The tasks that wait for no other task."""
        return {n.handle for n in self.root_nodes()}

    def terminal_tasks(self) -> set[Any]:
        """The tasks no other task waits for."""
        return {n.handle for n in self.terminal_nodes()}

    def reference_tasks(self) -> set[Any]:
        """The tasks whose states decide the flow run's state (`reference_nodes`)."""
        return {n.handle for n in self.reference_nodes()}

    def sorted_tasks(self) -> tuple[Any, ...]:
        return tuple(n.handle for n in self.sorted_nodes())

    def get_tasks(self, name: str | None = None, slug: str | None = None,
                  tags: Iterable[str] | None = None, task_type: type | None = None) -> list[Any]:
        """The tasks matching every criterion given: name, key (`slug`), all of `tags`, type."""
        wanted_tags = set([tags] if isinstance(tags, str) else tags or ())
        return [
            n.handle for n in self.nodes
            if (name is None or n.task.name == name)
            and (slug is None or n.key == slug)
            and wanted_tags <= set(n.task.tags)
            and (task_type is None or isinstance(n.task, task_type))
        ]

    def visualize(self, flow_state: Any = None, filename: str | None = None,
                  format: str | None = None) -> Any:  # noqa: A002
        """The graph drawn by Graphviz: a `graphviz.Source` (shown inline in a notebook), also
        written to `filename` (+ `.format`, default pdf) when given. Needs the `graphviz`
        package and the Graphviz `dot` program; `proctor.core.render.to_dot(flow)` and
        `to_mermaid(flow)` give the same drawing as text with nothing installed. `flow_state`
        (Prefect 1) is accepted; the drawing shows the graph, not the states (the web UI
        shows a run's states on its graph)."""
        from .render import to_dot

        try:
            import graphviz
        except ImportError:
            from .errors import ProctorError

            raise ProctorError(
                "flow.visualize() needs the graphviz package (pip install graphviz) and the "
                "Graphviz programs (apt-get install graphviz). Without them, "
                "proctor.core.render.to_dot(flow) or to_mermaid(flow) give the graph as text"
            ) from None
        source = graphviz.Source(to_dot(self))
        if filename is not None:
            source.render(filename, format=format or "pdf", cleanup=True)
        return source

    def validate(self) -> None:
        """Raise if the graph cannot run (a cycle); wiring errors are raised where they are
        made, so this only re-checks the order."""
        self.sorted_nodes()

    # -- imperative wiring ------------------------------------------------------------------------
    def add_task(self, task: Any) -> Any:
        """Add `task` to the flow (with no arguments yet); returns the task."""
        return self.add_node(task).handle

    def chain(self, *tasks: Any) -> list[Edge]:
        """Each task runs after the one before it."""
        return [self.add_edge(a, b) for a, b in zip(tasks, tasks[1:], strict=False)]

    def bind_task(self, task: Any, args: tuple, kwargs: dict, *, mapped: bool = False,
                  upstream_tasks: Iterable[Any] | None = None) -> Any:
        """`task.bind(...)`: the task's node (added if needed) takes these arguments."""
        node = self.node_of(task)
        if mapped:
            node.mapped = True
        self.rebind(node, args, kwargs)
        for up in upstream_tasks or ():
            whole = isinstance(up, Unmapped)
            up_node = self.node_of(up.value if whole else up)
            self.add_edge(up_node, node, mapped=mapped and up_node.mapped and not whole)
        return node.handle

    def copy(self) -> Any:
        """A new flow with the same tasks and edges; changing one leaves the other as it was.
        Handles of this flow may be used with the copy."""
        new = _copy.copy(self)
        new.nodes, new._downstream, new._by_task, new._tokens = [], {}, {}, []
        new._keys = dict(self._keys)
        new._origin = {}
        new._adopt(self.nodes, reuse_added=False, new_keys=False)
        if self._reference is not None:
            new._reference = [new._origin[n] for n in self._reference]
        return new

    def update(self, other: Any, merge_parameters: bool = False, **_ignored: Any) -> None:
        """Add every task and edge of flow `other` to this one (a task added whole to both is
        one task); handles of `other` may then be used with this flow."""
        if merge_parameters:
            mine = self.parameters()
            for node in other.nodes:
                if node.task.is_parameter and node.task.name in mine:
                    self._origin[node] = self.node_of(mine[node.task.name])
        self._adopt([n for n in other.nodes if n not in self._origin], reuse_added=True,
                    new_keys=True)

    def _adopt(self, nodes: list[Any], *, reuse_added: bool, new_keys: bool) -> None:
        """Make this graph's own nodes for `nodes` (of another graph), then rewire them."""
        from .bindings import bind
        from .graph import Node

        origin = self._origin
        made = []
        for old in nodes:
            existing = self._by_task.get(old.task) if reuse_added and old.added else None
            if existing:
                origin[old] = existing[0]
                continue
            key = self._new_key(old.task.name) if new_keys else old.key
            node = Node(self, old.task, key, old.bindings, old.mapped)
            node.added = old.added
            origin[old] = node
            self.nodes.append(node)
            self._by_task.setdefault(old.task, []).append(node)
            made.append((old, node))

        def to_node(value: Any) -> Any:
            if isinstance(value, Node):
                return self.node_of(value)
            return None

        for old, node in made:
            b = old.bindings
            node.bindings = bind(b.args, b.kwargs, to_node)
            node.mapped_upstream = tuple(origin[n] for n in old.mapped_upstream)
            node.order_deps = [origin[n] for n in old.order_deps]
            for up in node.upstream:
                self._link(up, node)


def _nodes_in(value: Any) -> list[Any]:
    """The nodes a bound argument holds (itself, or inside containers)."""
    if getattr(type(value), "_proctor_handle", False):
        return [value]
    if isinstance(value, Unmapped):
        return _nodes_in(value.value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [n for v in value for n in _nodes_in(v)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _nodes_in(v)]
    return []


def _holds_node(value: Any) -> bool:
    return bool(_nodes_in(value))
