"""The observer behind `proctor run`: task-run counts that end full, and the table's rows."""

from __future__ import annotations

import io

from rich.console import Console

from proctor import Flow, Parameter, flow, task
from proctor.cli.progress import RunProgress, TaskRow, make_progress, state_line, summary_table
from proctor.core.states import Failed, Success, TriggerFailed


@task
def numbers(n):
    return list(range(n))


@task
def square(x):
    return x * x


@task
def fragile(x):
    if x == 1:
        raise ValueError("one is bad")
    return x


@task
def total(values):
    return sum(values)


def _states(observer: RunProgress) -> dict[str, str]:
    return {key: row.state_text() for key, row in observer.rows.items()}


def test_graph_flow_counts_every_mapped_child():
    with Flow("counts") as f:
        total(square.map(numbers(Parameter("n", default=4))))
    observer = RunProgress()
    state = f.run(observers=[observer])
    assert state.is_successful()
    # numbers + 4 squares + total; the parameter is not a task run
    assert observer.total == observer.completed == 6
    assert list(observer.rows) == ["numbers", "square", "total"]
    assert _states(observer) == {"numbers": "Success", "square": "Success ×4", "total": "Success"}


def test_runs_that_never_reach_the_executor_still_complete_the_bar():
    with Flow("gated") as f:
        partly = fragile.map([0, 1, 2])
        square.map(partly)  # child [1] is TriggerFailed without running
        total(partly)  # TriggerFailed as a whole
        square.map(fragile(1))  # mapped call gated before it could expand
    observer = RunProgress()
    state = f.run(observers=[observer])
    assert state.is_failed()
    assert observer.total == observer.completed
    assert observer.total == 3 + 3 + 1 + 1 + 1
    states = _states(observer)
    assert states["fragile"] == "Success ×2, Failed ×1"
    assert states["square"] == "Success ×2, TriggerFailed ×1"
    assert states["total"] == "TriggerFailed"
    assert states["square-2"] == "TriggerFailed"
    assert observer.rows["fragile"].message() == "[1] ValueError: one is bad"


def test_empty_map():
    with Flow("empty") as f:
        square.map(numbers(0))
    observer = RunProgress()
    f.run(observers=[observer])
    assert observer.total == observer.completed == 2
    assert observer.rows["square"].state_text() == "Mapped (0 runs)"


def test_flow_function_total_grows_as_tasks_are_submitted():
    @flow
    def dynamic(n: int = 3):
        values = [f.result() for f in square.map(numbers(n))]
        again = square.map(values)
        return total([f.result() for f in again])

    observer = RunProgress()
    state = dynamic.run_with(observers=[observer])
    assert state.result == 0 + 1 + 16
    assert observer.total == observer.completed == 1 + 3 + 3 + 1
    # a @flow's map gives one node per element; the table folds them back together
    assert _states(observer) == {
        "numbers": "Success",
        "square": "Success ×3",
        "square-2": "Success ×3",
        "total": "Success",
    }


def test_live_progress_bar_ends_full():
    with Flow("bar") as f:
        square.map([1, 2, 3])
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with make_progress(console) as progress:
        observer = RunProgress(progress, "flow bar")
        f.run(observers=[observer], executor="threads:2")
        (bar,) = progress.tasks
        assert (bar.total, bar.completed) == (3, 3)


def test_table_cells_are_text_not_markup():
    row = TaskRow("rows[0]")
    row.runs.append((None, Failed("KeyError: '[bold]x[/bold]'", started_at=1.0, ended_at=3.5)))
    console = Console(file=io.StringIO(), width=200)
    console.print(summary_table([row]))
    out = console.file.getvalue()
    assert "rows[0]" in out
    assert "KeyError: '[bold]x[/bold]'" in out
    assert "2.50" in out


def test_long_messages_are_trimmed():
    row = TaskRow("t")
    row.runs.append((None, Failed("x" * 500 + "\nsecond line")))
    console = Console(file=io.StringIO(), width=400)
    console.print(summary_table([row]))
    out = console.file.getvalue()
    assert "x" * 79 + "…" in out
    assert "second line" not in out


def test_row_without_times_shows_a_dash():
    row = TaskRow("after")
    row.runs.append((None, TriggerFailed("upstream failed")))
    assert row.duration() is None
    assert row.state_text() == "TriggerFailed"


def test_state_line():
    state = Success("all 1 reference task(s) succeeded", started_at=10.0, ended_at=10.5)
    text = state_line("etl", state).plain
    assert text == (
        "Flow run 'etl' finished in 0.50s: Success (all 1 reference task(s) succeeded)"
    )
