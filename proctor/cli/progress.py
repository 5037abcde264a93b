"""What `proctor run` shows: a live progress bar while the flow runs, then a table of outcomes.

Both come from one `RunObserver`, `RunProgress`, so the CLI needs nothing from the engine beyond
its public observer events. This module imports rich at the top: the CLI imports it only inside
the `run` command.

Counting task runs
------------------
The bar counts task runs, not nodes, and only learns the true total as the run unfolds:

- a graph flow announces its nodes up front; each non-parameter node counts one run;
- a mapped node counts one until it expands into N children (`map_expanded`), then N;
- a `@flow` body announces nothing up front: a node counts from the moment it is submitted.

A node's runs are all counted done once the node finishes (`node_finished`), also those that
never reached the executor (a task skipped because its upstream failed finishes without a
`task_run_finished`), so the bar always ends full.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from ..engine.observers import RunObserver

if TYPE_CHECKING:
    from ..core.context import TaskRunContext
    from ..core.graph import Node
    from ..core.states import State

#: How long a message may be in the table before it is cut.
MESSAGE_WIDTH = 80

#: Keys a `@flow` body gives the runs of `task.map(...)`: `double[3]`, or `double[3]-2` for the
#: second map of the same task in one run.
_CHILD_KEY = re.compile(r"^(?P<base>.+)\[(?P<index>\d+)\](?P<suffix>-\d+)?$")


@dataclass
class TaskRow:
    """One line of the summary table: one task call, or every run of one mapped call."""

    key: str
    mapped: bool = False
    #: (map index or None, final state) of every run this row stands for
    runs: list[tuple[int | None, State]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(state.is_failed() for _, state in self.runs)

    @property
    def successful(self) -> bool:
        return bool(self.runs) and all(state.is_successful() for _, state in self.runs)

    @property
    def single(self) -> State | None:
        """The state of a row that stands for exactly one, unmapped, run (else None).

        A mapped call whose upstream failed never expands: it ends as one TriggerFailed state.
        """
        if len(self.runs) == 1 and self.runs[0][0] is None:
            return self.runs[0][1]
        return None

    def ordered_runs(self) -> list[tuple[int | None, State]]:
        """Runs by map index (a `@flow` map's runs are recorded in the order they finish)."""
        return sorted(self.runs, key=lambda run: -1 if run[0] is None else run[0])

    def state_text(self) -> str:
        """`Success` for one run; `Success ×3, Failed ×1` for a mapped call."""
        single = self.single
        if single is not None:
            return single.name
        if not self.runs:
            return "Mapped (0 runs)" if self.mapped else "-"
        counts: dict[str, int] = {}
        for _, state in self.runs:
            counts[state.name] = counts.get(state.name, 0) + 1
        return ", ".join(f"{name} ×{count}" for name, count in counts.items())

    def duration(self) -> float | None:
        """Seconds from the first run's start to the last run's end, when both are known."""
        starts = [s.started_at for _, s in self.runs if s.started_at is not None]
        ends = [s.ended_at for _, s in self.runs if s.ended_at is not None]
        if not starts or not ends:
            return None
        return max(0.0, max(ends) - min(starts))

    def message(self) -> str:
        """The state's message; for a mapped call, that of its first failed run, if any (the
        state column already counts the runs)."""
        single = self.single
        if single is not None:
            return single.message
        for index, state in self.ordered_runs():
            if state.is_failed():
                return f"[{index}] {state.message}"
        return ""


class RunProgress(RunObserver):
    """Drives a rich progress bar of task runs done / known, and records the summary rows.

    `progress` may be None to only count and record (tests, non-interactive use). Events come
    from the thread that pumps the run; rich's `Progress.update` takes its own lock anyway.
    """

    def __init__(self, progress: Progress | None = None, description: str = "",
                 on_start: Callable[[str], None] | None = None) -> None:
        self.progress = progress
        #: Told the run's id when it starts (`proctor run` prints the run's page then).
        self.on_start = on_start
        self.bar = progress.add_task(description, total=0) if progress is not None else None
        self.total = 0
        self.completed = 0
        self.rows: dict[str, TaskRow] = {}
        self._expected: dict[Node, int] = {}  # node -> runs it counts for
        self._counted: dict[Node, int] = {}  # node -> runs already counted done
        self._children_done: set[tuple[Node, int]] = set()

    # -- events ---------------------------------------------------------------------------------
    def flow_run_started(self, run: Any, nodes: list[Node]) -> None:
        if self.on_start is not None:
            try:
                self.on_start(run.flow_run_id)
            except Exception:  # noqa: BLE001 - an observer must not stop the run
                pass
        # Rows follow the order the flow was written in, not the order the engine runs it.
        if nodes:
            written = {node: i for i, node in enumerate(nodes[0].flow.nodes)}
            nodes = sorted(nodes, key=lambda node: written.get(node, len(written)))
        for node in nodes:
            self._know(node)

    def map_expanded(self, run: Any, node: Node, count: int) -> None:
        self._know(node)
        count = max(count, 1)  # an empty map still is one step of the flow
        self._grow(count - self._expected[node])
        self._expected[node] = count

    def task_run_submitted(self, run: Any, node: Node, ctx: TaskRunContext) -> None:
        self._know(node)

    def task_run_finished(self, run: Any, node: Node, ctx: TaskRunContext, state: State) -> None:
        # A child of a map advances the bar as it ends; a plain node when it finishes (below),
        # which also covers runs that end without reaching the executor.
        if ctx.map_index is None or node.task.is_parameter:
            return
        self._know(node)
        child = (node, ctx.map_index)
        if child not in self._children_done:
            self._children_done.add(child)
            self._advance(node, 1)

    def node_finished(self, run: Any, node: Node, state: State) -> None:
        if node.task.is_parameter:
            return
        self._know(node)
        self._advance(node, self._expected[node] - self._counted.get(node, 0))
        self._record(node, state)

    # -- counting -------------------------------------------------------------------------------
    def _know(self, node: Node) -> None:
        if node in self._expected or node.task.is_parameter:
            return
        self._expected[node] = 1
        self._row_for(node)  # rows appear in the order nodes become known
        self._grow(1)

    def _grow(self, runs: int) -> None:
        if runs:
            self.total += runs
            if self.progress is not None:
                self.progress.update(self.bar, total=self.total)

    def _advance(self, node: Node, runs: int) -> None:
        if runs <= 0:
            return
        self._counted[node] = self._counted.get(node, 0) + runs
        self.completed += runs
        if self.progress is not None:
            self.progress.update(self.bar, completed=self.completed)

    # -- rows -----------------------------------------------------------------------------------
    def _row_for(self, node: Node) -> TaskRow:
        key, _ = row_key(node)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = TaskRow(key, mapped=node.mapped or key != node.key)
        return row

    def _record(self, node: Node, state: State) -> None:
        row = self._row_for(node)
        if state.children is not None:  # a Mapped state: one run per child
            row.runs.extend(enumerate(state.children))
        else:
            row.runs.append((row_key(node)[1], state))


def row_key(node: Node) -> tuple[str, int | None]:
    """The table row a node belongs to, and its map index when it is one run of a `@flow` map."""
    if not node.mapped:
        match = _CHILD_KEY.match(node.key)
        if match:
            return match["base"] + (match["suffix"] or ""), int(match["index"])
    return node.key, None


# -- rendering ---------------------------------------------------------------------------------
def make_progress(console: Console) -> Progress:
    """The bar shown while a flow runs; transient, since the summary table replaces it."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("task runs"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _style(failed: bool, successful: bool) -> str:
    return "red" if failed else ("green" if successful else "yellow")


def _trim(text: str, width: int = MESSAGE_WIDTH) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    if len(line) > width or len(text.strip().splitlines()) > 1:
        return line[: width - 1].rstrip() + "…"
    return line


def summary_table(rows: list[TaskRow], title: str = "") -> Table:
    """One row per task call: key, final state, duration in seconds, message.

    Cells are `Text`, never markup, since keys (`rows[0]`) and messages hold brackets.
    """
    table = Table(title=title or None, title_justify="left")
    table.add_column("Task", overflow="fold")
    table.add_column("State")
    table.add_column("Duration (s)", justify="right")
    table.add_column("Message", overflow="fold")
    for row in rows:
        if not row.runs and not row.mapped:
            continue
        duration = row.duration()
        table.add_row(
            Text(row.key),
            Text(row.state_text(), style=_style(row.failed, row.successful)),
            Text("-" if duration is None else f"{duration:.2f}"),
            Text(_trim(row.message())),
        )
    return table


def state_line(flow_name: str, state: State) -> Text:
    """`Flow run 'etl' finished in 0.42s: Success (all 3 reference task(s) succeeded)`."""
    took = f" in {state.duration:.2f}s" if state.duration is not None else ""
    line = Text(f"Flow run {flow_name!r} finished{took}: ")
    line.append(state.name, style="bold " + _style(state.is_failed(), state.is_successful()))
    if state.message:
        line.append(f" ({_trim(state.message, 200)})")
    return line


# -- logs ---------------------------------------------------------------------------------------
class ConsoleLogHandler(logging.Handler):
    """Writes log records through a rich console, so they scroll above a live progress bar
    instead of being drawn through it."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.print(Text(self.format(record)), soft_wrap=True, highlight=False)
        except Exception:
            self.handleError(record)


@contextmanager
def console_logging(console: Console) -> Iterator[None]:
    """Route proctor's run logs through `console` for the duration of the block.

    Follows the engine's own rules (`proctor.engine.logs.configure_console`): nothing happens
    when `PROCTOR_LOGGING_CONSOLE` is false or the application configured logging itself. With
    the handler in place first, the engine sees logging as configured and adds no stream handler
    of its own that would write around the bar.
    """
    from ..engine.logs import DATE_FORMAT, LOG_FORMAT, RunFormatter

    base = logging.getLogger("proctor")
    disabled = os.environ.get("PROCTOR_LOGGING_CONSOLE", "true").lower() in ("0", "false", "no")
    if disabled or base.handlers or logging.getLogger().handlers:
        yield
        return
    handler = ConsoleLogHandler(console)
    handler.setFormatter(RunFormatter(LOG_FORMAT, DATE_FORMAT))
    base.addHandler(handler)
    try:
        yield
    finally:
        base.removeHandler(handler)
