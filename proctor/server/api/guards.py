"""Two ASGI guards against web pages that use a browser to reach the server: Host and Origin.

A server on 127.0.0.1 is not private from the browser of the person running it: any page they
visit can make that browser send requests to it. Two ways were shown to work (issue 11):

- **Cross-site requests.** A form on any site, or on another port of 127.0.0.1 (the same *site*,
  so a SameSite=Strict cookie is sent along), posts to `/api/deployments/<id>/pause` or
  `/api/flow_runs/<id>/cancel`. The page cannot read the answer, but the change is made.
  `OriginGuard` refuses (403) every state-changing request (POST, PUT, PATCH, DELETE) that a
  browser marks as coming from anywhere but this server's own pages: `Sec-Fetch-Site` other
  than `same-origin`, or an `Origin` whose host and port are not the request's `Host`. A request
  with neither header is not from a browser page (the CLI, agents and the recorder use httpx,
  which sends neither) and passes; such clients authenticate with the bearer key when there is
  one, and a page cannot add that header to a cross-origin request without CORS, which the
  server does not grant.
- **DNS rebinding.** A page of `evil.example` whose name is then re-pointed at 127.0.0.1 is
  same-origin with itself, so the browser lets it read the answers. It still sends
  `Host: evil.example`. `HostGuard` answers (400) only the Host names the server is known by:
  `PROCTOR_ALLOWED_HOSTS`, or by default the address it listens on and the loopback names.

The third part of the defence, a CSRF token on changes authenticated by the UI's cookie, lives
with the sessions (`proctor.server.ui.session`) and the key check (`api.deps`).

Both guards are plain ASGI (no `BaseHTTPMiddleware`) and read headers only, before the body.
Their refusals say what was wrong and which setting or header changes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from ... import settings
from .middleware import send_json

#: Methods that change state: only these are checked for their origin.
CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: In PROCTOR_ALLOWED_HOSTS, answer any Host (a proxy in front checks it instead).
ANY_HOST = "*"
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def split_host(value: str) -> tuple[str, int | None]:
    """A Host header (or the netloc of an Origin) as (name, port): lower-case, an IPv6 address
    kept in brackets, a trailing dot dropped; the port None when absent. Raise ValueError for a
    value that is no host."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise ValueError(f"unclosed '[' in {value!r}")
        name, rest = value[: end + 1], value[end + 1 :]
    else:
        name, colon, port = value.rpartition(":")
        if not colon:
            name, rest = value, ""
        elif ":" in name:  # a bare IPv6 address, as a bind address may be written
            name, rest = f"[{value}]", ""
        else:
            rest = f":{port}"
    if rest and not (rest.startswith(":") and rest[1:].isdigit()):
        raise ValueError(f"bad port in {value!r}")
    name = name.rstrip(".") if name != "." else name
    if not name or any(c in name for c in "/@?# \t\\"):
        raise ValueError(f"{value!r} is not a host name")
    return name, int(rest[1:]) if rest else None


def allowed_host_names(bind_hosts: Iterable[str] = (),
                       configured: Iterable[str] | None = None) -> frozenset[str]:
    """The Host names a server answers: `configured` (PROCTOR_ALLOWED_HOSTS) or else the
    loopback names, plus the addresses it was told to listen on (`--host`)."""
    names = set(settings.LOOPBACK_HOSTS if configured is None else configured)
    names.update(bind_hosts)
    allowed: set[str] = set()
    for name in names:
        if name == ANY_HOST:
            allowed.add(ANY_HOST)
            continue
        try:
            allowed.add(split_host(name)[0])
        except ValueError as exc:
            raise ValueError(f"PROCTOR_ALLOWED_HOSTS: {exc}") from None
    return frozenset(allowed)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


class HostGuard:
    """Answer 400 to a request whose `Host` is not one of `allowed` (see the module docstring:
    DNS rebinding). `allowed` holds names as `split_host` gives them, or `*` for any."""

    def __init__(self, app: ASGIApp, *, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or ANY_HOST in self.allowed:
            await self.app(scope, receive, send)
            return
        problem = self.refusal(_header(scope, b"host"))
        if problem is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": problem[:120]})
        else:
            await send_json(send, 400, problem)

    def refusal(self, host: str | None) -> str | None:
        """Why a request with this Host header is refused, or None when it is answered."""
        if not host:
            return "the request has no Host header; send one naming this server"
        try:
            name, _ = split_host(host)
        except ValueError:
            name = None
        if name in self.allowed:
            return None
        known = ", ".join(sorted(self.allowed))
        return (
            f"this server does not answer to the host name {host!r} (it answers {known}). "
            "If that is this server's name, add it to PROCTOR_ALLOWED_HOSTS (comma-separated, "
            "e.g. PROCTOR_ALLOWED_HOSTS=proctor.example.com,127.0.0.1) and restart it; "
            "a web page whose name merely points at this machine is refused on purpose "
            "(DNS rebinding)"
        )


class OriginGuard:
    """Answer 403 to a state-changing request that a browser says comes from a page other than
    this server's own (see the module docstring: cross-site requests)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") not in CHANGING_METHODS:
            await self.app(scope, receive, send)
            return
        problem = origin_refusal(
            scope["method"], _header(scope, b"host"), _header(scope, b"origin"),
            _header(scope, b"sec-fetch-site"))
        if problem is None:
            await self.app(scope, receive, send)
        else:
            await send_json(send, 403, problem)


_CROSS_ORIGIN_ADVICE = (
    "Browsers may change Proctor's state only from its own pages (open the web UI at this "
    "server's address); scripts and the CLI send no Origin header and authenticate with "
    "'Authorization: Bearer <PROCTOR_API_KEY>'. Behind a reverse proxy, have it pass the "
    "browser's Host header through unchanged."
)


def origin_refusal(method: str, host: str | None, origin: str | None,
                   fetch_site: str | None) -> str | None:
    """Why a state-changing request with these headers is refused, or None when it may go on.
    Pure, so every combination is tested without a server."""
    if fetch_site is not None and fetch_site.strip().lower() != "same-origin":
        return (f"cross-origin {method} refused: the browser marks it Sec-Fetch-Site: "
                f"{fetch_site.strip()}, not same-origin. {_CROSS_ORIGIN_ADVICE}")
    if origin is None:
        return None
    if _same_origin(origin, host):
        return None
    return (f"cross-origin {method} refused: it comes from a page of {origin.strip()!r} "
            f"(Origin), not of this server ({host!r}). {_CROSS_ORIGIN_ADVICE}")


def _same_origin(origin: str, host: str | None) -> bool:
    """Is `origin` (scheme://host[:port]) the server the `host` header names?"""
    if not host or origin.strip().lower() == "null":
        return False
    parts = urlsplit(origin.strip())
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc or parts.path not in ("", "/"):
        return False
    try:
        origin_name, origin_port = split_host(parts.netloc)
        host_name, host_port = split_host(host)
    except ValueError:
        return False
    default = _DEFAULT_PORTS[parts.scheme]
    return (origin_name, origin_port or default) == (host_name, host_port or default)
