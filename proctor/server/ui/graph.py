"""The task graph of a flow run, grouped and laid out for drawing: pure functions, no I/O.

The server knows task runs, not the flow's code: each task run carries its task key and the keys
of the tasks it waited for (`upstream`). Runs of one mapped task (`transform` with map indexes,
or `transform[0]`, `transform[1]` from a `@flow` body) become one node with a count; the node's
state summarises its runs. The layout puts each node one column right of its furthest upstream
node (longest path), then orders each column by the mean row of its upstream nodes, which keeps
most edges short and uncrossed without a general crossing minimiser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: `transform[3]` -> `transform`: the key of a mapped child made in a `@flow` body.
_ELEMENT = re.compile(r"\[\d+\]$")

#: How node states are summarised, most telling first: one failed child makes a failed node.
_PRECEDENCE = (
    "CRASHED", "FAILED", "TIMED_OUT", "TRIGGER_FAILED", "RUNNING", "RETRYING", "PENDING",
    "PAUSED", "SCHEDULED", "LATE", "CANCELLED", "SKIPPED", "CACHED", "SUCCESS",
)

NODE_WIDTH = 168
NODE_HEIGHT = 40
COLUMN_GAP = 64
ROW_GAP = 18
MARGIN = 12


def group_key(task_key: str) -> str:
    """The graph node a task run belongs to."""
    return _ELEMENT.sub("", task_key)


@dataclass
class GraphNode:
    """One task of the graph: all the runs of one task key."""

    key: str
    name: str
    runs: int = 0
    mapped: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    upstream: set[str] = field(default_factory=set)
    column: int = 0
    row: int = 0
    x: float = 0.0
    y: float = 0.0

    @property
    def state(self) -> str:
        """The state that best describes the node's runs."""
        for name in _PRECEDENCE:
            if self.counts.get(name):
                return name
        return next(iter(self.counts), "PENDING")

    @property
    def label(self) -> str:
        return f"{self.key} \u00d7{self.runs}" if self.mapped else self.key


@dataclass
class GraphLayout:
    """Nodes with positions, edges as (from, to) keys, and the drawing's size."""

    nodes: list[GraphNode]
    edges: list[tuple[GraphNode, GraphNode]]
    width: float
    height: float
    truncated: int = 0


def build_nodes(task_runs: Iterable[Mapping[str, Any]]) -> dict[str, GraphNode]:
    """Group task runs (dicts with task_key, task_name, map_index, state_type, upstream)."""
    nodes: dict[str, GraphNode] = {}
    for run in task_runs:
        key = group_key(run["task_key"])
        node = nodes.get(key)
        if node is None:
            node = nodes[key] = GraphNode(key, run.get("task_name") or key)
        elif node.name != key and (run.get("task_name") or key) != node.name:
            node.name = key  # runs named one by one (`task_run_name`): the node is the task
        node.runs += 1
        if run.get("map_index") is not None or key != run["task_key"]:
            node.mapped = True
        state = run.get("state_type") or "PENDING"
        node.counts[state] = node.counts.get(state, 0) + 1
        for up in run.get("upstream") or ():
            up_key = group_key(up)
            if up_key != key:
                node.upstream.add(up_key)
    return nodes


def layout(nodes: Mapping[str, GraphNode], max_nodes: int = 400) -> GraphLayout:
    """Columns by longest path, rows by upstream barycentre; see the module docstring."""
    kept = dict(list(nodes.items())[:max_nodes])
    truncated = len(nodes) - len(kept)
    columns: dict[str, int] = {}

    def column_of(key: str, trail: frozenset = frozenset()) -> int:
        if key in columns:
            return columns[key]
        if key in trail:  # a cycle cannot come from the engine; draw it rather than loop
            return 0
        ups = [u for u in kept[key].upstream if u in kept]
        value = 1 + max((column_of(u, trail | {key}) for u in ups), default=-1)
        columns[key] = value
        return value

    for key in kept:
        column_of(key)
    by_column: dict[int, list[GraphNode]] = {}
    for key, node in kept.items():
        node.column = columns[key]
        by_column.setdefault(node.column, []).append(node)
    for column in sorted(by_column):
        members = by_column[column]
        if column:
            def barycentre(node: GraphNode) -> float:
                rows = [kept[u].row for u in node.upstream if u in kept]
                return sum(rows) / len(rows) if rows else 0.0

            members.sort(key=barycentre)
        for row, node in enumerate(members):
            node.row = row
            node.x = MARGIN + column * (NODE_WIDTH + COLUMN_GAP)
            node.y = MARGIN + row * (NODE_HEIGHT + ROW_GAP)
    edges = [(kept[u], node) for node in kept.values() for u in sorted(node.upstream)
             if u in kept]
    columns_used = max(by_column, default=0) + 1
    rows_used = max((len(m) for m in by_column.values()), default=0)
    width = 2 * MARGIN + columns_used * NODE_WIDTH + (columns_used - 1) * COLUMN_GAP
    height = 2 * MARGIN + rows_used * NODE_HEIGHT + max(rows_used - 1, 0) * ROW_GAP
    return GraphLayout(list(kept.values()), edges, width, height, truncated)


def edge_path(source: GraphNode, target: GraphNode) -> str:
    """An SVG path from the right side of `source` to the left side of `target`."""
    x1, y1 = source.x + NODE_WIDTH, source.y + NODE_HEIGHT / 2
    x2, y2 = target.x, target.y + NODE_HEIGHT / 2
    bend = max((x2 - x1) / 2, 20)
    return (f"M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} "
            f"{x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}")


def task_graph(task_runs: Sequence[Mapping[str, Any]]) -> GraphLayout:
    """Group and lay out the task runs of one flow run."""
    return layout(build_nodes(task_runs))
