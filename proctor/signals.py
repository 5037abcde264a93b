"""Signals a task may raise: `SKIP`, `FAIL`, `RETRY`, `ENDRUN` (see `proctor.core.signals`)."""

from .core.signals import ENDRUN, FAIL, RETRY, SKIP, Signal  # noqa: F401

__all__ = ["SKIP", "FAIL", "RETRY", "ENDRUN", "Signal"]
