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
        """The decoded answer of one call (JSON, text, or None for an empty body)."""
        return self.request_with_status(method, path, **kwargs)[1]

    def request_with_status(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """The status and the decoded answer: for routes where 201 and 200 mean different
        things (a deployment created or updated)."""
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
            return response.status_code, None
        ctype = response.headers.get("content-type", "")
        body = response.json() if "json" in ctype else response.text
        return response.status_code, body

    # -- routes ---------------------------------------------------------------------------------
    def health(self) -> dict:
        return self.request("GET", "/api/health")

    def create_flow_run(self, body: Mapping[str, Any]) -> dict:
        return self.request("POST", "/api/flow_runs", json=dict(body))

    def set_flow_run_state(self, run_id: str, state: Mapping, force: bool = False) -> dict:
        return self.request(
            "POST", f"/api/flow_runs/{_segment(run_id)}/state",
            json={"state": dict(state), "force": force},
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

    def follow_logs(
        self, run_id: str, after_seq: int, *, limit: int = 1000, **filters: Any
    ) -> tuple[list[dict], int]:
        """The run's lines stored after the line numbered `after_seq` (0: from the first), in
        the order they were stored, and the `after_seq` to give next (the same one when
        nothing new was stored)."""
        params = {k: v for k, v in filters.items() if v is not None}
        params.update(after_seq=after_seq, limit=limit)
        page = self.request("GET", f"/api/flow_runs/{run_id}/logs", params=params)
        return page["items"], int(page["next_after_seq"])

    # -- deployments ----------------------------------------------------------------------------
    def upsert_deployment(self, body: Mapping[str, Any]) -> tuple[dict, bool]:
        """Create or update the deployment (flow_name, name); also says whether it was new."""
        status, answer = self.request_with_status("POST", "/api/deployments", json=dict(body))
        return answer, status == 201

    def list_deployments(
        self, flow_name: str | None = None, limit: int = 500, offset: int = 0
    ) -> list[dict]:
        params = _present(flow_name=flow_name, limit=limit, offset=offset)
        return _items(self.request("GET", "/api/deployments", params=params))

    def read_deployment(self, deployment_id: str) -> dict:
        return self.request("GET", f"/api/deployments/{_segment(deployment_id)}")

    def read_deployment_by_name(self, name: str, flow_name: str | None = None) -> dict:
        """`flow_name/name`, or `name` alone when no other flow has a deployment of that name
        (the server answers 409 when it is ambiguous)."""
        path = "/api/deployments/name/"
        if flow_name is not None:
            path += f"{_segment(flow_name)}/"
        return self.request("GET", path + _segment(name))

    def pause_deployment(self, deployment_id: str) -> dict:
        return self.request("POST", f"/api/deployments/{_segment(deployment_id)}/pause")

    def resume_deployment(self, deployment_id: str) -> dict:
        return self.request("POST", f"/api/deployments/{_segment(deployment_id)}/resume")

    def delete_deployment(self, deployment_id: str) -> None:
        self.request("DELETE", f"/api/deployments/{_segment(deployment_id)}")

    def create_deployment_run(
        self,
        deployment_id: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        tags: Iterable[str] | None = None,
        idempotency_key: str | None = None,
        scheduled_time: float | None = None,
    ) -> dict:
        """A SCHEDULED run of the deployment (at `scheduled_time`, default now); `parameters`
        overlay the deployment's defaults on the server."""
        body = _present(
            parameters=dict(parameters) if parameters is not None else None,
            tags=list(tags) if tags is not None else None,
            idempotency_key=idempotency_key, scheduled_time=scheduled_time,
        )
        return self.request("POST", f"/api/deployments/{_segment(deployment_id)}/runs", json=body)

    def read_scheduled_runs(self, deployment_id: str, limit: int = 10) -> list[dict]:
        path = f"/api/deployments/{_segment(deployment_id)}/scheduled"
        return _items(self.request("GET", path, params={"limit": limit}))

    # -- agents and work queues -----------------------------------------------------------------
    def agent_heartbeat(
        self,
        agent_id: str,
        name: str,
        work_queue_name: str,
        labels: Iterable[str] = (),
        running: Iterable[str] | None = None,
    ) -> dict:
        """Tell the server the agent is alive; the answer lists runs to cancel (`cancel`). With
        `running` (the runs the agent has), the server reconciles and lists runs to stop at
        once (`stop`) and claims it gave back (`released`)."""
        body: dict[str, Any] = {"id": agent_id, "name": name, "work_queue_name": work_queue_name,
                                "labels": list(labels)}
        if running is not None:
            body["running"] = list(running)
        return self.request("POST", "/api/agents/heartbeat", json=body)

    def flow_run_heartbeat(self, flow_run_ids: Iterable[str]) -> dict:
        """The process running these flow runs is alive; the answer lists runs to cancel
        (`cancel`) and runs the server ended or does not know (`ended`)."""
        return self.request("POST", "/api/flow_runs/heartbeat",
                            json={"flow_run_ids": list(flow_run_ids)})

    def list_agents(self) -> list[dict]:
        return _items(self.request("GET", "/api/agents"))

    def claim_runs(self, work_queue_name: str, agent_id: str, limit: int) -> list[dict]:
        """Up to `limit` due runs of the queue, now PENDING and ours: `{"flow_run", "deployment"}`
        each."""
        path = f"/api/work_queues/{_segment(work_queue_name)}/claim"
        return _items(self.request("POST", path, json={"agent_id": agent_id, "limit": limit}))

    def release_flow_run(self, run_id: str, agent_id: str) -> Any:
        """Give back a claimed run that was not started (it becomes SCHEDULED again)."""
        return self.request("POST", f"/api/flow_runs/{_segment(run_id)}/release",
                            json={"agent_id": agent_id})

    def cancel_flow_run(self, run_id: str) -> dict:
        """Cancel a run: at once if it has not started, else through its agent."""
        return self.request("POST", f"/api/flow_runs/{_segment(run_id)}/cancel")

    # -- concurrency limits ---------------------------------------------------------------------
    def create_concurrency_limit(self, tag: str, limit: int) -> dict:
        return self.request("POST", "/api/concurrency_limits", json={"tag": tag, "limit": limit})

    def list_concurrency_limits(self) -> list[dict]:
        return _items(self.request("GET", "/api/concurrency_limits"))

    def delete_concurrency_limit(self, tag: str) -> None:
        self.request("DELETE", f"/api/concurrency_limits/{_segment(tag)}")

    def acquire_concurrency_slots(self, task_run_id: str, tags: Iterable[str]) -> bool:
        """One slot on every limited tag for this task run, all or nothing."""
        answer = self.request("POST", "/api/concurrency_limits/acquire",
                              json={"task_run_id": task_run_id, "tags": list(tags)})
        return bool(answer.get("granted"))

    def release_concurrency_slots(self, task_run_id: str) -> int:
        answer = self.request("POST", "/api/concurrency_limits/release",
                              json={"task_run_id": task_run_id})
        return int(answer.get("released", 0))

    # -- agents (continued) ---------------------------------------------------------------------
    def agent_offline(self, agent_id: str) -> dict:
        """Tell the server the agent stopped cleanly: it is listed offline at once."""
        return self.request("POST", f"/api/agents/{_segment(agent_id)}/offline")


def _present(**values: Any) -> dict[str, Any]:
    """The keyword arguments that were given (not None): optional fields stay out of the body."""
    return {k: v for k, v in values.items() if v is not None}


def _items(answer: Any) -> list[dict]:
    """The items of a list answer, whether paged (`{"items": [...]}`) or a bare JSON array."""
    if isinstance(answer, dict) and "items" in answer:
        return answer["items"]
    return list(answer or [])


def _segment(value: str) -> str:
    """`value` as one path segment: a name holding `/`, spaces or `?` cannot change the route."""
    from urllib.parse import quote

    return quote(str(value), safe="")
