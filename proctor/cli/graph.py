"""`proctor graph FILE:FLOW`: print a flow's task graph as Mermaid or Graphviz DOT.

Only a graph flow (`with Flow(...)`) has a graph before it runs: a @flow function's tasks are
discovered as its body executes, so for those the command explains that instead of drawing an
empty picture.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from .output import fail


class GraphFormat(str, Enum):
    """The text formats a graph can be printed in."""

    mermaid = "mermaid"
    dot = "dot"


def graph_command(
    reference: Annotated[
        str,
        typer.Argument(
            metavar="FILE:FLOW",
            help="The Python file and the flow in it, e.g. flows.py:etl. Without ':FLOW' the "
            "file must define exactly one flow.",
            show_default=False,
        ),
    ],
    format: Annotated[
        GraphFormat,
        typer.Option(
            "--format",
            "-f",
            case_sensitive=False,
            help="mermaid (paste into Markdown) or dot (pipe into Graphviz: dot -Tsvg).",
        ),
    ] = GraphFormat.mermaid,
) -> None:
    """Print the task graph of a flow without running it.

    Solid arrows are data dependencies, dashed ones order-only dependencies.
    """
    from ..core.errors import FlowLoadError
    from ..core.render import to_dot, to_mermaid
    from ..flows import FlowFunction
    from .loader import load_flow

    try:
        loaded = load_flow(reference)
    except FlowLoadError as exc:
        fail(str(exc))
    if isinstance(loaded.flow, FlowFunction):
        fail(
            f"{loaded.reference} is a @flow function: its graph is only known after it runs, "
            f"because its tasks are called as the body executes. `proctor graph` needs a flow "
            f"built with `with Flow(...)`; use `proctor run {loaded.reference}` to run this one."
        )
    render = to_dot if format is GraphFormat.dot else to_mermaid
    typer.echo(render(loaded.flow), nl=False)
