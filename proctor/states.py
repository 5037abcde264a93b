"""Run states (re-exported from `proctor.core.states`)."""

from .core.states import *  # noqa: F401,F403
from .core.states import __all__  # noqa: F401
