"""Two ASGI middlewares: a cap on request body size, and a timer feeding `/metrics` (and
the JSON refusal they and the guards send).

Both are plain ASGI (no `BaseHTTPMiddleware`), so they add no task or stream copying per request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import RequestMetrics


async def send_json(send: Send, status: int, detail: str) -> None:
    """Answer `{"detail": detail}` with `status` and close the connection (the body, if any,
    was not read)."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Answer 413 to a request whose body is larger than `max_bytes`.

    The declared `Content-Length` is checked first (nothing is read), then the bytes actually
    received are counted, since a client may send no length (chunked) or a false one. The body is
    read here, up to the limit, and replayed to the app, so the app never holds more than that.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await send_json(send, 400, "Content-Length is not a number")
                return
            if length > self.max_bytes:
                await send_json(send, 413, self._too_large())
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await send_json(send, 413, self._too_large())
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    def _too_large(self) -> str:
        return (
            f"request body larger than {self.max_bytes} bytes (PROCTOR_API_MAX_BODY_BYTES); "
            "send smaller batches"
        )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields the already-read body once, then waits on the real one (which
    reports the client's disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class FirstRequest:
    """Calls `on_first(time.time())` when the first HTTP request arrives (once): the moment
    the server is seen to answer, which the reaper's grace counts from."""

    def __init__(self, app: ASGIApp, *, on_first: Callable[[float], None]) -> None:
        self.app = app
        self.on_first: Callable[[float], None] | None = on_first

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.on_first is not None and scope["type"] == "http":
            note, self.on_first = self.on_first, None
            note(time.time())
        await self.app(scope, receive, send)


class RequestTimer:
    """Time every HTTP request and record it under its route template (`/api/flow_runs/{id}`),
    so the histogram has one series per route, not one per run id."""

    def __init__(self, app: ASGIApp, *, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500}

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            self.metrics.observe(
                scope.get("method", "GET"),
                template,
                status_holder["status"],
                time.perf_counter() - started,
            )
