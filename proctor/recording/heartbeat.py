"""The heartbeat of a recording process: "these runs are still being run, here".

Every recorded flow run is vouched for while it runs, with or without an agent: a thread sends
`POST /api/flow_runs/heartbeat` every `PROCTOR_HEARTBEAT_INTERVAL` seconds for the runs the
server already has (their creation was answered) until the recorder closes, delivery of the
final events included. When the process dies, the heartbeats stop and the server's reaper ends
the run CRASHED, saying when the last one came.

The answer carries orders: a run whose cancellation was requested, or that the server ended
CANCELLED, is stopped in this process (`on_stop`, by default an interrupt of the main thread
with the reason, which the engine records as the run's CANCELLED). A run the server ended
CRASHED (it thought the process dead) goes on: its own final report corrects the server when it
arrives (`late-report-corrects-crash`).

A heartbeat that fails is only logged at debug level: the next one may pass, and silence is
what the server acts on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .. import settings
from ..client import ProctorClient
from ..core.errors import ProctorError

_log = logging.getLogger("proctor.recording")


class RunHeartbeat:
    """A daemon thread beating for the runs in `runs()` (see the module docstring)."""

    def __init__(
        self,
        api_url: str,
        runs: Callable[[], list[str]],
        *,
        api_key: str | None = None,
        interval: float | None = None,
        on_stop: Callable[[str, str], None] | None = None,
    ) -> None:
        self.api_url = api_url
        self.interval = settings.heartbeat_interval() if interval is None else interval
        self._runs = runs
        self._api_key = api_key
        self._on_stop = on_stop
        self._stopped: set[str] = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="proctor-heartbeat",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=2.0)

    def beat(self, client: ProctorClient) -> dict | None:
        """One heartbeat now; the server's answer (None when there was nothing to say)."""
        ids = self._runs()
        if not ids:
            return None
        answer = client.flow_run_heartbeat(ids[-1000:])
        for run_id in answer.get("cancel") or []:
            self._stop(run_id, "cancelled on request (the server asked)")
        for run_id, state_type in (answer.get("ended") or {}).items():
            if state_type == "CANCELLED":
                self._stop(run_id, "the server ended it: Cancelled")
        return answer

    def _stop(self, run_id: str, reason: str) -> None:
        if run_id in self._stopped or self._on_stop is None:
            return
        self._stopped.add(run_id)
        _log.warning("flow run %s: %s; stopping it", run_id, reason)
        self._on_stop(run_id, reason)

    def _loop(self) -> None:
        try:
            client = ProctorClient(self.api_url, api_key=self._api_key)
        except ProctorError as exc:
            _log.debug("no heartbeat: %s", exc)
            return
        try:
            while not self._done.wait(self.interval):
                try:
                    self.beat(client)
                except ProctorError as exc:
                    _log.debug("heartbeat not delivered: %s", exc)
                except Exception:  # never let the thread die: silence would crash the run
                    _log.debug("heartbeat failed", exc_info=True)
        finally:
            client.close()
