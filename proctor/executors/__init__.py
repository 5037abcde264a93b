"""Where task code runs. Pick one by instance or by name: "local", "threads:4", "processes:2"."""

from __future__ import annotations

import os

from ..core.errors import UnknownExecutorError
from ..engine.executor import DoneFuture, Executor
from .local import LocalExecutor
from .threads import ThreadExecutor

#: The executor names `resolve_executor` knows (":N" sets the worker count where allowed).
EXECUTOR_NAMES = ("local", "sequential", "threads", "processes")


def __getattr__(name: str):
    # The process executor pulls in multiprocessing and cloudpickle: load it on first use only,
    # so `import proctor` stays light.
    if name == "ProcessExecutor":
        from .processes import ProcessExecutor

        return ProcessExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _executor_class(name: str) -> type[Executor] | None:
    if name in ("local", "sequential"):
        return LocalExecutor
    if name == "threads":
        return ThreadExecutor
    if name == "processes":
        from .processes import ProcessExecutor

        return ProcessExecutor
    return None


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
    cls = _executor_class(name.lower())
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
