"""Python operators on task results while a graph is built: `total = a + b` adds a task.

Inside `with Flow(...)`, a task's result does not exist yet, so `a + b` on two handles cannot be
computed: it records a small task that computes it at run time, as Prefect 1 does. Every binary
operator, `[]`, unary `-` and `~` work this way (`&`, `|`, `~` are the logical `and`, `or`,
`not`, as in Prefect 1) on handles (`Node`) and on tasks used as values (a
`Parameter`, or a task added whole), on either side of the operator.

Comparisons (`==`, `!=`, `<`, ...) record tasks too, but only while a flow is being built: a
handle is also a dictionary key of the engine and of a run's states, and outside a `with Flow`
block `==` is identity again. `bool(handle)` while building raises `TaskResultTruthError`: an
`if` cannot choose a branch of a graph before it runs; `case`/`ifelse` can.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from .context import CALL_SINK
from .errors import TaskResultTruthError

_OPERATOR_TASKS: dict[str, Any] = {}
#: operator name -> the function computing it (module-level, so operator tasks pickle by name)
FUNCTIONS: dict[str, Callable[..., Any]] = {}


def _and(a: Any, b: Any) -> Any:
    return a and b


def _or(a: Any, b: Any) -> Any:
    return a or b


def building() -> Any:
    """The graph being built around the caller, or None.

    A graph marks itself with `records_calls` (no import of `graph` here: it imports this)."""
    sink = CALL_SINK.get()
    return sink if getattr(sink, "records_calls", False) else None


def _operator_task(name: str) -> Any:
    from .operator_task import OperatorTask  # a Task subclass: task.py imports this module

    return OperatorTask(name)


def _record(name: str, *operands: Any) -> Any:
    graph = building()
    if graph is None:
        raise TaskResultTruthError(
            f"the {name} helper of {operands[0]!r} records a task, so it needs a flow being "
            f"built: use it inside `with Flow(...)`"
        )
    task = _OPERATOR_TASKS.get(name)
    if task is None:
        task = _OPERATOR_TASKS[name] = _operator_task(name)
    return graph.call(task, operands, {}, None)


def _binary(name: str, fn: Callable[[Any, Any], Any]):
    FUNCTIONS[name] = fn

    def forward(self: Any, other: Any) -> Any:
        if building() is None:
            return NotImplemented
        return _record(name, self, other)

    def backward(self: Any, other: Any) -> Any:
        if building() is None:
            return NotImplemented
        return _record(name, other, self)

    return forward, backward


def _comparison(name: str, fn: Callable[[Any, Any], Any], identity: Callable | None):
    FUNCTIONS[name] = fn

    def compare(self: Any, other: Any) -> Any:
        if building() is None:
            return identity(self, other) if identity is not None else NotImplemented
        return _record(name, self, other)

    return compare


class Operators:
    """The operators of task results (mixed into `Node` and `Task`; see the module docstring)."""

    __slots__ = ()

    __add__, __radd__ = _binary("add", operator.add)
    __sub__, __rsub__ = _binary("sub", operator.sub)
    __mul__, __rmul__ = _binary("mul", operator.mul)
    __truediv__, __rtruediv__ = _binary("div", operator.truediv)
    __floordiv__, __rfloordiv__ = _binary("floordiv", operator.floordiv)
    __mod__, __rmod__ = _binary("mod", operator.mod)
    __pow__, __rpow__ = _binary("pow", operator.pow)
    # as in Prefect 1, `&`, `|` and `~` are the logical and, or, not of the values
    __and__, __rand__ = _binary("and", _and)
    __or__, __ror__ = _binary("or", _or)
    __xor__, __rxor__ = _binary("xor", operator.xor)
    __matmul__, __rmatmul__ = _binary("matmul", operator.matmul)
    __eq__ = _comparison("eq", operator.eq, lambda a, b: a is b)
    __ne__ = _comparison("ne", operator.ne, lambda a, b: a is not b)
    __lt__ = _comparison("lt", operator.lt, None)
    __le__ = _comparison("le", operator.le, None)
    __gt__ = _comparison("gt", operator.gt, None)
    __ge__ = _comparison("ge", operator.ge, None)

    # Identity hashing, kept in C: nodes and tasks are the engine's dictionary keys, and a
    # Python-level __hash__ would cost a call on every lookup.
    __hash__ = object.__hash__

    def __invert__(self) -> Any:
        return _record("not", self)

    def __neg__(self) -> Any:
        return _record("neg", self)

    def not_(self) -> Any:
        """A task returning `not value` (Python's `not` cannot be overloaded)."""
        return _record("not", self)

    def and_(self, other: Any) -> Any:
        """A task returning `value and other`."""
        return _record("and_", self, other)

    def or_(self, other: Any) -> Any:
        """A task returning `value or other`."""
        return _record("or_", self, other)

    def is_equal(self, other: Any) -> Any:
        """A task returning `value == other` (also `==` while a flow is built)."""
        return _record("eq", self, other)

    def is_not_equal(self, other: Any) -> Any:
        return _record("ne", self, other)

    def is_(self, other: Any) -> Any:
        return _record("is", self, other)

    def is_not(self, other: Any) -> Any:
        return _record("is_not", self, other)

    FUNCTIONS.update({"neg": operator.neg, "not": operator.not_,
                       "and_": _and, "or_": _or, "is": operator.is_, "is_not": operator.is_not})

    def __bool__(self) -> bool:
        graph = building()
        if graph is not None:
            raise TaskResultTruthError(
                f"`if`, `and`, `or` and `not` on {self!r} cannot work while flow "
                f"{graph.name!r} is built: its value exists only when the flow runs. Choose a "
                f"branch with `with case({getattr(self, 'key', getattr(self, 'name', 'task'))}, "
                f"True):` or ifelse(...), or use the task helpers .not_(), .and_(), .or_()"
            )
        return True
