"""What every command that talks to the server shares: the `--api-url` option, the client, and
one way of turning the server's refusals into a message and an exit code.

Exit codes: 1 when the server could not be reached or refused for its own reasons, 2 when the
request itself was wrong (an unknown id or name: 404; invalid input: 422).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from .output import EXIT_FAILED, fail

if TYPE_CHECKING:
    from ..client import ProctorClient

T = TypeVar("T")
DEFAULT_API_URL = "http://127.0.0.1:4200"
ApiUrl = typer.Option(None, "--api-url", help="The server (default: $PROCTOR_API_URL or "
                      f"{DEFAULT_API_URL}).")


def api_client(api_url: str | None) -> ProctorClient:
    """A client of `api_url`, else `PROCTOR_API_URL`, else the local default server."""
    from ..client import ProctorClient, api_url_from_env
    from ..core.errors import ProctorError

    try:
        return ProctorClient(api_url or api_url_from_env() or DEFAULT_API_URL)
    except ProctorError as exc:
        fail(str(exc))


def call_api(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call the API; turn its failures into a one-line error and an exit code."""
    from ..client import ApiError, ServerUnreachable

    try:
        return fn(*args, **kwargs)
    except ServerUnreachable as exc:
        fail(f"the server is not reachable: {exc}. Start it with `proctor server start` or "
             f"set --api-url / PROCTOR_API_URL", EXIT_FAILED)
    except ApiError as exc:
        fail(str(exc.detail), 2 if exc.status in (404, 422) else EXIT_FAILED)


def utc_time(ts: float | None) -> str:
    """A server timestamp as `YYYY-MM-DD HH:MM:SS` in UTC (the server's clock knows no zone)."""
    from datetime import datetime, timezone

    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
