"""Shared test settings: keep the console quiet and the default executor predictable."""

import os

os.environ.setdefault("PROCTOR_LOGGING_CONSOLE", "false")
os.environ.pop("PROCTOR_EXECUTOR", None)
