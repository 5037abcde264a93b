"""What happened, in one record every notifier formats its own way.

A hook receives `(task_or_flow, second, state)` where `second` is the old state (state handlers)
or the run context (`on_failure` and friends). The names and ids a reader needs are spread over
that object, `second` and the run context variables; `describe` gathers them once, so Slack, the
webhook and the email always agree on what they report.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

from proctor.core.context import FlowRunContext, TaskRunContext, get_run_context
from proctor.core.graph import FlowGraph
from proctor.core.states import State
from proctor.core.task import Task

#: Base URL of the proctor UI; when set, notifications link to `{ui}/runs/{flow_run_id}`.
UI_URL_ENV = "PROCTOR_UI_URL"


@dataclass(frozen=True, slots=True)
class NotificationEvent:
    """One state change worth reporting, with everything known about its run."""

    state: State
    flow_name: str | None = None
    flow_run_id: str | None = None
    task_name: str | None = None
    task_run_id: str | None = None
    map_index: int | None = None
    attempt: int | None = None
    run_url: str | None = None

    @property
    def is_task(self) -> bool:
        return self.task_name is not None

    @property
    def timestamp(self) -> str:
        """When the state was entered, ISO 8601 in UTC (its end, else its start, else now)."""
        when = self.state.ended_at
        if when is None:
            when = self.state.started_at if self.state.started_at is not None else time.time()
        return datetime.fromtimestamp(when, tz=timezone.utc).isoformat()

    @property
    def task_label(self) -> str | None:
        """The task name with its map index, as users see it in logs (`extract[3]`)."""
        if self.task_name is None:
            return None
        return self.task_name if self.map_index is None else f"{self.task_name}[{self.map_index}]"

    @property
    def title(self) -> str:
        """A one-line summary: `flow etl / task extract: Failed`."""
        parts = []
        if self.flow_name is not None:
            parts.append(f"flow {self.flow_name}")
        if self.task_label is not None:
            parts.append(f"task {self.task_label}")
        subject = " / ".join(parts) or "run"
        return " ".join(f"{subject}: {self.state.name}".split())

    def as_dict(self) -> dict[str, Any]:
        """The JSON document of `webhook_notifier` (also the field list of the email body)."""
        doc: dict[str, Any] = {
            "event": "state_change",
            "flow_name": self.flow_name,
            "flow_run_id": self.flow_run_id,
            "task_name": self.task_name,
            "task_run_id": self.task_run_id,
            "map_index": self.map_index,
            "attempt": self.attempt,
            "state": {
                "type": self.state.type.value,
                "name": self.state.name,
                "message": self.state.message,
                "timestamp": self.timestamp,
            },
        }
        if self.run_url is not None:
            doc["run_url"] = self.run_url
        return doc


def run_url(flow_run_id: str | None) -> str | None:
    """The UI page of a flow run, when `PROCTOR_UI_URL` names a UI (read at each call)."""
    base = os.environ.get(UI_URL_ENV, "").strip().rstrip("/")
    if not base or not flow_run_id:
        return None
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{base}/runs/{quote(str(flow_run_id), safe='')}"


def _name_of(obj: Any) -> str | None:
    name = getattr(obj, "name", None)
    return str(name) if name is not None else None


def _is_flow_object(obj: Any) -> bool:
    # FlowFunction lives in proctor.flows, which imports the engine; `proctor` has loaded it by
    # the time any hook runs, so a late import costs nothing and keeps this module light.
    from proctor.flows import FlowFunction

    return isinstance(obj, (FlowGraph, FlowFunction))


def describe(obj: Any, second: Any, state: State) -> NotificationEvent:
    """Gather names and ids for a hook call `(obj, second, state)`.

    Whether the hook belongs to a task or a flow is decided, in order, by: the run context passed
    as `second`; the type of `obj` (a proctor Task, a Flow); the task-run context variable; and
    last, for any other object, whether its name is that of the current flow run (a flow) or not
    (a task, the usual owner of a hand-written handler).
    """
    current = get_run_context()
    task_ctx = second if isinstance(second, TaskRunContext) else None
    flow_ctx = second if isinstance(second, FlowRunContext) else None
    name = _name_of(obj)

    if flow_ctx is not None:
        is_task = False
    elif task_ctx is not None or isinstance(obj, Task):
        is_task = True
    elif _is_flow_object(obj):
        is_task = False
    elif current.task_run is not None:
        is_task = True
    else:
        is_task = current.flow_run is None or name != current.flow_run.flow_name

    flow_ctx = flow_ctx or current.flow_run
    if not is_task:
        return NotificationEvent(
            state=state,
            flow_name=name or (flow_ctx.flow_name if flow_ctx else None),
            flow_run_id=flow_ctx.flow_run_id if flow_ctx else None,
            run_url=run_url(flow_ctx.flow_run_id if flow_ctx else None),
        )

    task_ctx = task_ctx or current.task_run
    if task_ctx is not None:
        flow_name, flow_run_id = task_ctx.flow_name, task_ctx.flow_run_id
    elif flow_ctx is not None:
        flow_name, flow_run_id = flow_ctx.flow_name, flow_ctx.flow_run_id
    else:
        flow_name = flow_run_id = None
    return NotificationEvent(
        state=state,
        flow_name=flow_name,
        flow_run_id=flow_run_id,
        task_name=name or (task_ctx.task_name if task_ctx else None) or "task",
        task_run_id=task_ctx.id if task_ctx else None,
        map_index=task_ctx.map_index if task_ctx else None,
        attempt=task_ctx.attempt if task_ctx else None,
        run_url=run_url(flow_run_id),
    )
