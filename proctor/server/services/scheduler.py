"""The scheduler: keeps each scheduled deployment's next runs in the database as SCHEDULED runs.

A pass lists the deployments that have a schedule and are not paused, then handles each in its
own transaction (`queries.schedule_deployment`), so one broken schedule or a lost race costs that
deployment's pass only. Which runs, and why two schedulers never make one twice: see
`proctor.server.db.queries.scheduling`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from ... import settings
from ..db import queries as q
from ..db.engine import Database
from .base import Service, as_epoch

log = logging.getLogger("proctor.server.scheduler")


class Scheduler(Service):
    """Makes the missing scheduled runs: the next `max_runs`, at most `horizon_days` ahead."""

    name = "scheduler"

    def __init__(
        self,
        database: Database,
        *,
        interval: float | None = None,
        max_runs: int | None = None,
        horizon_days: float | None = None,
    ) -> None:
        super().__init__(database, interval=interval)
        self.max_runs = settings.scheduler_horizon_runs() if max_runs is None else max_runs
        days = settings.scheduler_horizon_days() if horizon_days is None else horizon_days
        self.horizon_seconds = days * 86_400

    def run_once(self, now: datetime | float) -> int:
        """One pass as of `now`; how many runs it made."""
        moment = as_epoch(now)
        with self.database.read() as session:
            deployment_ids = q.scheduled_deployment_ids(session)
        made = 0
        for deployment_id in deployment_ids:
            try:
                made += self.database.transact(
                    lambda session, deployment_id=deployment_id: q.schedule_deployment(
                        session,
                        deployment_id,
                        now=moment,
                        max_runs=self.max_runs,
                        horizon_seconds=self.horizon_seconds,
                    )
                )
            except Exception:  # one deployment must not stop the others
                log.exception("could not schedule the runs of deployment %s", deployment_id)
        if made:
            log.info("scheduled %d run(s)", made)
        return made
