"""The scheduler: keeps each scheduled deployment's next runs in the database as SCHEDULED runs.

A pass lists the deployments that have a schedule and are not paused, then handles them in
chunks of `chunk_size`: each chunk is planned from a plain read (no lock held while the
schedules are computed), then its missing runs are made in one transaction
(`schedule_deployments`). A deployment whose schedule cannot be planned is logged and skipped
while the rest of its chunk proceeds; a chunk whose transaction fails for good (after
`Database.transact`'s retries) is tried again one deployment per transaction, so a fault of one
deployment costs that deployment's runs only. Which runs, and why two schedulers never make one
twice: see `proctor.server.db.queries.scheduling`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from ... import settings
from ..db import queries as q
from ..db.engine import Database
from ..db.queries.scheduling import (
    CHUNK_DEPLOYMENTS,
    DeploymentPlan,
    plan_deployments,
    schedule_deployments,
)
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
        chunk_size: int = CHUNK_DEPLOYMENTS,
    ) -> None:
        super().__init__(database, interval=interval)
        self.max_runs = settings.scheduler_horizon_runs() if max_runs is None else max_runs
        days = settings.scheduler_horizon_days() if horizon_days is None else horizon_days
        self.horizon_seconds = days * 86_400
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
        self.chunk_size = chunk_size

    def run_once(self, now: datetime | float) -> int:
        """One pass as of `now`; how many runs it made."""
        moment = as_epoch(now)
        with self.database.read() as session:
            deployment_ids = q.scheduled_deployment_ids(session)
        made = 0
        for start in range(0, len(deployment_ids), self.chunk_size):
            made += self._schedule_chunk(deployment_ids[start : start + self.chunk_size], moment)
        if made:
            log.info("scheduled %d run(s)", made)
        return made

    def _schedule_chunk(self, deployment_ids: Sequence[str], moment: float) -> int:
        """Plan the chunk without a lock, then make its runs; how many were made. A failure is
        logged, never raised: one chunk must not stop the rest of the pass."""
        try:
            with self.database.read() as session:
                plans = plan_deployments(
                    session,
                    deployment_ids,
                    now=moment,
                    max_runs=self.max_runs,
                    horizon_seconds=self.horizon_seconds,
                )
        except Exception:
            log.exception(
                "could not read deployments %s..%s", deployment_ids[0], deployment_ids[-1]
            )
            return 0
        return self._make_runs(deployment_ids, moment, plans)

    def _make_runs(
        self, deployment_ids: Sequence[str], moment: float, plans: dict[str, DeploymentPlan]
    ) -> int:
        """Make the planned runs in one transaction; when it fails for good, once more one
        deployment at a time, so that only the faulty deployment goes without its runs."""
        try:
            result = self.database.transact(
                lambda session: schedule_deployments(
                    session,
                    deployment_ids,
                    now=moment,
                    max_runs=self.max_runs,
                    horizon_seconds=self.horizon_seconds,
                    plans=plans,
                )
            )
        except Exception:
            if len(deployment_ids) == 1:
                log.exception("could not schedule the runs of deployment %s", deployment_ids[0])
                return 0
            log.warning(
                "could not schedule %d deployments in one transaction; one at a time",
                len(deployment_ids),
                exc_info=True,
            )
            return sum(self._make_runs([one], moment, plans) for one in deployment_ids)
        for deployment_id, error in result.failed.items():
            log.error("could not schedule the runs of deployment %s", deployment_id, exc_info=error)
        return result.made
