"""Stopping a run from outside: Ctrl-C, SIGTERM, a closed terminal, a cancel from the server.

Whatever stops a run, it must end in a true final state before its process exits: CANCELLED,
with a message saying why, and the run's events delivered. Every way of stopping is turned into
one exception raised in the thread that drives the run (the main thread): `RunInterrupted`, a
`KeyboardInterrupt` carrying its reason. The engine catches it around each flow attempt
(`engine.flow_run`), records CANCELLED with that reason, lets the recorder deliver, and raises
it again so the program stops as the user asked.

- Ctrl-C needs nothing: Python raises `KeyboardInterrupt`, which the engine reads as
  "interrupted by the user (Ctrl-C)".
- `install_stop_signals()` (the `proctor run` command and the agent's flow processes) makes
  SIGTERM and SIGHUP raise `RunInterrupted` too, so `kill`, an agent's cancel and a closed
  terminal end the run the same way. A second signal while the first is being handled is
  ignored for a short while, so the run's final state is not lost to an impatient double
  Ctrl-C; after that it raises again, which cuts the delivery short (what was not delivered
  is saved in the outbox for the next run).
- `interrupt_main(reason)` is for other threads (the recorder hears that the server wants the
  run cancelled): it sends this process SIGINT, which wakes the main thread wherever it waits,
  with the reason attached.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Any

#: What a plain Ctrl-C means.
USER_INTERRUPT = "interrupted by the user (Ctrl-C)"
#: Seconds during which a second stop signal is ignored while the first is handled.
SECOND_SIGNAL_GRACE = 3.0
#: Exit status of a process stopped by an interrupt (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped from outside; `reason` says by what."""

    def __init__(self, reason: str = USER_INTERRUPT) -> None:
        super().__init__(reason)
        self.reason = reason


_pending_reason: str | None = None
_first_signal_at: float | None = None
_lock = threading.Lock()


def reason_of(exc: BaseException) -> str:
    """Why a run was interrupted by `exc` (a `RunInterrupted`, or a plain Ctrl-C)."""
    global _pending_reason
    if isinstance(exc, RunInterrupted):
        return exc.reason
    with _lock:
        reason, _pending_reason = _pending_reason, None
    return reason or USER_INTERRUPT


def interrupt_main(reason: str) -> None:
    """Stop the run driven by the main thread, from any thread, with `reason`."""
    global _pending_reason
    with _lock:
        if _pending_reason is None:
            _pending_reason = reason
    if hasattr(signal, "pthread_kill"):
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
    else:  # pragma: no cover - not POSIX
        import _thread

        _thread.interrupt_main()


_SIGNAL_REASONS = {
    "SIGINT": USER_INTERRUPT,
    "SIGTERM": "stopped by SIGTERM",
    "SIGHUP": "its terminal was closed (SIGHUP)",
}


def install_stop_signals(
    reasons: dict[str, str | Callable[[], str]] | None = None,
    *,
    on_second: Callable[[], None] | None = None,
) -> Callable[[], None]:
    """Make SIGINT, SIGTERM and SIGHUP raise `RunInterrupted` in the main thread (see the
    module docstring); `reasons` overrides the message per signal name (a text, or a function
    that says it when the signal comes). A second signal within
    `SECOND_SIGNAL_GRACE` seconds is ignored; a later one calls `on_second` (default: raise
    `RunInterrupted` again). Returns a function that restores the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    texts: dict[str, str | Callable[[], str]] = {**_SIGNAL_REASONS, **(reasons or {})}
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        global _first_signal_at, _pending_reason
        now = time.monotonic()
        if _first_signal_at is not None:
            if now - _first_signal_at < SECOND_SIGNAL_GRACE:
                return
            if on_second is not None:
                on_second()
                return
            raise RunInterrupted(f"stopped again by {signal.Signals(signum).name}")
        _first_signal_at = now
        with _lock:
            queued, _pending_reason = _pending_reason, None
        name = signal.Signals(signum).name
        text = texts.get(name, f"stopped by {name}")
        raise RunInterrupted(queued or (text() if callable(text) else text))

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            previous[signum] = signal.signal(signum, handler)

    def restore() -> None:
        global _first_signal_at
        _first_signal_at = None
        for signum, old in previous.items():
            signal.signal(signum, old)

    return restore
