"""Prometheus text exposition, written by hand: request timings per route, and run counts.

Two kinds of figures: what this process measured (a histogram of request durations by method and
route template, and a counter of answers by status) kept in memory per app, and what the database
holds (runs by current state) counted by one GROUP BY per scrape, so every server replica reports
the same run gauges.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ...core.states import StateType

#: Upper bounds of the duration buckets, in seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class _Series:
    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: float = 0.0
    count: int = 0


class RequestMetrics:
    """Request durations and answer counts of one app; safe to update from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._durations: dict[tuple[str, str], _Series] = {}
        self._answers: dict[tuple[str, str, int], int] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one request."""
        bucket = bisect.bisect_left(BUCKETS, seconds)
        with self._lock:
            series = self._durations.setdefault((method, route), _Series())
            if bucket < len(BUCKETS):
                series.counts[bucket] += 1
            series.total += seconds
            series.count += 1
            key = (method, route, status)
            self._answers[key] = self._answers.get(key, 0) + 1

    def render(self) -> list[str]:
        """The histogram and the counter as exposition lines."""
        with self._lock:
            durations = {
                key: (list(series.counts), series.total, series.count)
                for key, series in self._durations.items()
            }
            answers = dict(self._answers)
        name = "proctor_api_request_duration_seconds"
        lines = [
            f"# HELP {name} Time to answer API requests, by method and route template.",
            f"# TYPE {name} histogram",
        ]
        for (method, route), (counts, total, count) in sorted(durations.items()):
            labels = f'method="{escape(method)}",route="{escape(route)}"'
            cumulative = 0
            for bound, n in zip(BUCKETS, counts, strict=True):
                cumulative += n
                lines.append(f'{name}_bucket{{{labels},le="{bound}"}} {cumulative}')
            lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {count}')
            lines.append(f"{name}_sum{{{labels}}} {total:.6f}")
            lines.append(f"{name}_count{{{labels}}} {count}")
        name = "proctor_api_requests_total"
        lines += [
            f"# HELP {name} API answers, by method, route template and status code.",
            f"# TYPE {name} counter",
        ]
        for (method, route, status), n in sorted(answers.items()):
            labels = f'method="{escape(method)}",route="{escape(route)}",status="{status}"'
            lines.append(f"{name}{{{labels}}} {n}")
        return lines


def escape(value: str) -> str:
    """A label value as the exposition format wants it (backslash, quote and newline escaped)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def run_gauges(name: str, what: str, counts: Mapping[str, int]) -> list[str]:
    """One gauge per state type (zero included, so series never vanish), plus runs with no
    state yet under `state="NONE"` when there are any."""
    lines = [f"# HELP {name} {what} by current state.", f"# TYPE {name} gauge"]
    states: Iterable[str] = [t.value for t in StateType]
    extra = sorted(set(counts) - set(states))
    for state in [*states, *extra]:
        lines.append(f'{name}{{state="{escape(state)}"}} {counts.get(state, 0)}')
    return lines


def render(run_counts: Mapping[str, Mapping[str, int]], requests: RequestMetrics) -> str:
    """The whole `/metrics` page."""
    lines = [
        *run_gauges("proctor_flow_runs", "Flow runs", run_counts.get("flow_runs", {})),
        *run_gauges("proctor_task_runs", "Task runs", run_counts.get("task_runs", {})),
        *requests.render(),
    ]
    return "\n".join(lines) + "\n"
