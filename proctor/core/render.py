"""Text renderings of a flow's graph: Mermaid (for Markdown and docs) and Graphviz DOT.

Both renderers are pure functions of a `FlowGraph`, so they can be used from the CLI, from tests or
from a notebook without running anything. Conventions shared by both formats:

- one node per call of a task, labelled with its key (`extract`, `extract-2`, ...);
- a mapped call is drawn with a stacked shape and the label suffix " (mapped)", because it stands
  for many task runs;
- a `Parameter` is drawn with a rounded (Mermaid) or slanted (DOT) shape: it is an input, not work;
- a data dependency (a result passed as an argument) is a solid arrow, an order-only dependency
  (`upstream_tasks=`, `set_upstream`, ...) a dashed one, since nothing flows along it.

Node identifiers are positional (`n0`, `n1`, ...) rather than keys, so that no key, whatever
characters it holds, can break the syntax; keys only ever appear inside escaped labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .graph import FlowGraph, Node

MAPPED_SUFFIX = " (mapped)"

#: Characters Mermaid would read as syntax or HTML inside a quoted label, written as its
#: `#<decimal>;` entity codes instead.
_MERMAID_ENTITIES = {
    '"': "#34;",
    "#": "#35;",
    "&": "#38;",
    "<": "#60;",
    ">": "#62;",
    "`": "#96;",
}


def node_label(node: Node) -> str:
    """The text shown for a node: its key, marked when the call is mapped."""
    return node.key + (MAPPED_SUFFIX if node.mapped else "")


def edges(graph: FlowGraph) -> Iterator[tuple[Node, Node, bool]]:
    """Every edge of `graph` as (upstream, downstream, is_data), in the order nodes were added.

    An upstream that is both a data and an order-only dependency is reported once, as data, the
    way the engine itself counts it (`Node.upstream`).
    """
    for node in graph.nodes:
        data = node.bindings.deps
        for up in data:
            yield up, node, True
        for up in node.order_deps:
            if up not in data:
                yield up, node, False


def _ids(graph: FlowGraph) -> dict[Node, str]:
    return {node: f"n{index}" for index, node in enumerate(graph.nodes)}


# -- Mermaid ------------------------------------------------------------------------------------
def escape_mermaid(text: str) -> str:
    """`text` made safe inside a double-quoted Mermaid label (quotes, HTML, line breaks)."""
    out = "".join(_MERMAID_ENTITIES.get(ch, ch) for ch in text)
    return out.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def _mermaid_comment(text: str) -> str:
    # A comment runs to the end of its line: a newline in a flow name must not end it early.
    return " ".join(text.split())


def to_mermaid(graph: FlowGraph, direction: str = "TD") -> str:
    """The graph as a Mermaid `flowchart`, ready to paste into Markdown.

    `direction` is Mermaid's: TD (top-down), LR (left-right), BT or RL.
    """
    if direction not in ("TD", "TB", "LR", "BT", "RL"):
        raise ValueError(f"direction must be one of TD, TB, LR, BT, RL; got {direction!r}")
    ids = _ids(graph)
    lines = [f"flowchart {direction}", f"    %% flow: {_mermaid_comment(graph.name)}"]
    for node in graph.nodes:
        label = f'"{escape_mermaid(node_label(node))}"'
        if node.task.is_parameter:
            shape = f"([{label}])"  # stadium: an input
        elif node.mapped:
            shape = f"[[{label}]]"  # subroutine: many runs
        else:
            shape = f"[{label}]"
        lines.append(f"    {ids[node]}{shape}")
    for up, down, is_data in edges(graph):
        arrow = "-->" if is_data else "-.->"
        lines.append(f"    {ids[up]} {arrow} {ids[down]}")
    return "\n".join(lines) + "\n"


# -- Graphviz DOT -------------------------------------------------------------------------------
def escape_dot(text: str) -> str:
    """`text` made safe inside a double-quoted DOT string.

    Backslashes are doubled first, because DOT gives `\\n`, `\\l`, `\\N`... a meaning in labels;
    `&` becomes `&amp;`, because Graphviz decodes HTML entities even in plain labels (a key
    holding `&lt;` must not show as `<`); quotes are escaped and line breaks become DOT's
    centered `\\n`.
    """
    out = text.replace("\\", "\\\\").replace("&", "&amp;").replace('"', '\\"')
    return out.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")


def to_dot(graph: FlowGraph) -> str:
    """The graph as a Graphviz `digraph`: `proctor graph f.py:flow --format dot | dot -Tsvg`."""
    ids = _ids(graph)
    lines = [
        f'digraph "{escape_dot(graph.name)}" {{',
        "    rankdir=TB;",
        '    node [shape=box, fontname="Helvetica"];',
    ]
    for node in graph.nodes:
        attrs = [f'label="{escape_dot(node_label(node))}"']
        if node.task.is_parameter:
            attrs.append("shape=parallelogram")
        elif node.mapped:
            attrs.append("shape=box3d")
        lines.append(f"    {ids[node]} [{', '.join(attrs)}];")
    for up, down, is_data in edges(graph):
        style = "" if is_data else " [style=dashed]"
        lines.append(f"    {ids[up]} -> {ids[down]}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


__all__ = ["to_mermaid", "to_dot", "edges", "node_label", "escape_mermaid", "escape_dot"]
