"""The reaper: marks overdue runs LATE, and ends (and retries) runs nobody vouches for.

Each kind of work runs in transactions of a bounded size until a transaction finds less than its
limit, so a backlog of thousands is worked off in one pass without one huge transaction. What
happens to each run, and why concurrent reapers are safe: `proctor.server.db.queries.reaping`.

Silence is evidence only when heartbeats could have arrived. While the server was down, or its
database was (an outage, a lost connection, a writer holding SQLite's lock too long), no
heartbeat could be recorded, so every agent and every run would look silent afterwards. The
reaper therefore judges silence only once heartbeats have been possible for a whole timeout:
since the server answered its first request (not merely since the reaper started: the app
starts its services before it listens), and since the last database failure anyone on this
server saw (`Database.last_outage_at`, its own failed passes included).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from ... import settings
from ..db import queries as q
from ..db.engine import Database
from .base import Service, as_epoch

log = logging.getLogger("proctor.server.reaper")

#: Runs per transaction.
LATE_BATCH = 500
ORPHAN_BATCH = 100


class Reaper(Service):
    """LATE after `late_after` seconds past due; CRASHED after `agent_timeout` seconds of agent
    silence (then rescheduled while retries remain)."""

    name = "reaper"

    def __init__(
        self,
        database: Database,
        *,
        interval: float | None = None,
        late_after: float | None = None,
        agent_timeout: float | None = None,
    ) -> None:
        super().__init__(database, interval=interval)
        self.late_after = settings.late_after() if late_after is None else late_after
        self.agent_timeout = settings.agent_timeout() if agent_timeout is None else agent_timeout
        #: When the background loop started. Heartbeats cannot arrive while the server is down,
        #: so right after a (re)start every agent looks silent: the loop judges agents only
        #: once it has itself been up for a whole `agent_timeout`.
        self.awake_since: float | None = None

    def start(self) -> None:
        self.awake_since = time.time()
        super().start()

    def serving(self, moment: float) -> None:
        """Requests are answered from `moment` on: heartbeats can arrive only from then, so the
        grace restarts there (the app starts its services before it listens, and a loaded
        machine can take seconds between the two)."""
        if self.awake_since is not None:
            self.awake_since = max(self.awake_since, moment)

    def judges_silence(self, moment: float) -> bool:
        """Have heartbeats been possible for a whole timeout before `moment` (module
        docstring)? Passes called directly (tests, with no `start`) judge at once, unless the
        database failed meanwhile."""
        since = [t for t in (self.awake_since, self.database.last_outage_at) if t is not None]
        return not since or moment - max(since) >= self.agent_timeout

    def run_once(self, now: datetime | float) -> dict[str, int]:
        """One pass as of `now`: `{"late", "crashed", "cancelled", "rescheduled"}` counts."""
        try:
            return self._pass(as_epoch(now))
        except Exception:
            self.database.last_outage_at = time.time()
            raise

    def _pass(self, moment: float) -> dict[str, int]:
        counts = {"late": 0, "crashed": 0, "cancelled": 0, "rescheduled": 0}
        while True:
            late = self.database.transact(
                lambda session: q.mark_late_runs(
                    session, now=moment, late_after=self.late_after, limit=LATE_BATCH
                )
            )
            counts["late"] += late
            if late < LATE_BATCH:
                break
        if not self.judges_silence(moment):
            return counts  # heartbeats could not arrive lately: silence proves nothing yet
        for verb in (q.reap_orphaned_runs, q.reap_silent_runs):
            while True:
                reaped = self.database.transact(
                    lambda session, verb=verb: verb(
                        session, now=moment, timeout=self.agent_timeout, limit=ORPHAN_BATCH
                    )
                )
                counts["crashed"] += reaped.crashed
                counts["cancelled"] += reaped.cancelled
                counts["rescheduled"] += reaped.rescheduled
                if reaped.examined < ORPHAN_BATCH or not (reaped.crashed + reaped.cancelled):
                    break
        if any(counts.values()):
            log.info("reaper: %s", counts)
        return counts
