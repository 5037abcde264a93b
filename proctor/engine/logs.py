"""Run loggers: log records that carry the flow-run and task-run ids they came from.

`get_run_logger()` inside a task or a flow returns a `logging.LoggerAdapter` whose records have the
attributes `flow_run_id`, `flow_name`, `task_run_id` and `task_name`, so any handler (console,
server, file) can tell runs apart. `configure_console()` adds a console handler once per process,
unless logging is already configured by the application.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from ..core.context import FLOW_RUN, TASK_RUN
from ..core.errors import MissingContextError

FLOW_LOGGER = "proctor.flow_run"
TASK_LOGGER = "proctor.task_run"
#: The console format of run logs: `12:00:01 | INFO    | etl/extract - message`.
LOG_FORMAT = "%(asctime)s | %(levelname)-7s | %(run_label)s - %(message)s"
DATE_FORMAT = "%H:%M:%S"
_configured = False


def get_run_logger() -> logging.LoggerAdapter:
    """A logger for the current task run (or flow run) whose records carry the run ids."""
    task_run = TASK_RUN.get()
    if task_run is not None:
        return logging.LoggerAdapter(logging.getLogger(TASK_LOGGER), task_run_extra(task_run))
    flow_run = FLOW_RUN.get()
    if flow_run is not None:
        extra = {
            "flow_run_id": flow_run.flow_run_id,
            "flow_name": flow_run.flow_name,
            "task_run_id": None,
            "task_name": None,
        }
        return logging.LoggerAdapter(logging.getLogger(FLOW_LOGGER), extra)
    raise MissingContextError(
        "get_run_logger() was called outside a flow or task run; call it inside a function "
        "decorated with @task or @flow (or use logging.getLogger(...) elsewhere)"
    )


class RunFormatter(logging.Formatter):
    """`12:00:01 | INFO    | etl/extract - message`."""

    def format(self, record: logging.LogRecord) -> str:
        flow = getattr(record, "flow_name", None)
        task = getattr(record, "task_name", None)
        where = "/".join(x for x in (flow, task) if x) or record.name
        record.run_label = where
        return super().format(record)


def configure_console() -> None:
    """Show proctor's run logs on stderr unless the application configured logging itself.

    Level from `PROCTOR_LOGGING_LEVEL` (default INFO); `PROCTOR_LOGGING_CONSOLE=false` disables.
    """
    global _configured
    if _configured:
        return
    _configured = True
    base = logging.getLogger("proctor")
    level = os.environ.get("PROCTOR_LOGGING_LEVEL", "INFO").upper()
    base.setLevel(getattr(logging, level, logging.INFO))
    if os.environ.get("PROCTOR_LOGGING_CONSOLE", "true").lower() in ("0", "false", "no"):
        return
    if base.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RunFormatter(LOG_FORMAT, DATE_FORMAT))
    base.addHandler(handler)


def task_run_extra(ctx: Any) -> dict:
    """The record attributes of a task run's log lines (see `get_run_logger`)."""
    return {
        "flow_run_id": ctx.flow_run_id,
        "flow_name": ctx.flow_name,
        "task_run_id": ctx.id,
        "task_name": getattr(ctx, "name", None)
        or ctx.task_key + ("" if ctx.map_index is None else f"[{ctx.map_index}]"),
    }
