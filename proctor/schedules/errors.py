"""The one error this package raises on purpose.

It is both a `ProctorError` (so callers catching all of Proctor's errors see it) and a
`ValueError` (so code that validates user input generically, such as a CLI or an API layer,
treats a bad schedule like any other bad value).
"""

from __future__ import annotations

from proctor.core.errors import ProctorError


class ScheduleError(ProctorError, ValueError):
    """A schedule, clock, filter or serialised schedule is invalid; the message names the value."""
