"""Retry policy of a task: how many attempts, how long to wait, which errors qualify (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .errors import TaskOptionError
from .signals import ENDRUN, RETRY
from .states import State, StateType

RETRYABLE_TYPES = frozenset({StateType.FAILED, StateType.TIMED_OUT})


def seconds(value: Any, *, owner: str, option: str, allow_none: bool = True) -> float | None:
    """A duration option as seconds: number or timedelta, never negative."""
    if value is None and allow_none:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TaskOptionError(
            f"{owner}: {option}={value!r} must be a number of seconds or a timedelta"
        )
    if value < 0:
        raise TaskOptionError(f"{owner}: {option}={value!r} must not be negative")
    return float(value)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`max_retries` extra attempts, waiting `delay * backoff**(n-1)` (+/- `jitter` of it)."""

    max_retries: int = 0
    delay: float = 0.0
    backoff: float = 1.0
    jitter: float = 0.0
    retry_on: tuple[type[BaseException], ...] | None = None

    @classmethod
    def build(
        cls, owner: str, max_retries: Any = 0, retry_delay: Any = 0, retry_backoff: Any = 1.0,
        retry_jitter: Any = 0.0, retry_on: Any = None,
    ) -> RetryPolicy:
        """Validate user-facing options; errors name the owner and the option."""
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise TaskOptionError(
                f"{owner}: max_retries={max_retries!r} must be a whole number >= 0"
            )
        delay = seconds(retry_delay, owner=owner, option="retry_delay", allow_none=False)
        if isinstance(retry_backoff, bool) or not isinstance(retry_backoff, (int, float)) or (
            retry_backoff < 1
        ):
            raise TaskOptionError(f"{owner}: retry_backoff={retry_backoff!r} must be a number >= 1")
        if isinstance(retry_jitter, bool) or not isinstance(retry_jitter, (int, float)) or not (
            0 <= retry_jitter <= 1
        ):
            raise TaskOptionError(
                f"{owner}: retry_jitter={retry_jitter!r} must be a fraction between 0 and 1"
            )
        if retry_on is not None:
            given = retry_on
            if isinstance(retry_on, type):
                retry_on = (retry_on,)
            retry_on = tuple(retry_on) if isinstance(retry_on, (tuple, list, set)) else (given,)
            bad = [
                r for r in retry_on if not (isinstance(r, type) and issubclass(r, BaseException))
            ]
            if bad or not retry_on:
                retry_on = given
                raise TaskOptionError(
                    f"{owner}: retry_on={retry_on!r} must be an exception class or a tuple of them"
                )
        return cls(max_retries, delay or 0.0, float(retry_backoff), float(retry_jitter), retry_on)

    def should_retry(self, state: State, attempt: int) -> bool:
        """Whether the attempt that ended in `state` (attempt number `attempt`) gets another."""
        if attempt > self.max_retries or state.type not in RETRYABLE_TYPES:
            return False
        error = state.exception
        if isinstance(error, ENDRUN):
            return False
        if isinstance(error, RETRY) or self.retry_on is None:
            return True
        if state.type is StateType.TIMED_OUT:
            return issubclass(TimeoutError, self.retry_on)
        return isinstance(error, self.retry_on)

    def delay_before(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt number `attempt` (2 for the first retry)."""
        base = self.delay * self.backoff ** max(attempt - 2, 0)
        if self.jitter and base:
            base += base * self.jitter * (2 * (rng or random).random() - 1)
        return max(base, 0.0)
