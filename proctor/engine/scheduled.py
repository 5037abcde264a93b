"""Run a flow on its schedule, in this process (the graph style's `flow.run()` with a schedule).

`ScheduledRunner` takes the clock and the sleep as arguments, so a test drives it one run at a
time without patching time. Each scheduled time gets one run, with the parameters its clock
carries merged over the ones given to `run()`; a run that ends late simply makes the next wait
shorter (or zero), and times already in the past when a run finishes are skipped, not piled up.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ..core.states import Cancelled, State

_log = logging.getLogger("proctor.flow_run")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ScheduledRunner:
    """Runs `run_once(parameters)` at every time of `schedule`."""

    def __init__(
        self,
        schedule: Any,
        run_once: Callable[[dict[str, Any]], State],
        *,
        name: str = "flow",
        now: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.schedule = schedule
        self.run_once = run_once
        self.name = name
        self.now = now if now is not None else _utc_now
        self.sleep = sleep if sleep is not None else time.sleep
        self.after = self.now()
        self.runs = 0

    def step(self) -> State | None:
        """Wait for the next scheduled time and run once; None when the schedule has ended."""
        upcoming = self.schedule.next_runs(1, after=max(self.after, self.now()))
        if not upcoming:
            return None
        due = upcoming[0]
        wait = (due.when - self.now()).total_seconds()
        if wait > 0:
            _log.info("Flow %r: next scheduled run at %s (in %.0fs)", self.name,
                      due.when.isoformat(timespec="seconds"), wait,
                      extra={"flow_run_id": None, "flow_name": self.name, "task_run_id": None,
                             "task_name": None})
            self.sleep(wait)
        self.after = due.when
        self.runs += 1
        return self.run_once(dict(due.parameters))

    def run(self, max_runs: int | None = None) -> State | None:
        """Run until the schedule ends or `max_runs` runs happened; the last run's state.

        Ctrl-C (or SIGTERM under `proctor run`) ends the loop with one line saying what was
        stopped, not a traceback: stopping a scheduled loop is how it is meant to end. A run
        in progress was already ended Cancelled by the engine; its state is returned."""
        from .interrupts import reason_of

        last = None
        while max_runs is None or self.runs < max_runs:
            runs_before = self.runs
            try:
                state = self.step()
            except KeyboardInterrupt as exc:
                reason = reason_of(exc)
                mid_run = self.runs > runs_before
                done = self.runs - 1 if mid_run else self.runs
                what = ("the run in progress ended Cancelled" if mid_run
                        else "no run was in progress")
                print(f"Flow {self.name!r}: schedule stopped ({reason}) after {done} "
                      f"finished run(s); {what}.", file=sys.stderr, flush=True)
                return Cancelled(f"schedule stopped: {reason}") if mid_run else last
            if state is None:
                break
            last = state
        return last
