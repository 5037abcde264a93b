"""The two ways a notification can go wrong: configured badly, or not delivered.

They are kept apart on purpose. A configuration mistake is the user's to fix and surfaces at once,
when the notifier is created, as `NotificationConfigError`. A delivery problem (a dead endpoint, a
refused mail) must never disturb the run, so `DeliveryError` only ever travels from a transport to
the background sender, which retries it or logs it.
"""

from __future__ import annotations

from proctor.core.errors import ProctorError


class NotificationConfigError(ProctorError, ValueError):
    """A notifier was created with an argument that can never work (bad URL, address, ...)."""


class DeliveryError(Exception):
    """One attempt to deliver a notification failed.

    `permanent` says whether trying again is pointless (an HTTP 400, a refused login...), so the
    sender gives up at once instead of hammering an endpoint that will keep saying no.
    """

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
