"""Counts for the `/metrics` page: how many runs are in each state, from one GROUP BY each."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import FlowRun, TaskRun


def count_runs_by_state(session: Session) -> dict[str, dict[str, int]]:
    """`{"flow_runs": {"RUNNING": 3, ...}, "task_runs": {...}}`; runs with no state yet are
    counted under "NONE"."""
    counts: dict[str, dict[str, int]] = {}
    for key, model in (("flow_runs", FlowRun), ("task_runs", TaskRun)):
        query = select(model.state_type, func.count()).group_by(model.state_type)
        counts[key] = {(state or "NONE"): int(n) for state, n in session.execute(query)}
    return counts
