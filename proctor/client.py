"""The HTTP client of the server API (see docs/api.md), used by the recorder, the CLI and agents.

`httpx` is imported when a client is created, so `import proctor` stays light. Every method
raises `ApiError` (with the status and the server's `detail`) for answers that are not 2xx, and
`ServerUnreachable` when no answer came at all; callers decide what is worth a retry.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from .core.errors import ProctorError


class ApiError(ProctorError):
    """The server answered with an error status."""

    def __init__(self, status: int, detail: Any, method: str, path: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"{method} {path} -> {status}: {detail}")


class ServerUnreachable(ProctorError):
    """No answer from the server (refused, timed out, connection dropped)."""


def api_url_from_env() -> str | None:
    """`PROCTOR_API_URL`, without a trailing slash, or None."""
    url = os.environ.get("PROCTOR_API_URL", "").strip()
    return url.rstrip("/") or None


class ProctorClient:
    """A small synchronous client: one method per route the tools need."""

    def __init__(
        self, api_url: str, *, api_key: str | None = None, timeout: float = 10.0
    ) -> None:
        import httpx

        if not api_url.startswith(("http://", "https://")):
            raise ProctorError(
                f"api_url {api_url!r} must start with http:// or https://, e.g. "
                f"http://127.0.0.1:4200"
            )
        self.api_url = api_url.rstrip("/")
        key = api_key if api_key is not None else os.environ.get("PROCTOR_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=self.api_url, headers=headers, timeout=timeout)
        self._transport_errors = (httpx.TransportError,)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ProctorClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except self._transport_errors as exc:
            raise ServerUnreachable(
                f"{method} {self.api_url}{path}: {type(exc).__name__}: {exc}"
            ) from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ApiError(response.status_code, detail, method, path)
        if not response.content:
            return None
        ctype = response.headers.get("content-type", "")
        return response.json() if "json" in ctype else response.text

    # -- routes ---------------------------------------------------------------------------------
    def health(self) -> dict:
        return self.request("GET", "/api/health")

    def create_flow_run(self, body: Mapping[str, Any]) -> dict:
        return self.request("POST", "/api/flow_runs", json=dict(body))

    def set_flow_run_state(self, run_id: str, state: Mapping, force: bool = False) -> dict:
        return self.request(
            "POST", f"/api/flow_runs/{run_id}/state", json={"state": dict(state), "force": force}
        )

    def send_events(
        self, task_runs: Iterable[Mapping] = (), states: Iterable[Mapping] = (),
        logs: Iterable[Mapping] = (),
    ) -> dict:
        body = {"task_runs": list(task_runs), "states": list(states), "logs": list(logs)}
        return self.request("POST", "/api/events", json=body)

    def list_flow_runs(self, **filters: Any) -> list[dict]:
        params = {k: v for k, v in filters.items() if v is not None}
        return self.request("GET", "/api/flow_runs", params=params)["items"]

    def read_flow_run(self, run_id: str) -> dict:
        return self.request("GET", f"/api/flow_runs/{run_id}")

    def read_flow_run_states(self, run_id: str) -> list[dict]:
        return self.request("GET", f"/api/flow_runs/{run_id}/states")

    def read_task_runs(self, run_id: str, limit: int = 500, offset: int = 0) -> list[dict]:
        return self.request(
            "GET", f"/api/flow_runs/{run_id}/task_runs", params={"limit": limit, "offset": offset}
        )["items"]

    def read_task_run_states(self, task_run_id: str) -> list[dict]:
        return self.request("GET", f"/api/task_runs/{task_run_id}/states")

    def read_logs(self, run_id: str, **filters: Any) -> list[dict]:
        params = {k: v for k, v in filters.items() if v is not None}
        return self.request("GET", f"/api/flow_runs/{run_id}/logs", params=params)["items"]
