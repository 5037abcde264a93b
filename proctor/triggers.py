"""Triggers for `@task(trigger=...)` (see `proctor.core.triggers`)."""

from .core.control_flow import not_all_skipped  # noqa: F401
from .core.triggers import (  # noqa: F401
    all_failed,
    all_finished,
    all_successful,
    always_run,
    any_failed,
    any_successful,
    manual_only,
    none_failed,
    some_failed,
    some_successful,
)

__all__ = [
    "all_successful",
    "all_failed",
    "any_successful",
    "any_failed",
    "all_finished",
    "always_run",
    "none_failed",
    "manual_only",
    "some_successful",
    "some_failed",
    "not_all_skipped",
]
