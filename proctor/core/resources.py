"""`resource_manager`: set a resource up before a block of tasks, clean it up after, always.

    @resource_manager
    class TempDir:
        def __init__(self, prefix="etl"):
            self.prefix = prefix
        def setup(self):
            return tempfile.mkdtemp(prefix=self.prefix)
        def cleanup(self, path):
            shutil.rmtree(path)

    with Flow("etl") as f:
        with TempDir("x") as path:      # `path` is the handle of setup's result
            save(extract(), path)

In a graph, the block becomes three tasks (as in Prefect 1): one making the manager object, its
`setup` (which the block's first tasks wait for), and its `cleanup`, which runs once every task
of the block has finished, however they ended, as long as `setup` succeeded. A cleanup never
hides a failure in the block: the flow's state still comes from the tasks before it. In a
`@flow` body the block runs as plain code: setup on entry, cleanup on exit, always.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .operators import building
from .states import State
from .task import Task


class _MakeManager(Task):
    def __init__(self, cls: type, name: str) -> None:
        super().__init__(name=name)
        self.cls = cls

    def run(self, *args: Any, **kwargs: Any) -> Any:
        return self.cls(*args, **kwargs)


class _Setup(Task):
    def run(self, manager: Any) -> Any:
        return manager.setup()


def after_setup(states: Sequence[State]) -> bool:
    """Cleanup's trigger: every upstream finished, and setup (its second input) succeeded."""
    if not all(s.is_finished() for s in states):
        return False
    return len(states) < 2 or states[1].is_successful()


class _Cleanup(Task):
    def run(self, manager: Any, resource: Any) -> None:
        manager.cleanup(resource)


class ResourceBlock:
    """One `with Manager(...) as resource:` block (see the module docstring)."""

    def __init__(self, cls: type, name: str, args: tuple, kwargs: dict) -> None:
        self.cls, self.name, self.args, self.kwargs = cls, name, args, kwargs
        self._graph: Any = None

    def __enter__(self) -> Any:
        graph = building()
        if graph is None:  # plain code: a @flow body or no flow at all
            self._manager = self.cls(*self.args, **self.kwargs)
            self._resource = self._manager.setup()
            return self._resource
        self._graph = graph
        self._make = graph.call(_MakeManager(self.cls, self.name), self.args, self.kwargs, None)
        self._setup = graph.call(_Setup(name=f"{self.name}.setup"), (self._make,), {}, None)
        self._first = len(graph.nodes)
        return self._setup

    def __exit__(self, *exc: Any) -> None:
        graph = self._graph
        if graph is None:
            cleanup = getattr(self._manager, "cleanup", None)
            if cleanup is not None:
                cleanup(self._resource)
            return
        inside = [n for n in graph.nodes[self._first:] if not n.task.is_parameter]
        for node in inside:
            if not node.upstream:
                graph.add_edge(self._setup, node)
        cleanup = _Cleanup(name=f"{self.name}.cleanup", trigger=after_setup,
                           skip_on_upstream_skip=False)
        graph.record_call(cleanup, (self._make, self._setup), {}, inside)


class ResourceManager:
    """What `@resource_manager` makes of a class: calling it opens a `ResourceBlock`."""

    def __init__(self, cls: type, name: str | None = None) -> None:
        for method in ("setup",):
            if not callable(getattr(cls, method, None)):
                raise TypeError(f"@resource_manager class {cls.__name__} needs a {method}() "
                                f"method (and usually cleanup(resource))")
        self.cls = cls
        self.name = name or cls.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> ResourceBlock:
        return ResourceBlock(self.cls, self.name, args, kwargs)


def resource_manager(cls: type | None = None, *, name: str | None = None) -> Any:
    """Make a class with `setup()` and `cleanup(resource)` a resource manager."""
    if cls is None:
        return lambda c: ResourceManager(c, name)
    return ResourceManager(cls, name)
