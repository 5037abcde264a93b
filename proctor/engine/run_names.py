"""Task-run names from a task's `task_run_name`: a template over its inputs and the context."""

from __future__ import annotations

import logging
from typing import Any

from ..core.context import TASK_RUN

_log = logging.getLogger("proctor.task_run")
#: the server's limit on names
_MAX = 255


def run_name(spec: Any) -> str | None:
    """The run's name (`"{name}-{x}"`, or a function called with the template values as
    keywords). A template that cannot be filled leaves the run its task key, with a warning:
    a name is a label, never a reason for a run to fail."""
    from .targets import template_values

    template = spec.task.task_run_name
    token = TASK_RUN.set(spec.context)
    try:
        values = template_values(spec)
        values.setdefault("name", spec.task.name)
        name = template(**values) if callable(template) else str(template).format(**values)
    except Exception as exc:
        _log.warning("task %s: task_run_name %r could not be filled (%s: %s); the run is "
                     "named %s", spec.context.task_key, template, type(exc).__name__, exc,
                     spec.context.task_key)
        return None
    finally:
        TASK_RUN.reset(token)
    # one line, within what the server stores
    name = " ".join(str(name).replace("\x00", "").split())[:_MAX]
    return name or None
