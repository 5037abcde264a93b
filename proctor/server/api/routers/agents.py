"""Agents: `POST /api/agents/heartbeat`, `GET /api/agents`, and the claim of a work queue's runs
(`POST /api/work_queues/{name}/claim`).

Queues exist by name only: an agent names the queue it serves, deployments name the queue their
runs go to, and a claim on a queue nobody uses is simply empty.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from ...db import queries as q
from .. import convert
from ..control_schemas import AgentHeartbeat, AgentRead, ClaimedRun, ClaimRequest, HeartbeatAnswer
from ..deps import DB, PageQuery, PathName
from ..schemas import Page

router = APIRouter(tags=["agents"])


def _timeout(request: Request) -> float:
    return float(request.app.state.agent_timeout)


@router.post("/api/agents/heartbeat", response_model=HeartbeatAnswer)
def heartbeat(body: AgentHeartbeat, database: DB, request: Request) -> HeartbeatAnswer:
    """Record that the agent is alive (creating it the first time); answer with the ids of its
    runs whose cancellation was requested, until it reports them finished."""
    spec = q.AgentSpec(
        id=body.id, name=body.name, work_queue_name=body.work_queue_name, labels=body.labels
    )
    now = time.time()

    def work(session: Session) -> HeartbeatAnswer:
        agent, cancel = q.record_heartbeat(session, spec, now=now)
        read = convert.agent_read(agent, now=now, timeout=_timeout(request))
        return HeartbeatAnswer(agent=read, cancel=cancel)

    return database.transact(work)


@router.get("/api/agents", response_model=Page[AgentRead])
def list_agents(database: DB, page: PageQuery, request: Request) -> Page[AgentRead]:
    """Agents by name; `status` is "online" when the last heartbeat is recent enough
    (`PROCTOR_AGENT_TIMEOUT`), else "offline"."""
    now = time.time()
    with database.read() as session:
        agents = q.list_agents(session, page=page)
        items = [convert.agent_read(a, now=now, timeout=_timeout(request)) for a in agents]
    return Page[AgentRead](items=items, limit=page.limit, offset=page.offset)


@router.post(
    "/api/work_queues/{work_queue_name}/claim",
    response_model=list[ClaimedRun],
    tags=["work queues"],
)
def claim(work_queue_name: PathName, body: ClaimRequest, database: DB) -> list[ClaimedRun]:
    """Up to `limit` runs of the queue that are due (SCHEDULED or LATE, expected start passed),
    moved to PENDING and given to this agent, oldest due first; each with its deployment. Two
    agents never get the same run; a deployment's `max_concurrent_runs` is respected. The claim
    also counts as the agent's heartbeat."""

    def work(session: Session) -> list[ClaimedRun]:
        taken = q.claim_runs(session, work_queue_name, body.agent_id, body.limit)
        return [
            ClaimedRun(
                flow_run=convert.flow_run_read(run),
                deployment=convert.deployment_read(deployment),
            )
            for run, deployment in taken
        ]

    return database.transact(work)
