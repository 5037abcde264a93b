"""A service's loop: `run_once(now)` on a background thread, every `interval` seconds.

The loop never dies of an error in a pass: it logs it and tries again at the next tick, since a
transient database failure must not stop scheduling for good. `wake()` starts the next pass at
once (after a deployment changed, so its runs appear without waiting for the tick); `stop()`
finishes the pass under way and joins the thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from ... import settings
from ..db.engine import Database

log = logging.getLogger("proctor.server.services")


def as_epoch(now: datetime | float) -> float:
    """`now` as epoch seconds; a naive datetime is taken as UTC (never as local time)."""
    if isinstance(now, datetime):
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        return now.timestamp()
    return float(now)


class Service:
    """Base of the scheduler and the reaper: subclasses implement `run_once`."""

    #: Used in the thread's name and in log messages.
    name = "service"

    def __init__(self, database: Database, *, interval: float | None = None) -> None:
        self.database = database
        self.interval = settings.scheduler_interval() if interval is None else interval
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def run_once(self, now: datetime | float) -> Any:
        """Do one pass as of `now`; what it did."""
        raise NotImplementedError

    def start(self) -> None:
        """Run passes in a daemon thread until `stop()`; the first one at once."""
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=f"proctor-{self.name}", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Start the next pass now instead of at the next tick."""
        self._wake.set()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Let the pass under way finish, then end the thread."""
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        self._wake.set()
        thread.join(timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                self.run_once(datetime.now(timezone.utc))
            except Exception:  # a failed pass must not end the service
                log.exception("%s pass failed; trying again in %g s", self.name, self.interval)
            self._wake.wait(self.interval)


class Services:
    """The services of one app, started and stopped together."""

    def __init__(self, services: Iterable[Service]) -> None:
        self.services = list(services)

    @classmethod
    def for_database(cls, database: Database) -> Services:
        """The scheduler and the reaper over `database`, configured from the settings."""
        from .reaper import Reaper
        from .scheduler import Scheduler

        return cls([Scheduler(database), Reaper(database)])

    def start(self) -> None:
        for service in self.services:
            service.start()

    def stop(self) -> None:
        for service in self.services:
            service.stop()

    def serving(self, moment: float) -> None:
        """The app answered its first request at `moment`: tell the services that care (the
        reaper counts its grace from then, not from when it started)."""
        for service in self.services:
            note = getattr(service, "serving", None)
            if note is not None:
                note(moment)

    def wake(self, name: str | None = None) -> None:
        """Wake the service called `name` (all of them when None)."""
        for service in self.services:
            if name is None or service.name == name:
                service.wake()
