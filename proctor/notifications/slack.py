"""Post run failures (or any states) to a Slack channel through an incoming webhook.

The message carries a short `text` (what phones and notification banners show) and Block Kit
`blocks` (what the channel shows). Slack rejects a section longer than 3,000 characters, and a
failure message can hold a whole traceback, so the message is cut to fit rather than lost.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from proctor.core.states import Failed

from .base import Notifier
from .errors import NotificationConfigError
from .event import NotificationEvent
from .filters import StateSpec
from .http_post import post_json
from .options import check_http_url, redact_url

#: Environment variable read when `slack_notifier()` gets no `webhook_url`.
SLACK_URL_ENV = "PROCTOR_SLACK_WEBHOOK_URL"
#: Longest state message put in a section (Slack's limit is 3,000 characters per text).
MESSAGE_LIMIT = 2900
_HEADER_LIMIT = 150  # Slack's limit for a header block
_FALLBACK_LIMIT = 300

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _escape(text: str, limit: int) -> str:
    """`text` escaped for Slack mrkdwn, cut to at most `limit` characters after escaping."""
    out: list[str] = []
    size = 0
    for ch in text:
        piece = _ESCAPES.get(ch, ch)
        if size + len(piece) > limit - 1:
            out.append("…")
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def _plain(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(event: NotificationEvent) -> dict[str, Any]:
    """The incoming-webhook JSON for `event`: a fallback `text` plus `blocks`."""
    message = event.state.message or ""
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    fallback = f"[proctor] {event.title}" + (f": {first_line}" if first_line else "")

    fields = []
    if event.flow_name is not None:
        fields.append(f"*Flow*\n{_escape(event.flow_name, 1000)}")
    if event.task_label is not None:
        fields.append(f"*Task*\n{_escape(event.task_label, 1000)}")
    fields.append(f"*State*\n{event.state.name}")
    if event.flow_run_id is not None:
        fields.append(f"*Flow run*\n`{_escape(event.flow_run_id, 1000)}`")
    if event.attempt is not None and event.attempt > 1:
        fields.append(f"*Attempt*\n{event.attempt}")

    header = {"type": "plain_text", "text": _plain(event.title, _HEADER_LIMIT)}
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": header},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if message.strip():
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "```" + _escape(message, MESSAGE_LIMIT) + "```"},
            }
        )
    if event.run_url is not None:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{event.run_url}|Open the run in Proctor>"},
            }
        )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"at {event.timestamp}"}]}
    )
    # The top-level text is mrkdwn too (Slack reads `<...>` in it as a link or a mention, and
    # `&` as the start of an entity): escaped like the sections.
    return {"text": _escape(" ".join(fallback.split()), _FALLBACK_LIMIT), "blocks": blocks}


class SlackNotifier(Notifier):
    """Posts `slack_payload(event)` to a Slack incoming webhook. Create with `slack_notifier`."""

    kind = "Slack message"

    def __init__(self, webhook_url: str, **options: Any) -> None:
        super().__init__(**options)
        self.webhook_url = webhook_url

    def target(self) -> str:
        # The path of a Slack webhook URL is its secret: show the host only.
        return redact_url(self.webhook_url, keep_path=False)

    def send(self, event: NotificationEvent) -> None:
        post_json(self.webhook_url, slack_payload(event), timeout=self.timeout)


def slack_notifier(
    webhook_url: str | None = None,
    only_states: Iterable[StateSpec] | StateSpec | None = (Failed,),
    timeout: float = 10.0,
    retries: int = 3,
    backoff: float = 0.5,
) -> SlackNotifier:
    """A hook that posts to Slack when a task or flow enters one of `only_states`.

    Use it as a state handler or as an `on_failure`/`on_completion`/... hook::

        @task(on_failure=[slack_notifier()])

    `webhook_url` defaults to the `PROCTOR_SLACK_WEBHOOK_URL` environment variable, read now, so
    a missing URL is reported here rather than when the first failure happens. `only_states`
    holds state constructors (`Failed`, `Success`...), `StateType` members or state names;
    `Failed` covers every failed state (TriggerFailed, TimedOut, Crashed too), the others match
    their exact type, and None means every state. Delivery happens in the background with
    `retries` retries after the first attempt, waiting `backoff * 2**i` seconds before retry
    `i`; what still fails is logged as a warning on the `proctor.notifications` logger.

    Raises `NotificationConfigError` for a missing or malformed URL or invalid options.
    """
    if webhook_url is None:
        webhook_url = os.environ.get(SLACK_URL_ENV) or None
        if webhook_url is None:
            raise NotificationConfigError(
                f"slack_notifier needs a Slack incoming-webhook URL: pass "
                f"slack_notifier(webhook_url='https://hooks.slack.com/services/...') or set the "
                f"{SLACK_URL_ENV} environment variable"
            )
        what = f"{SLACK_URL_ENV} (environment)"
    else:
        what = "webhook_url"
    url = check_http_url(webhook_url, what)
    return SlackNotifier(
        url, only_states=only_states, timeout=timeout, retries=retries, backoff=backoff
    )
