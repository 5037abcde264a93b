"""Configuration from `PROCTOR_*` environment variables, read when needed (never cached at import).

| variable | default | what |
|---|---|---|
| `PROCTOR_HOME` | `~/.proctor` | where Proctor keeps its files |
| `PROCTOR_RESULTS_DIR` | `$PROCTOR_HOME/results` | persisted results and the task cache |
| `PROCTOR_EXECUTOR` | `local` | the default executor (`threads:4`, `processes:2`, ...) |
| `PROCTOR_LOGGING_LEVEL` | `INFO` | level of Proctor's run logs |
| `PROCTOR_LOGGING_CONSOLE` | `true` | print run logs to stderr when logging is not configured |
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """Proctor's own folder (`PROCTOR_HOME`, default `~/.proctor`)."""
    return Path(os.environ.get("PROCTOR_HOME") or Path.home() / ".proctor").expanduser()


def results_dir() -> Path:
    """Where results and cache entries are written (`PROCTOR_RESULTS_DIR`)."""
    explicit = os.environ.get("PROCTOR_RESULTS_DIR")
    return Path(explicit).expanduser() if explicit else home() / "results"
