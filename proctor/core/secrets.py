"""Secret values never leave a run in clear: they are masked in log lines and state messages.

A secret task (`proctor.tasks.secrets`) registers the value it returns; from then on every log
record made in this process (console, the server's log stream, a worker's shipped records) and
every state message sent to the server has that value replaced by `****`. The flow's process
learns the values of secret tasks that ran elsewhere when their states come back, and passes the
values it knows to each task run it sends out (in the run's context values), so a worker that
logs a secret it received as an input masks it too.

Only values of 4 characters or more are masked (shorter ones would mask ordinary text).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

MASK = "****"
_MIN_LENGTH = 4
_lock = threading.Lock()
_values: tuple[str, ...] = ()
_installed = False


def register(value: Any) -> None:
    """Mask `value` (a string, or the strings inside a dict/list of them) from now on."""
    global _values
    found = [v for v in _strings(value) if len(v) >= _MIN_LENGTH]
    if not found:
        return
    with _lock:
        new = tuple(v for v in found if v not in _values)
        if not new:
            return
        # longest first: a secret that contains another is masked whole
        _values = tuple(sorted((*_values, *new), key=len, reverse=True))
        _install()


def known() -> tuple[str, ...]:
    return _values


def mask(text: str) -> str:
    """`text` with every registered secret replaced by `****`."""
    for value in _values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, bytes):
        try:
            return [value.decode()]
        except UnicodeDecodeError:
            return []
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple, set)):
        return [s for v in value for s in _strings(v)]
    return []


def _install() -> None:
    """Mask log records as they are made (once per process, when the first secret appears)."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _values:
            try:
                text = record.getMessage()
            except Exception:
                return record
            clean = mask(text)
            if clean is not text and clean != text:
                record.msg, record.args = clean, None
        return record

    logging.setLogRecordFactory(masked_record)
