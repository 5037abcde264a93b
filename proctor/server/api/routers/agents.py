"""Agents: `POST /api/agents/heartbeat`, `POST /api/agents/{id}/offline` (an agent that stops
cleanly says so), `GET /api/agents`, and the claim of a work queue's runs
(`POST /api/work_queues/{name}/claim`).

Queues exist by name only: an agent names the queue it serves, deployments name the queue their
runs go to, and a claim on a queue nobody uses is simply empty.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Request
from sqlalchemy.orm import Session

from ...db import queries as q
from .. import convert
from ..control_schemas import AgentHeartbeat, AgentRead, ClaimedRun, ClaimRequest, HeartbeatAnswer
from ..deps import DB, PageQuery, PathName
from ..schemas import ID_PATTERN, Page

router = APIRouter(tags=["agents"])
AgentId = Annotated[str, Path(pattern=ID_PATTERN, description="The agent's id")]


def _timeout(request: Request) -> float:
    return float(request.app.state.agent_timeout)


def _forget_after(request: Request) -> float:
    return float(request.app.state.agent_forget_after)


@router.post("/api/agents/heartbeat", response_model=HeartbeatAnswer)
def heartbeat(body: AgentHeartbeat, database: DB, request: Request) -> HeartbeatAnswer:
    """Record that the agent is alive (creating it the first time); answer with the ids of its
    runs whose cancellation was requested, until it reports them finished. With `running`, also
    reconcile what the agent runs with what the server records (see `stop`, `released`,
    `crashed`)."""
    spec = q.AgentSpec(
        id=body.id, name=body.name, work_queue_name=body.work_queue_name, labels=body.labels
    )

    def work(session: Session) -> HeartbeatAnswer:
        # Stamped once the write transaction has begun: a heartbeat that waited for a slow
        # writer must not be recorded as older than it is.
        now = time.time()
        agent, cancel = q.record_heartbeat(session, spec, now=now)
        read = convert.agent_read(agent, now=now, timeout=_timeout(request))
        if body.running is None:
            return HeartbeatAnswer(agent=read, cancel=cancel)
        done = q.reconcile_agent(session, body.id, body.running, now=now)
        return HeartbeatAnswer(agent=read, cancel=cancel, stop=done.stop,
                               released=done.released, crashed=done.crashed)

    return database.transact(work)


@router.post("/api/agents/{agent_id}/offline", response_model=AgentRead)
def agent_offline(agent_id: AgentId, database: DB, request: Request) -> AgentRead:
    """The agent stopped cleanly: it is "offline" at once (not `PROCTOR_AGENT_TIMEOUT` later),
    until it sends a heartbeat again. 404 for an agent the server never heard of."""
    now = time.time()

    def work(session: Session) -> AgentRead:
        agent = q.mark_agent_offline(session, agent_id, now=now)
        return convert.agent_read(agent, now=now, timeout=_timeout(request))

    return database.transact(work)


@router.get("/api/agents", response_model=Page[AgentRead])
def list_agents(database: DB, page: PageQuery, request: Request) -> Page[AgentRead]:
    """Agents by name; `status` is "online" when the last heartbeat is recent enough
    (`PROCTOR_AGENT_TIMEOUT`) and the agent has not said it stopped, else "offline". Offline
    agents that a newer one of the same name and queue replaced, or that were silent for
    `PROCTOR_AGENT_FORGET_AFTER`, are left out, unless they still hold unfinished runs."""
    now = time.time()
    with database.read() as session:
        agents = q.list_agents(session, page=page, now=now, timeout=_timeout(request),
                               forget_after=_forget_after(request))
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
