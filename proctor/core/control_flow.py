"""Branches in a graph-style flow: `case`, `switch`, `ifelse` and `merge`, as in Prefect 1.

A graph is built before anything runs, so `if result:` cannot choose a branch (the result does
not exist yet). A branch is a task instead: `case(task, value)` adds a small check task that
compares the task's result with `value` at run time, and every task called inside the `with
case(...)` block gets that check as an upstream. A check that does not match ends Skipped, and
a skipped upstream skips the tasks after it (`skip_on_upstream_skip`, on by default), so the
branch not taken ends Skipped, all of it. Cases nest: an inner case's check is itself inside the
outer case.

`merge(*branches)` joins branches again: it runs once every branch is finished, unless all were
skipped, and returns the result of the first branch that ran.

In the `@flow` style none of this is needed: the body is Python and runs as it goes, so a plain
`if` on a task's result chooses the branch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from .context import CALL_SINK
from .errors import FlowDefinitionError
from .signals import SKIP
from .states import State
from .task import Task

#: The check nodes of the cases open around the code building a flow, innermost last.
OPEN_CASES: ContextVar[tuple[Any, ...]] = ContextVar("proctor_open_cases", default=())


class CompareValue(Task):
    """Succeeds (returning None) when its input equals `value`; ends Skipped otherwise."""

    def __init__(self, value: Any, name: str | None = None) -> None:
        super().__init__(name=name or f"case({value!r})")
        self.value = value

    def run(self, value: Any) -> None:
        if value != self.value:
            raise SKIP(f"the condition is {value!r}, not {self.value!r}: branch not taken")


class AsBool(Task):
    """`bool()` of its input: the condition `ifelse` compares with True and False."""

    def __init__(self) -> None:
        super().__init__(name="as_bool")

    def run(self, value: Any) -> bool:
        return bool(value)


def not_all_skipped(states: Sequence[State]) -> bool:
    """Run once upstreams finished; skipped (SKIP) when every one was (what `merge` waits for:
    no branch ran, so nothing after it runs either)."""
    if states and all(s.is_skipped() for s in states):
        raise SKIP("every branch was skipped")
    return True


class Merge(Task):
    """The first of its inputs that is not None: the result of the branch that ran."""

    def __init__(self) -> None:
        super().__init__(name="merge", trigger=not_all_skipped, skip_on_upstream_skip=False)

    def run(self, *values: Any) -> Any:
        return next((value for value in values if value is not None), None)


def _flow() -> Any:
    from .graph import FlowGraph

    sink = CALL_SINK.get()
    if not isinstance(sink, FlowGraph):
        raise FlowDefinitionError(
            "case, switch, ifelse and merge build branches of a graph: use them inside "
            "`with Flow(...)`. In a @flow function, a plain `if` on a task's result does it"
        )
    return sink


class case:  # noqa: N801 - a context manager named as Prefect 1 names it
    """`with case(task, value):` the tasks called in the block run only when `task`'s result
    equals `value`; otherwise they end Skipped (see the module docstring)."""

    def __init__(self, task: Any, value: Any) -> None:
        self.task = task
        self.value = value
        self.check: Any = None
        self._token: Any = None

    def __enter__(self) -> case:
        _flow()  # a case belongs in a `with Flow(...)` block
        self.check = CompareValue(self.value)(self.task)  # inside the outer cases, not this one
        self._token = OPEN_CASES.set((*OPEN_CASES.get(), self.check))
        return self

    def __exit__(self, *exc: Any) -> None:
        OPEN_CASES.reset(self._token)


def guard_of(flow: Any) -> Any:
    """The check that a node added to `flow` now must wait for: the innermost open case's
    (of this flow), or None."""
    for check in reversed(OPEN_CASES.get()):
        if check.flow is flow:
            return check
    return None


def switch(condition: Any, cases: Mapping[Any, Any]) -> None:
    """Run `cases[value]` for the value `condition` returns; the other tasks end Skipped.
    The tasks may already be in the flow: each gets the check of its value as an upstream."""
    flow = _flow()
    if not isinstance(cases, Mapping) or not cases:
        raise FlowDefinitionError("switch(condition, cases): cases is a dict {value: task}")
    for value, task in cases.items():
        check = CompareValue(value)(condition)
        flow.add_edge(check, task)


def ifelse(condition: Any, true_task: Any, false_task: Any) -> None:
    """Run `true_task` when `condition`'s result is truthy, `false_task` otherwise."""
    _flow()
    switch(AsBool()(condition), {True: true_task, False: false_task})


def merge(*branches: Any) -> Any:
    """A task returning the result of the first of `branches` that ran (not skipped)."""
    _flow()
    if not branches:
        raise FlowDefinitionError("merge(*branches) needs at least one branch")
    return Merge()(*branches)
