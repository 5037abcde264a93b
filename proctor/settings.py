"""Configuration from `PROCTOR_*` environment variables, read when needed (never cached at import).

| variable | default | what |
|---|---|---|
| `PROCTOR_HOME` | `~/.proctor` | where Proctor keeps its files |
| `PROCTOR_RESULTS_DIR` | `$PROCTOR_HOME/results` | persisted results and the task cache |
| `PROCTOR_EXECUTOR` | `local` | the default executor (`threads:4`, `processes:2`, ...) |
| `PROCTOR_LOGGING_LEVEL` | `INFO` | level of Proctor's run logs |
| `PROCTOR_LOGGING_CONSOLE` | `true` | print run logs to stderr when logging is not configured |
| `PROCTOR_DATABASE_URL` | `sqlite:///$PROCTOR_HOME/proctor.db` | the server database |
| `PROCTOR_API_KEY` | unset | when set, clients must send `Authorization: Bearer <key>` |
| `PROCTOR_API_MAX_BODY_BYTES` | `10485760` (10 MiB) | the largest request body the server reads |
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


def database_url() -> str:
    """The server's database (`PROCTOR_DATABASE_URL`); an SQLite file in `home()` by default, so
    `proctor server start` works with nothing configured."""
    explicit = os.environ.get("PROCTOR_DATABASE_URL")
    return explicit if explicit else f"sqlite:///{home() / 'proctor.db'}"


def api_key() -> str | None:
    """The key clients must present to the server (`PROCTOR_API_KEY`); None leaves it open."""
    return os.environ.get("PROCTOR_API_KEY") or None


#: Default of `api_max_body_bytes()`: large enough for a full batch of 10,000 events.
DEFAULT_API_MAX_BODY_BYTES = 10 * 1024 * 1024


def api_max_body_bytes() -> int:
    """The largest request body the server accepts (`PROCTOR_API_MAX_BODY_BYTES`), so one client
    cannot make it hold an unbounded body in memory."""
    raw = os.environ.get("PROCTOR_API_MAX_BODY_BYTES", "").strip()
    if not raw:
        return DEFAULT_API_MAX_BODY_BYTES
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(
            f"PROCTOR_API_MAX_BODY_BYTES must be a whole number of bytes, not {raw!r}"
        ) from exc
    if value <= 0:
        raise ValueError(f"PROCTOR_API_MAX_BODY_BYTES must be positive, not {value}")
    return value
