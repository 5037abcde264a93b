"""Core tasks: `Constant` (Prefect 1's `prefect.tasks.core.constants.Constant`)."""

from ..core.constants import Constant

__all__ = ["Constant"]
