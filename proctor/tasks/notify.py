"""Messages as tasks: a Slack message (incoming webhook) and an e-mail (SMTP).

    from proctor.tasks.notify import EmailMessage, SlackMessage

    with Flow("report") as f:
        text = build_report()
        SlackMessage()(text)                                   # PROCTOR_SLACK_WEBHOOK_URL
        EmailMessage(to="ops@example.com", smtp_host="mail.internal")(
            subject="Nightly report", body=text)

They reuse `proctor.notifications` (its checks of URLs and addresses, its HTTP post and its SMTP
failure texts) but send **inside the task**, once: a message that cannot be sent fails the task
(with the HTTP status or the SMTP answer; a refusal that would be the same next time ends it at
once, without the task's retries), and a transient failure (5xx, 429, a refused or timed
out connection) asks for a retry within the task's `max_retries`. The hooks of
`proctor.notifications` are the other way: they follow states, in the background, and never fail
a run.
"""

from __future__ import annotations

import os
import smtplib
import ssl as _ssl
from collections.abc import Iterable
from email.message import EmailMessage as _Mail
from typing import Any

from ..core.errors import TaskOptionError
from ..core.signals import ENDRUN, FAIL, RETRY
from ..core.states import Failed
from ..core.task import Task


def _delivery_failed(exc: Any, where: str) -> Exception:
    """RETRY when sending again may work; when it would get the same answer, the run ends
    Failed at once (ENDRUN: not even the task's own retries would help)."""
    message = f"{where}: {exc}"
    if getattr(exc, "permanent", False):
        return ENDRUN(Failed(message))
    return RETRY(message)


class SlackMessage(Task):
    """Post `text` to a Slack incoming webhook (`webhook_url`, default the environment variable
    PROCTOR_SLACK_WEBHOOK_URL); `blocks` may add Slack's layout blocks. Returns True."""

    def __init__(self, webhook_url: str | None = None, *, timeout: float = 10.0,
                 **options: Any) -> None:
        from ..notifications.errors import NotificationConfigError
        from ..notifications.options import check_http_url
        from ..notifications.slack import SLACK_URL_ENV

        options.setdefault("name", "slack_message")
        super().__init__(**options)
        url = webhook_url if webhook_url is not None else os.environ.get(SLACK_URL_ENV)
        if not url:
            raise TaskOptionError(f"task {self.name!r}: no webhook URL; pass webhook_url=... "
                                  f"or set {SLACK_URL_ENV}")
        try:
            self.webhook_url = check_http_url(url, "webhook_url")
        except NotificationConfigError as exc:
            raise TaskOptionError(f"task {self.name!r}: {exc}") from None
        self.timeout = float(timeout)

    def run(self, text: str, blocks: list[dict] | None = None) -> bool:
        from ..notifications.errors import DeliveryError
        from ..notifications.http_post import post_json
        from ..notifications.options import redact_url

        if not isinstance(text, str) or not text.strip():
            raise FAIL(f"task {self.name!r}: the message text is empty")
        payload: dict[str, Any] = {"text": text}
        if blocks:
            payload["blocks"] = blocks
        try:
            post_json(self.webhook_url, payload, timeout=self.timeout)
        except DeliveryError as exc:
            where = f"Slack message to {redact_url(self.webhook_url, keep_path=False)}"
            raise _delivery_failed(exc, where) from None
        return True


class EmailMessage(Task):
    """Send an e-mail (`subject`, plain-text `body`) to `to` through `smtp_host:smtp_port`;
    `ssl`/`starttls`, `username`/`password` as in `email_notifier`. Returns the recipients."""

    def __init__(self, to: str | Iterable[str], *, smtp_host: str = "localhost",
                 smtp_port: int = 25, sender: str | None = None, username: str | None = None,
                 password: str | None = None, starttls: bool = False, ssl: bool = False,
                 timeout: float = 10.0, **options: Any) -> None:
        from ..notifications.errors import NotificationConfigError
        from ..notifications.mail import DEFAULT_SENDER, SENDER_ENV
        from ..notifications.options import check_address, check_addresses

        options.setdefault("name", "email_message")
        super().__init__(**options)
        try:
            self.to = check_addresses(to, "to")
            self.sender = check_address(
                sender or os.environ.get(SENDER_ENV) or DEFAULT_SENDER, "sender")
        except NotificationConfigError as exc:
            raise TaskOptionError(f"task {self.name!r}: {exc}") from None
        if ssl and starttls:
            raise TaskOptionError(f"task {self.name!r}: ssl=True and starttls=True exclude each "
                                  f"other (465: ssl; 587: starttls)")
        if isinstance(smtp_port, bool) or not isinstance(smtp_port, int) or not \
                0 < smtp_port < 65536:
            raise TaskOptionError(f"task {self.name!r}: smtp_port={smtp_port!r} must be 1-65535")
        self.smtp_host, self.smtp_port = smtp_host, smtp_port
        self.username, self.password = username, password
        self.starttls, self.ssl, self.timeout = bool(starttls), bool(ssl), float(timeout)

    def run(self, subject: str, body: str) -> list[str]:
        from ..notifications.mail import _smtp_failure

        mail = _Mail()
        mail["Subject"] = subject
        mail["From"] = self.sender[1]
        mail["To"] = ", ".join(header for _, header in self.to)
        mail.set_content(body)
        where = f"e-mail to {', '.join(a for a, _ in self.to)} via {self.smtp_host}:" \
                f"{self.smtp_port}"
        try:
            if self.ssl:
                server: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.smtp_host, self.smtp_port, timeout=self.timeout,
                    context=_ssl.create_default_context())
            else:
                server = smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout)
            with server:
                if self.starttls:
                    server.starttls(context=_ssl.create_default_context())
                if self.username is not None:
                    server.login(self.username, self.password or "")
                refused = server.send_message(mail, from_addr=self.sender[0],
                                              to_addrs=[a for a, _ in self.to])
        except (smtplib.SMTPException, OSError) as exc:
            raise _delivery_failed(_smtp_failure(exc), where) from None
        if refused:
            raise FAIL(f"{where}: the server refused {', '.join(sorted(refused))}")
        return [address for address, _ in self.to]


__all__ = ["EmailMessage", "SlackMessage"]
