"""POST a JSON description of a state change to any HTTP endpoint.

For systems other than Slack (an incident tool, a chat bridge, your own service): the document
is stable and flat enough to route on (`state.type`, `flow_name`) without parsing prose.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from proctor.core.states import Failed

from .base import Notifier
from .event import NotificationEvent
from .filters import StateSpec
from .http_post import post_json
from .options import check_headers, check_http_url, redact_url


class WebhookNotifier(Notifier):
    """POSTs `event.as_dict()` with the configured headers. Create with `webhook_notifier`."""

    kind = "webhook call"

    def __init__(self, url: str, headers: dict[str, str], **options: Any) -> None:
        super().__init__(**options)
        self.url = url
        self.headers = headers

    def target(self) -> str:
        return redact_url(self.url)

    def send(self, event: NotificationEvent) -> None:
        post_json(self.url, event.as_dict(), headers=self.headers, timeout=self.timeout)


def webhook_notifier(
    url: str,
    headers: Mapping[str, str] | None = None,
    only_states: Iterable[StateSpec] | StateSpec | None = (Failed,),
    timeout: float = 10.0,
    retries: int = 3,
    backoff: float = 0.5,
) -> WebhookNotifier:
    """A hook that POSTs a JSON document when a task or flow enters one of `only_states`.

    The document::

        {"event": "state_change", "flow_name": ..., "flow_run_id": ..., "task_name": ...,
         "task_run_id": ..., "map_index": ..., "attempt": ...,
         "state": {"type": "FAILED", "name": "Failed", "message": ..., "timestamp": ISO 8601},
         "run_url": ...}

    The task fields are null for a flow's own state; `run_url` is present when
    `PROCTOR_UI_URL` is set. `headers` (e.g. `{"Authorization": "Bearer ..."}`) are sent with
    every request. `only_states`, `timeout`, `retries` and `backoff` work as in
    `slack_notifier`. Raises `NotificationConfigError` for a bad URL, headers or options.
    """
    checked_url = check_http_url(url, "url")
    checked_headers = check_headers(headers)
    return WebhookNotifier(
        checked_url,
        checked_headers,
        only_states=only_states,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
    )
