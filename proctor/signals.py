"""Signals a task may raise to choose how its run ends (see `proctor.core.signals`):
`SKIP`, `FAIL`, `RETRY`, `ENDRUN`, `SUCCESS`, `LOOP`, `PAUSE`, `TRIGGERFAIL`."""

from .core.signals import (  # noqa: F401
    ENDRUN,
    FAIL,
    LOOP,
    PAUSE,
    RETRY,
    SKIP,
    SUCCESS,
    TRIGGERFAIL,
    VALIDATIONFAIL,
    PrefectStateSignal,
    Signal,
)

__all__ = ["SKIP", "FAIL", "RETRY", "ENDRUN", "SUCCESS", "LOOP", "PAUSE", "TRIGGERFAIL",
           "VALIDATIONFAIL", "PrefectStateSignal", "Signal"]
