"""`flatten(x)`: map over the elements of a list of lists as one list (Prefect 1's flatten).

While a graph is built, `t.map(flatten(nested))` records a small task that chains the inner
lists, and maps over its result: `[[1, 2], [3]]` gives three runs. `nested` is typically a
mapped task whose runs each return a list. Outside a graph, `flatten` flattens a list now.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

from .operators import building
from .task import Task


class Flatten(Task):
    """One list of the elements of its input's inner lists (None children are left out)."""

    def __init__(self) -> None:
        super().__init__(name="flatten")

    def run(self, nested: Any) -> list[Any]:
        return flat(nested)


def flat(nested: Any) -> list[Any]:
    if nested is None:
        return []
    return list(chain.from_iterable(item for item in nested if item is not None))


_FLATTEN = Flatten()


def flatten(value: Any) -> Any:
    """See the module docstring."""
    graph = building()
    if graph is None:
        return flat(value)
    return graph.record_call(_FLATTEN, (value,), {})
