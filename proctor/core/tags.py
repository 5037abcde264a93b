"""`with tags("etl", "nightly"):` every task called in the block gets these tags too.

Prefect 1's `prefect.tags`: the tags are added to the tasks called (or added) while the block is
open, in a `with Flow` block or a `@flow` body. A task keeps its own tags; the call gets a copy of
the task with the union (`with_options`), so the task object elsewhere is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

OPEN_TAGS: ContextVar[frozenset[str]] = ContextVar("proctor_open_tags", default=frozenset())


@contextmanager
def tags(*names: str) -> Iterator[None]:
    """See the module docstring."""
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError(f"tags(*names): each tag is a non-empty string, got {name!r}")
    from .context import BuildExtras

    BuildExtras.used = True
    token = OPEN_TAGS.set(OPEN_TAGS.get() | frozenset(names))
    try:
        yield
    finally:
        OPEN_TAGS.reset(token)


def tagged(task):  # noqa: ANN001, ANN201 - used on every call: kept small
    """`task`, or a copy of it with the open tags added."""
    extra = OPEN_TAGS.get()
    if not extra or extra <= task.tags:
        return task
    return task.with_options(tags=sorted(task.tags | extra))
