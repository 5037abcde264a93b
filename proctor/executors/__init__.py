"""Where task code runs. Pick one by instance or by name: "local", "threads:4", "processes:2",
"dask" (a local Dask cluster for the run), "dask:4" (with 4 workers) or "dask:tcp://host:8786"."""

from __future__ import annotations

import os
from typing import Any

from ..core.errors import UnknownExecutorError
from ..engine.executor import DoneFuture, Executor
from .local import LocalExecutor
from .threads import ThreadExecutor

#: The executor names `resolve_executor` knows (":N" sets the worker count where allowed).
EXECUTOR_NAMES = ("local", "sequential", "threads", "processes", "dask")


def __getattr__(name: str):
    # The process executor pulls in multiprocessing and cloudpickle: load it on first use only,
    # so `import proctor` stays light.
    if name == "ProcessExecutor":
        from .processes import ProcessExecutor

        return ProcessExecutor
    if name == "DaskExecutor":  # needs the `dask` extra: pip install 'proctor[dask]'
        from .dask import DaskExecutor

        return DaskExecutor
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
    if name.lower() == "dask":
        return _dask_executor(spec, arg.strip())
    cls = _executor_class(name.lower())
    if cls is None:
        raise UnknownExecutorError(
            f"unknown executor {spec!r}; valid names: local, threads[:N], processes[:N], "
            f"dask[:N or :ADDRESS]"
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


def _dask_executor(spec: str, arg: str) -> Executor:
    """"dask" (a local cluster), "dask:N" (N local workers) or "dask:ADDRESS"."""
    try:
        from .dask import DaskExecutor
    except ImportError as exc:
        raise UnknownExecutorError(
            f"executor {spec!r} needs Dask: pip install 'proctor[dask]' ({exc})"
        ) from exc
    if not arg:
        return DaskExecutor()
    if arg.isdigit():
        if int(arg) < 1:
            raise UnknownExecutorError(f"executor {spec!r}: the worker count must be >= 1")
        return DaskExecutor(cluster_kwargs={"n_workers": int(arg)})
    if "://" not in arg and ":" not in arg:
        raise UnknownExecutorError(
            f"executor {spec!r}: after 'dask:' give a worker count (dask:4) or the scheduler's "
            f"address (dask:tcp://127.0.0.1:8786)"
        )
    return DaskExecutor(address=arg if "://" in arg else f"tcp://{arg}")


def LocalDaskExecutor(scheduler: str = "threads", num_workers: int | None = None,  # noqa: N802
                      **_ignored: Any) -> Executor:
    """Prefect 1's LocalDaskExecutor: parallel tasks on this machine, which Proctor runs on
    its own pools (no Dask needed): `scheduler="threads"` (default) or `"processes"`."""
    if scheduler in ("threads", "threading"):
        return ThreadExecutor(num_workers)
    if scheduler in ("processes", "multiprocessing"):
        from .processes import ProcessExecutor

        return ProcessExecutor(num_workers)
    if scheduler in ("synchronous", "sync", "single-threaded"):
        return LocalExecutor()
    raise UnknownExecutorError(
        f"LocalDaskExecutor(scheduler={scheduler!r}): use 'threads', 'processes' or "
        f"'synchronous'"
    )


__all__ = [
    "LocalDaskExecutor",
    "Executor",
    "DoneFuture",
    "LocalExecutor",
    "ThreadExecutor",
    "ProcessExecutor",
    "DaskExecutor",
    "resolve_executor",
]
