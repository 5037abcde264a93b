"""`@task(log_prints=True)`: turn a task's `print` calls into log records of its run.

`builtins.print` is wrapped once, on first use. The wrapper checks a context variable, so only
the task runs that asked for it are affected (other threads and user code print as usual).
"""

from __future__ import annotations

import builtins
import io
import sys
from contextvars import ContextVar, Token
from typing import Any

_CAPTURING: ContextVar[bool] = ContextVar("proctor_capture_prints", default=False)
_original_print = builtins.print
_installed = False


def _print(*args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None,
           flush: bool = False) -> None:
    if _CAPTURING.get() and (file is None or file is sys.stdout):
        buffer = io.StringIO()
        _original_print(*args, sep=sep, end="", file=buffer)
        from .logs import get_run_logger

        get_run_logger().info(buffer.getvalue())
        return
    _original_print(*args, sep=sep, end=end, file=file, flush=flush)


def capture() -> Token:
    """Start sending this context's prints to the run logger."""
    global _installed
    if not _installed:
        builtins.print = _print
        _installed = True
    return _CAPTURING.set(True)


def release(token: Token) -> None:
    _CAPTURING.reset(token)
