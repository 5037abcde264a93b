"""Background delivery, so that a slow or dead endpoint never slows a run down.

Notifiers hand a `Delivery` (a callable that sends once) to `submit`, which returns at once. One
worker thread sends them in order, retrying failures after `backoff * 2**i` seconds. Waiting
retries sit in a time-ordered heap instead of sleeping in the worker, so one failing endpoint does
not hold back notifications to the others.

The worker is started on demand and ends after `IDLE_SECONDS` without work. It is *not* a daemon:
a script whose last task failed still waits for its failure notice to go out before the process
exits, and then only for that idle second. The number of pending deliveries is bounded
(`MAX_PENDING`): when a broken endpoint lets them pile up, new ones are logged and dropped rather
than growing memory or blocking the run.

After `os.fork()` the child starts with an empty sender (the parent keeps and delivers its own
queue; a lock held by a parent thread at fork time must not deadlock the child).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import DeliveryError

logger = logging.getLogger("proctor.notifications")

#: Pending deliveries (queued, running or waiting to retry) beyond which new ones are dropped.
MAX_PENDING = 1000
#: Seconds the worker waits for new work before it ends.
IDLE_SECONDS = 1.0
#: Name of the worker thread (visible in thread dumps).
THREAD_NAME = "proctor-notifications"


@dataclass(eq=False)
class Delivery:
    """One notification to deliver: `send()` tries once and raises on failure.

    `description` says what and where (never a secret) for the warning logged on failure;
    `retries` is how many times to try again after the first attempt.
    """

    description: str
    send: Callable[[], None]
    retries: int = 3
    backoff: float = 0.5
    attempts: int = field(default=0, init=False)


class Sender:
    """The queue and its worker thread; one per process (see `submit` and `flush`)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Delivery]] = []
        self._order = itertools.count()
        self._pending = 0
        self._dropped = 0
        self._worker: threading.Thread | None = None

    def submit(self, job: Delivery) -> bool:
        """Queue `job` for delivery now; False (and a warning) when the queue is full."""
        with self._cond:
            if self._pending >= MAX_PENDING:
                self._dropped += 1
                dropped = self._dropped
            else:
                dropped = 0
                if self._worker is None and not self._start_worker():
                    logger.warning(
                        "cannot start the notification thread; dropped %s", job.description
                    )
                    return False
                self._pending += 1
                heapq.heappush(self._heap, (time.monotonic(), next(self._order), job))
                self._cond.notify_all()
        if dropped and (dropped == 1 or dropped % 100 == 0):
            logger.warning(
                "notification queue is full (%d pending deliveries); dropped %s "
                "(%d dropped so far)",
                MAX_PENDING,
                job.description,
                dropped,
            )
        return not dropped

    def _start_worker(self) -> bool:
        # Called with the lock held; fails only at interpreter shutdown or out of threads.
        worker = threading.Thread(target=self._run, name=THREAD_NAME)
        try:
            worker.start()
        except RuntimeError:
            return False
        self._worker = worker
        return True

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every submitted delivery is finished; False if `timeout` passes first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if threading.current_thread() is self._worker:
                return self._pending == 0  # waiting on ourselves would only time out
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def _next_job(self) -> Delivery | None:
        """The next job that is due, waiting for it; None once idle long enough to stop."""
        idle_until = time.monotonic() + IDLE_SECONDS
        with self._cond:
            while True:
                now = time.monotonic()
                if self._heap:
                    due = self._heap[0][0]
                    if due <= now:
                        return heapq.heappop(self._heap)[2]
                    self._cond.wait(due - now)
                elif now >= idle_until:
                    self._worker = None
                    return None
                else:
                    self._cond.wait(idle_until - now)

    def _run(self) -> None:
        while (job := self._next_job()) is not None:
            retry_at = None
            try:
                retry_at = self._attempt(job)
            except Exception:  # a bug in a notifier must not kill the worker
                logger.exception("notification worker failed on %s", job.description)
            finally:
                with self._cond:
                    if retry_at is None:
                        self._pending -= 1
                    else:
                        heapq.heappush(self._heap, (retry_at, next(self._order), job))
                    self._cond.notify_all()

    @staticmethod
    def _attempt(job: Delivery) -> float | None:
        """Send `job` once; the time of its next attempt, or None when it is finished."""
        job.attempts += 1
        try:
            job.send()
            return None
        except DeliveryError as exc:
            reason, permanent = exc.reason, exc.permanent
        except Exception as exc:
            reason, permanent = f"{type(exc).__name__}: {exc}", False
        if permanent or job.attempts > job.retries:
            logger.warning(
                "could not deliver %s after %d attempt(s): %s; giving up",
                job.description,
                job.attempts,
                reason,
            )
            return None
        delay = job.backoff * 2 ** (job.attempts - 1)
        logger.debug(
            "delivering %s failed (attempt %d): %s; retrying in %.2fs",
            job.description,
            job.attempts,
            reason,
            delay,
        )
        return time.monotonic() + delay


_sender = Sender()


def _reset_after_fork() -> None:
    global _sender
    _sender = Sender()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def submit(job: Delivery) -> bool:
    """Queue a delivery; returns at once (False when the queue was full and it was dropped)."""
    return _sender.submit(job)


def flush(timeout: float = 30.0) -> bool:
    """Wait until every notification sent so far is delivered or given up.

    Returns True when nothing is left pending, False if `timeout` seconds passed first. Call it
    before `os._exit`, at the end of a test, or wherever the process must not end early.
    """
    return _sender.flush(timeout)
