"""Configuration from `PROCTOR_*` environment variables, read when needed (never cached at import).

Every variable, its default and what it does: docs/settings.md (a test keeps that table in step
with the variables the code reads).
"""

from __future__ import annotations

import contextvars
import os
from pathlib import Path

#: Set where a task runs on behalf of a flow in another process (a Dask worker): the flow's
#: results folder, which wins over this process's own environment.
RESULTS_DIR_OVERRIDE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "proctor_results_dir", default=None
)


def home() -> Path:
    """Proctor's own folder (`PROCTOR_HOME`, default `~/.proctor`)."""
    return Path(os.environ.get("PROCTOR_HOME") or Path.home() / ".proctor").expanduser()


def results_dir() -> Path:
    """Where results and cache entries are written (`PROCTOR_RESULTS_DIR`)."""
    explicit = RESULTS_DIR_OVERRIDE.get() or os.environ.get("PROCTOR_RESULTS_DIR")
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


def _positive(name: str, default: float, unit: str) -> float:
    """The positive number in `name`, or `default` when unset; a bad value is an error that names
    the variable, so a typo stops the server at start instead of disabling a service."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number of {unit}, not {raw!r}") from exc
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a positive number of {unit}, not {raw!r}")
    return value


def scheduler_interval() -> float:
    """Seconds between two passes of the server's scheduler and reaper
    (`PROCTOR_SCHEDULER_INTERVAL`, default 5): how soon a new schedule or a dead agent is seen."""
    return _positive("PROCTOR_SCHEDULER_INTERVAL", 5.0, "seconds")


def scheduler_horizon_runs() -> int:
    """How many future runs the scheduler keeps per deployment
    (`PROCTOR_SCHEDULER_HORIZON_RUNS`, default 100), so an every-second schedule cannot fill
    the database."""
    value = _positive("PROCTOR_SCHEDULER_HORIZON_RUNS", 100, "runs")
    if value != int(value):
        raise ValueError(f"PROCTOR_SCHEDULER_HORIZON_RUNS must be a whole number, not {value}")
    return int(value)


def scheduler_horizon_days() -> float:
    """How far ahead the scheduler makes runs (`PROCTOR_SCHEDULER_HORIZON_DAYS`, default 7), so
    upcoming runs of a weekly schedule are visible without making months of them."""
    return _positive("PROCTOR_SCHEDULER_HORIZON_DAYS", 7.0, "days")


def late_after() -> float:
    """Seconds after its due time before a scheduled run that no agent took is marked LATE
    (`PROCTOR_LATE_AFTER`, default 60): the sign that no agent serves its queue."""
    return _positive("PROCTOR_LATE_AFTER", 60.0, "seconds")


def agent_timeout() -> float:
    """Seconds without a heartbeat after which an agent counts as gone and its runs as crashed
    (`PROCTOR_AGENT_TIMEOUT`, default 90): a few missed heartbeats, not one slow one."""
    return _positive("PROCTOR_AGENT_TIMEOUT", 90.0, "seconds")


def heartbeat_interval() -> float:
    """Seconds between two heartbeats of the process running a recorded flow run
    (`PROCTOR_HEARTBEAT_INTERVAL`, default 5). The server counts a process as alive for a few
    of these when a run is cancelled, and as gone after `PROCTOR_AGENT_TIMEOUT`."""
    return _positive("PROCTOR_HEARTBEAT_INTERVAL", 5.0, "seconds")


def agent_forget_after() -> float:
    """Seconds without a heartbeat after which an offline agent is no longer listed (API, CLI,
    web UI) unless it still holds unfinished runs (`PROCTOR_AGENT_FORGET_AFTER`, default 86400:
    a day). Its row stays, for the runs that name it."""
    return _positive("PROCTOR_AGENT_FORGET_AFTER", 86400.0, "seconds")


#: Host names every server answers to, whatever it was told: this machine's loopback names.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def allowed_hosts() -> tuple[str, ...] | None:
    """The Host names the server answers (`PROCTOR_ALLOWED_HOSTS`, comma-separated, e.g.
    `proctor.example.com,10.0.0.5`; `*` answers any). None when unset: the server then answers
    its bind address and `LOOPBACK_HOSTS` only, so a web page whose name resolves to this machine
    (DNS rebinding) is not served."""
    raw = os.environ.get("PROCTOR_ALLOWED_HOSTS", "").strip()
    if not raw:
        return None
    names = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    for name in names:
        if name != "*" and ("/" in name or " " in name):
            raise ValueError(
                f"PROCTOR_ALLOWED_HOSTS lists host names, not URLs: {name!r} (write e.g. "
                "proctor.example.com,10.0.0.5)")
    return names


def ui_session_ttl() -> float:
    """Seconds a login to the web UI lasts (`PROCTOR_UI_SESSION_TTL`, default 43200: 12 hours),
    counted from the login; logging out ends the session at once."""
    return _positive("PROCTOR_UI_SESSION_TTL", 43200.0, "seconds")
