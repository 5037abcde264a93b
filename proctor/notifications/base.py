"""What every notifier does the same way: filter, describe, hand off, never raise.

A notifier is a hook. The engine calls it as `notifier(task_or_flow, second, new_state)`, where
`second` is the old state (in `state_handlers`) or the run context (in `on_failure` and the other
`on_*` hooks), so one object works in both places. The call only decides whether the state is
worth reporting and queues a delivery; the network is touched later by the background sender
(`proctor.notifications.delivery`), so a run never waits on Slack or a mail server.

Notifiers hold only plain configuration, so they pickle with the tasks they are attached to.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial
from typing import Any

from proctor.core.states import State

from . import delivery
from .event import NotificationEvent, describe
from .filters import StateFilter, StateSpec
from .options import check_delivery_options

logger = logging.getLogger("proctor.notifications")


class Notifier:
    """Base of the notifiers: subclasses say where to (`target`) and how (`send`)."""

    #: What is delivered, for log lines ("Slack message", "email", ...).
    kind = "notification"

    def __init__(
        self,
        *,
        only_states: Iterable[StateSpec] | StateSpec | None,
        timeout: float,
        retries: int,
        backoff: float,
    ) -> None:
        self.state_filter = StateFilter.build(only_states)
        self.timeout, self.retries, self.backoff = check_delivery_options(timeout, retries, backoff)

    def __call__(self, obj: Any, second: Any, new_state: State) -> None:
        """Queue a notification about `new_state` if it passes `only_states`; never raises.

        Returns None, which a state handler uses to keep the state unchanged.
        """
        try:
            if not isinstance(new_state, State) or not self.state_filter.matches(new_state):
                return None
            event = describe(obj, second, new_state)
            delivery.submit(
                delivery.Delivery(
                    description=f"{self.kind} about {event.title} to {self.target()}",
                    send=partial(self.send, event),
                    retries=self.retries,
                    backoff=self.backoff,
                )
            )
        except Exception:
            logger.warning("could not prepare a %s", self.kind, exc_info=True)
        return None

    def target(self) -> str:
        """Where notifications go, safe to log (no secrets)."""
        raise NotImplementedError

    def send(self, event: NotificationEvent) -> None:
        """Deliver `event` once; raise (ideally `DeliveryError`) on failure. Runs in the worker."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} to {self.target()} on {self.state_filter.describe()}>"
