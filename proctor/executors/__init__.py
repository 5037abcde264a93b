"""Where task code runs. Pick one by instance or by name: "local", "threads:4", "processes:2"."""

from __future__ import annotations

import os

from ..core.errors import UnknownExecutorError
from ..engine.executor import DoneFuture, Executor
from .local import LocalExecutor
from .processes import ProcessExecutor
from .threads import ThreadExecutor

#: name -> (class, takes a worker count)
EXECUTOR_NAMES = {
    "local": LocalExecutor,
    "sequential": LocalExecutor,
    "threads": ThreadExecutor,
    "processes": ProcessExecutor,
}


def resolve_executor(spec: Executor | str | None) -> Executor:
    """An executor from an instance, a name such as "threads:4", or None (the default).

    The default is `PROCTOR_EXECUTOR` when set, else the sequential local executor.
    """
    if isinstance(spec, Executor):
        return spec
    if spec is None:
        spec = os.environ.get("PROCTOR_EXECUTOR", "local")
    if not isinstance(spec, str):
        raise UnknownExecutorError(
            f"executor must be an Executor instance or a name such as 'threads:4', got "
            f"{type(spec).__name__}: {spec!r}"
        )
    name, _, arg = spec.strip().partition(":")
    cls = EXECUTOR_NAMES.get(name.lower())
    if cls is None:
        raise UnknownExecutorError(
            f"unknown executor {spec!r}; valid names: local, threads[:N], processes[:N]"
        )
    if cls is LocalExecutor:
        if arg:
            raise UnknownExecutorError(f"executor {name!r} takes no ':N' suffix (got {spec!r})")
        return LocalExecutor()
    if not arg:
        return cls()
    if not arg.isdigit() or int(arg) < 1:
        raise UnknownExecutorError(
            f"executor {spec!r}: the part after ':' must be a worker count >= 1, e.g. '{name}:4'"
        )
    return cls(int(arg))


__all__ = [
    "Executor",
    "DoneFuture",
    "LocalExecutor",
    "ThreadExecutor",
    "ProcessExecutor",
    "resolve_executor",
]
