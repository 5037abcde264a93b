"""Send a plain-text email about a state change over SMTP (`smtplib`, no extra dependency).

The subject alone says what happened (`[proctor] flow etl / task extract: Failed`) so an inbox
list is readable at a glance; the body holds the same fields as the webhook document, and the
traceback when the state has one, since that is what the reader will ask for next.
"""

from __future__ import annotations

import os
import smtplib
import ssl as _ssl
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from proctor.core.states import Failed

from .base import Notifier
from .errors import DeliveryError, NotificationConfigError
from .event import NotificationEvent
from .filters import StateSpec
from .options import check_address, check_addresses

#: Environment variable giving the default sender address.
SENDER_ENV = "PROCTOR_EMAIL_SENDER"
DEFAULT_SENDER = "proctor@localhost"
_TRACEBACK_LIMIT = 20000


def email_subject(event: NotificationEvent) -> str:
    """`[proctor] flow etl / task extract: Failed`, on one line."""
    return f"[proctor] {event.title}"


def email_body(event: NotificationEvent) -> str:
    """The plain-text body: one `Field: value` line per known field, then the traceback."""
    rows = [
        ("Flow", event.flow_name),
        ("Flow run id", event.flow_run_id),
        ("Task", event.task_name),
        ("Task run id", event.task_run_id),
        ("Map index", event.map_index),
        ("Attempt", event.attempt),
        ("State", f"{event.state.name} ({event.state.type.value})"),
        ("Time", event.timestamp),
        ("Run", event.run_url),
    ]
    width = max(len(label) for label, _ in rows) + 3
    lines = [f"{label + ':':<{width}}{value}" for label, value in rows if value is not None]
    message = event.state.message.strip()
    lines += ["", "Message:", message or "(none)"]
    traceback = (event.state.traceback or "").strip()
    if traceback:
        if len(traceback) > _TRACEBACK_LIMIT:
            traceback = "...\n" + traceback[-_TRACEBACK_LIMIT:]
        lines += ["", "Traceback:", traceback]
    return "\n".join(lines) + "\n"


def build_email(event: NotificationEvent, sender: str, to: list[str]) -> EmailMessage:
    """The message for `event`, from `sender` to the `to` header addresses."""
    msg = EmailMessage()
    msg["Subject"] = email_subject(event)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].rstrip(">") or None)
    msg.set_content(email_body(event))
    return msg


def _smtp_failure(exc: Exception) -> DeliveryError:
    """Classify an SMTP failure: 5xx replies and refused logins will not get better."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(
            f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in exc.recipients.items()
        )
        return DeliveryError(
            f"all recipients refused ({detail})", permanent=all(c >= 500 for c in codes)
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(
            f"SMTP login refused: {exc.smtp_code} {_text(exc.smtp_error)}", permanent=True
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return DeliveryError(
            f"SMTP error {exc.smtp_code} {_text(exc.smtp_error)}", permanent=exc.smtp_code >= 500
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"SMTP server does not support it: {exc}", permanent=True)
    if isinstance(exc, _ssl.SSLCertVerificationError):
        return DeliveryError(f"TLS certificate not trusted: {exc}", permanent=True)
    return DeliveryError(f"{type(exc).__name__}: {exc}")


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())


class EmailNotifier(Notifier):
    """Sends `build_email(event, ...)` over SMTP. Create with `email_notifier`."""

    kind = "email"

    def __init__(
        self,
        *,
        to: list[tuple[str, str]],
        sender: tuple[str, str],
        smtp_host: str,
        smtp_port: int,
        username: str | None,
        password: str | None,
        starttls: bool,
        ssl: bool,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.to = to
        self.sender = sender
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.username = username
        self.password = password
        self.starttls = starttls
        self.ssl = ssl

    def target(self) -> str:
        return f"{', '.join(a for a, _ in self.to)} via {self.smtp_host}:{self.smtp_port}"

    def send(self, event: NotificationEvent) -> None:
        msg = build_email(event, self.sender[1], [header for _, header in self.to])
        try:
            if self.ssl:
                context = _ssl.create_default_context()
                server: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.smtp_host, self.smtp_port, timeout=self.timeout, context=context
                )
            else:
                server = smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout)
            with server:
                if self.starttls:
                    server.starttls(context=_ssl.create_default_context())
                if self.username is not None:
                    server.login(self.username, self.password or "")
                refused = server.send_message(
                    msg, from_addr=self.sender[0], to_addrs=[addr for addr, _ in self.to]
                )
        except (smtplib.SMTPException, OSError) as exc:
            raise _smtp_failure(exc) from None
        if refused:
            detail = "; ".join(f"{a}: {c} {_text(m)}" for a, (c, m) in refused.items())
            raise DeliveryError(
                f"delivered, but the server refused some recipients ({detail})", permanent=True
            )


def email_notifier(
    to: str | Iterable[str],
    smtp_host: str = "localhost",
    smtp_port: int = 25,
    sender: str | None = None,
    username: str | None = None,
    password: str | None = None,
    starttls: bool = False,
    ssl: bool = False,
    only_states: Iterable[StateSpec] | StateSpec | None = (Failed,),
    timeout: float = 10.0,
    retries: int = 3,
    backoff: float = 0.5,
) -> EmailNotifier:
    """A hook that emails `to` when a task or flow enters one of `only_states`.

    `to` is an address (`ops@example.com`, `Ops <ops@example.com>`, or several separated by
    commas) or a list of them. `sender` defaults to the `PROCTOR_EMAIL_SENDER` environment
    variable, else `proctor@localhost`. `ssl=True` connects with TLS from the start (usually port
    465); `starttls=True` upgrades a plain connection (usually port 587); `username`/`password`
    log in. `only_states`, `timeout`, `retries` and `backoff` work as in `slack_notifier`.

    Raises `NotificationConfigError` naming any bad address or inconsistent option.
    """
    recipients = check_addresses(to, "to")
    if sender is None and os.environ.get(SENDER_ENV):
        sender_pair = check_address(os.environ[SENDER_ENV], f"{SENDER_ENV} (environment)")
    else:
        sender_pair = check_address(DEFAULT_SENDER if sender is None else sender, "sender")
    if (
        not isinstance(smtp_host, str)
        or not smtp_host.strip()
        or any(ch.isspace() for ch in smtp_host.strip())
    ):
        raise NotificationConfigError(f"smtp_host must be a host name, got {smtp_host!r}")
    if not isinstance(smtp_port, int) or isinstance(smtp_port, bool) or not 0 < smtp_port < 65536:
        raise NotificationConfigError(f"smtp_port must be an int in 1-65535, got {smtp_port!r}")
    if ssl and starttls:
        raise NotificationConfigError(
            "use ssl=True (TLS from the start, port 465) or starttls=True (upgrade, port 587), "
            "not both"
        )
    if (username is None) != (password is None):
        raise NotificationConfigError("username and password must be given together")
    for name, value in (("username", username), ("password", password)):
        if value is not None and not isinstance(value, str):
            raise NotificationConfigError(f"{name} must be a string")
    return EmailNotifier(
        to=recipients,
        sender=sender_pair,
        smtp_host=smtp_host.strip(),
        smtp_port=smtp_port,
        username=username,
        password=password,
        starttls=bool(starttls),
        ssl=bool(ssl),
        only_states=only_states,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
    )
