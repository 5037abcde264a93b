"""Concurrency slots from the server: cap running task runs per tag across every agent.

The server holds the limits (`proctor concurrency-limit create TAG N`) and hands out slots. A run
recorded to a server asks for a slot before starting a task that carries a limited tag, and gives
it back when the attempt ends. Which tags are limited is fetched once and refreshed every 30 s, so
tasks without a limited tag never wait on the network. If the server cannot be reached the gate
lets the task run (it is a limit on load, not a lock), and says so in the log once.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..client import ApiError, ProctorClient, ServerUnreachable
from ..core.context import FLOW_RUN
from .api import jsonable

_log = logging.getLogger("proctor.recording")


class ServerConcurrencyGate:
    """The engine's `gate`: `acquire(ctx, tags) -> bool`, `release(ctx)`."""

    retry_after = 0.5
    refresh_every = 30.0

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self._client: ProctorClient | None = None
        self._limited: set[str] = set()
        self._fetched_at = float("-inf")
        self._holding: set[str] = set()
        self._registered: set[str] = set()
        self._known_flow_runs: set[str] = set()
        self._warned = False

    @property
    def client(self) -> ProctorClient:
        """Made on first use: most runs have no tagged task and never need it."""
        if self._client is None:
            self._client = ProctorClient(self.api_url)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _register(self, ctx: Any, tags: frozenset[str]) -> None:
        """Make sure the server knows the task run (and its flow run) before a slot is asked
        for it: the recorder sends them asynchronously and may not have yet. The items are the
        ones the recorder sends, with the same ids, so its own copies count as duplicates."""
        if ctx.id in self._registered:
            return
        if ctx.flow_run_id not in self._known_flow_runs:
            flow_run = FLOW_RUN.get()
            self.client.create_flow_run({
                "id": ctx.flow_run_id, "flow_name": ctx.flow_name,
                "parameters": jsonable(flow_run.parameters if flow_run else {}),
            })
            self._known_flow_runs.add(ctx.flow_run_id)
        self.client.send_events(task_runs=[{
            "id": ctx.id, "flow_run_id": ctx.flow_run_id, "task_key": ctx.task_key,
            "task_name": ctx.task_name, "map_index": ctx.map_index, "tags": sorted(tags),
        }])
        self._registered.add(ctx.id)

    def _limited_tags(self) -> set[str]:
        now = time.monotonic()
        if now - self._fetched_at >= self.refresh_every:
            self._fetched_at = now
            try:
                limits = self.client.request("GET", "/api/concurrency_limits")
                items = limits.get("items", limits) if isinstance(limits, dict) else limits
                self._limited = {item["tag"] for item in items}
            except (ServerUnreachable, ApiError) as exc:
                self._unreachable(exc)
        return self._limited

    def acquire(self, ctx: Any, tags: frozenset[str]) -> bool:
        if not tags:
            return True
        if not (tags & self._limited_tags()):
            return True
        try:
            self._register(ctx, tags)
            answer = self.client.request(
                "POST", "/api/concurrency_limits/acquire",
                json={"task_run_id": ctx.id, "tags": sorted(tags)},
            )
        except (ServerUnreachable, ApiError) as exc:
            self._unreachable(exc)
            return True
        if answer.get("granted"):
            self._holding.add(ctx.id)
            return True
        return False

    def release(self, ctx: Any) -> None:
        if ctx.id not in self._holding:
            return
        self._holding.discard(ctx.id)
        try:
            self.client.request("POST", "/api/concurrency_limits/release",
                                json={"task_run_id": ctx.id})
        except (ServerUnreachable, ApiError) as exc:
            self._unreachable(exc)

    def _unreachable(self, exc: Exception) -> None:
        if not self._warned:
            self._warned = True
            _log.warning("concurrency limits not enforced for this run: %s", exc)
