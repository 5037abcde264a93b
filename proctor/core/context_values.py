"""`proctor.context`: what a running task or flow can read about its run, as Prefect 1 offers.

    from proctor import context

    with context(region="eu"):          # values every task of runs started inside can read
        flow.run()

    @task
    def load():
        context.get("today")            # "2026-12-06": the run's scheduled date
        context.region                  # "eu"
        context["task_run_count"]       # attempt number

Reads are live: the run's own keys come from the flow run and task run being executed (the
engine's context variables), on top of the values set with `context(...)`. The values set when a
flow run starts are captured with it (`run_values`) and travel with each task run to worker
processes and Dask workers, so a task reads the same context on every executor.

Keys: `date` and `scheduled_start_time` (aware UTC datetimes), `today`, `yesterday`, `tomorrow`
(YYYY-MM-DD) and their `_nodash` forms, `flow_run_id`, `flow_run_name`, `flow_name`,
`parameters`, `task_run_id`, `task_name`, `task_full_name`, `task_slug`, `task_tags`,
`map_index`, `task_run_count`, `task_loop_count`, `task_loop_result`, `logger`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from typing import Any

from .context import FLOW_RUN, TASK_RUN
from .errors import MissingContextError

#: Values set with `with context(...)`, innermost last merged in.
_USER: ContextVar[dict[str, Any]] = ContextVar("proctor_user_context", default={})  # noqa: B039

_COMPUTED = (
    "date", "scheduled_start_time", "today", "yesterday", "tomorrow", "today_nodash",
    "yesterday_nodash", "tomorrow_nodash", "flow_run_id", "flow_run_name", "flow_name",
    "parameters", "task_run_id", "task_name", "task_full_name", "task_slug", "task_tags",
    "map_index", "task_run_count", "task_loop_count", "task_loop_result", "logger",
)


def run_values(scheduled_start_time: float | None = None) -> dict[str, Any]:
    """The context a flow run starting now captures: the values set around it, and when it was
    scheduled to start (default: now)."""
    values = dict(_USER.get())
    start = values.get("scheduled_start_time", scheduled_start_time)
    if isinstance(start, datetime):
        start = start.timestamp()
    values["scheduled_start_time"] = float(start if start is not None else time.time())
    return values


def _dates(stamp: float) -> dict[str, Any]:
    when = datetime.fromtimestamp(stamp, tz=timezone.utc)
    day = when.date()
    out = {"date": when, "scheduled_start_time": when}
    for name, value in (("today", day), ("yesterday", day - timedelta(days=1)),
                        ("tomorrow", day + timedelta(days=1))):
        out[name] = value.isoformat()
        out[f"{name}_nodash"] = value.strftime("%Y%m%d")
    return out


class Context:
    """The `proctor.context` object (see the module docstring)."""

    def __call__(self, *mapping: dict[str, Any], **values: Any):
        """`with context(key=value):` makes these values visible to runs started inside."""
        merged: dict[str, Any] = {}
        for item in mapping:
            merged.update(item)
        merged.update(values)
        return _layer(merged)

    def to_dict(self) -> dict[str, Any]:
        """Every key with its value now."""
        task_run = TASK_RUN.get()
        flow_run = FLOW_RUN.get()
        base = (task_run.values if task_run is not None and task_run.values is not None
                else flow_run.values if flow_run is not None and flow_run.values is not None
                else None)
        out: dict[str, Any] = ({k: v for k, v in base.items() if not k.startswith("_")}
                               if base is not None else {})
        out.update(_USER.get())
        stamp = out.get("scheduled_start_time")
        if isinstance(stamp, datetime):
            stamp = stamp.timestamp()
        out.update(_dates(float(stamp) if stamp is not None else time.time()))
        if flow_run is not None:
            out.setdefault("flow_run_name", flow_run.flow_run_id)
            out.update(flow_run_id=flow_run.flow_run_id, flow_name=flow_run.flow_name,
                       parameters=dict(flow_run.parameters))
        if task_run is not None:
            index = task_run.map_index
            out.setdefault("flow_run_name", task_run.flow_run_id)
            out.update(
                flow_run_id=task_run.flow_run_id, flow_name=task_run.flow_name,
                task_run_id=task_run.id, task_name=task_run.task_name,
                task_slug=task_run.task_key, map_index=index,
                task_full_name=task_run.task_key + ("" if index is None else f"[{index}]"),
                task_run_count=task_run.attempt - task_run.loop_count + 1,
                task_loop_count=task_run.loop_count,
                task_tags=set(getattr(task_run.task, "tags", ()) or ()),
            )
            if task_run.loop_count > 1:  # only after a LOOP, as in Prefect 1 (`get(k, {})`)
                out["task_loop_result"] = task_run.loop_result
            if flow_run is None and base is not None and "parameters" in base:
                out["parameters"] = dict(base["parameters"])
        if flow_run is not None or task_run is not None:
            from ..engine.logs import get_run_logger

            out["logger"] = get_run_logger()
        return out

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def __getitem__(self, key: str) -> Any:
        values = self.to_dict()
        if key not in values:
            raise KeyError(self._missing(key, values))
        return values[key]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        values = self.to_dict()
        if key not in values:
            raise MissingContextError(self._missing(key, values))
        return values[key]

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def keys(self) -> list[str]:
        return list(self.to_dict())

    def update(self, *mapping: dict[str, Any], **values: Any) -> None:
        """Set values for the rest of this thread of work (`with context(...)` scopes them)."""
        merged = dict(_USER.get())
        for item in mapping:
            merged.update(item)
        merged.update(values)
        _USER.set(merged)

    def _missing(self, key: str, values: dict[str, Any]) -> str:
        where = "" if TASK_RUN.get() or FLOW_RUN.get() else " (no flow is running here)"
        return (f"proctor.context has no key {key!r}{where}; set it with `with "
                f"proctor.context({key}=...):` around the run, or read it with "
                f"context.get({key!r}, default). Keys now: {', '.join(sorted(values))}")

    def __repr__(self) -> str:
        return "<proctor.context>"


@contextmanager
def _layer(values: dict[str, Any]) -> Iterator[None]:
    token = _USER.set({**_USER.get(), **values})
    try:
        yield
    finally:
        _USER.reset(token)


context = Context()
