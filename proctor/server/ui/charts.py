"""Geometry of the UI's charts: the runs-over-time bars and the task Gantt. Pure functions.

The templates draw what these return as SVG; nothing here knows about HTML or the database.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .graph import group_key

#: Stacking order of the bars, bottom up.
BAR_STATES = ("SUCCESS", "CACHED", "RUNNING", "PENDING", "SCHEDULED", "LATE", "CANCELLED",
              "CRASHED", "TIMED_OUT", "FAILED")

#: The dashboard's windows: name -> (seconds, number of bars).
WINDOWS: dict[str, tuple[int, int]] = {
    "hour": (3600, 30),
    "day": (86400, 24),
    "week": (7 * 86400, 28),
}


@dataclass
class Bar:
    """One time bucket of the runs-over-time chart, with its stacked segments."""

    start: float
    end: float
    total: int = 0
    segments: list[tuple[str, float, float, int]] = field(default_factory=list)


def bars(
    counts: Sequence[Mapping[str, int]], since: float, until: float, height: float = 120.0
) -> tuple[list[Bar], int]:
    """Stacked bars scaled so the tallest is `height`; also returns that tallest total."""
    width = (until - since) / max(len(counts), 1)
    tallest = max((sum(c.values()) for c in counts), default=0)
    scale = height / tallest if tallest else 0.0
    out = []
    for index, bucket in enumerate(counts):
        bar = Bar(since + index * width, since + (index + 1) * width, sum(bucket.values()))
        top = height
        ordered = [s for s in BAR_STATES if bucket.get(s)] + sorted(
            s for s in bucket if s not in BAR_STATES and bucket[s]
        )
        for state in ordered:
            size = bucket[state] * scale
            top -= size
            bar.segments.append((state, top, size, bucket[state]))
        out.append(bar)
    return out, tallest


@dataclass
class GanttRow:
    """One task (all runs of one task key) on the timeline."""

    key: str
    runs: int
    state: str
    start: float | None
    end: float | None
    left: float = 0.0
    width: float = 0.0


def gantt(
    task_runs: Iterable[Mapping[str, Any]],
    flow_start: float | None,
    flow_end: float | None,
    now: float | None = None,
    states: Mapping[str, str] | None = None,
) -> tuple[list[GanttRow], float]:
    """Rows of the timeline in order of first start, positioned in percent of the run's span;
    also the span in seconds. `states` gives each key's summarised state (from the graph)."""
    now = time.time() if now is None else now
    spans: dict[str, list] = {}
    for run in task_runs:
        key = group_key(run["task_key"])
        span = spans.setdefault(key, [None, None, 0, run.get("state_type") or "PENDING"])
        span[2] += 1
        start, end = run.get("start_time"), run.get("end_time")
        if start is not None:
            span[0] = start if span[0] is None else min(span[0], start)
            finish = end if end is not None else now
            span[1] = finish if span[1] is None else max(span[1], finish)
    starts = [s[0] for s in spans.values() if s[0] is not None]
    origin = flow_start if flow_start is not None else min(starts, default=now)
    finish = flow_end if flow_end is not None else max(
        [s[1] for s in spans.values() if s[1] is not None] + [now if flow_start else origin]
    )
    span_seconds = max(finish - origin, 1e-3)
    rows = []
    for key, (start, end, runs, state) in spans.items():
        row = GanttRow(key, runs, (states or {}).get(key, state), start, end)
        if start is not None:
            row.left = max(0.0, min(100.0, (start - origin) / span_seconds * 100))
            row.width = max(0.4, min(100.0 - row.left, ((end or start) - start)
                                     / span_seconds * 100))
        rows.append(row)
    rows.sort(key=lambda r: (r.start is None, r.start or 0.0, r.key))
    return rows, span_seconds
