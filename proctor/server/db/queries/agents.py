"""Agents: known by their heartbeats. A heartbeat upserts the agent and answers with the runs it
holds whose cancellation was requested, so cancelling needs no connection from server to agent.

Whether an agent is online is not stored: it is computed from its last heartbeat and the timeout
when asked, so an agent that died says "offline" without anything having to notice it.
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from ....core.states import FINISHED_TYPES
from ..models import Agent, FlowRun
from .specs import AgentSpec, Page

ONLINE = "online"
OFFLINE = "offline"

_FINISHED = sorted(state.value for state in FINISHED_TYPES)


def agent_status(agent: Agent, now: float, timeout: float) -> str:
    """"online" when the agent's last heartbeat is at most `timeout` seconds old."""
    last = agent.last_heartbeat
    return ONLINE if last is not None and now - last <= timeout else OFFLINE


def _locked_agent(session: Session, agent_id: str) -> Agent | None:
    return session.scalars(select(Agent).where(Agent.id == agent_id).with_for_update()).first()


def record_heartbeat(
    session: Session, spec: AgentSpec, *, now: float | None = None
) -> tuple[Agent, list[str]]:
    """Create or refresh the agent; `(agent, ids of its runs to cancel)`.

    The runs to cancel are those the agent claimed, not finished, with `cancel_requested` set;
    they keep being listed until the agent reports them finished (CANCELLED), so a lost answer
    loses no cancellation.
    """
    now = time.time() if now is None else now
    agent = _locked_agent(session, spec.id)
    if agent is None:
        agent = Agent(id=spec.id, created_at=now)
        session.add(agent)
    agent.name = spec.name
    agent.work_queue_name = spec.work_queue_name
    agent.labels = list(spec.labels)
    agent.last_heartbeat = now
    agent.status = ONLINE
    session.flush()
    return agent, runs_to_cancel(session, spec.id)


def runs_to_cancel(session: Session, agent_id: str) -> list[str]:
    """The unfinished runs of this agent whose cancellation was requested, by id."""
    query = (
        select(FlowRun.id)
        .where(
            FlowRun.agent_id == agent_id,
            FlowRun.cancel_requested.is_(True),
            FlowRun.state_type.not_in(_FINISHED),
        )
        .order_by(FlowRun.id)
    )
    return list(session.scalars(query))


def note_agent_alive(
    session: Session, agent_id: str, work_queue_name: str, *, now: float | None = None
) -> Agent:
    """Count a claim as a heartbeat: an agent that is claiming runs is alive, and the reaper
    must not take a run from an agent that never sent a heartbeat before claiming it. An agent
    unknown so far is recorded under its id as its name."""
    now = time.time() if now is None else now
    agent = _locked_agent(session, agent_id)
    if agent is None:
        agent = Agent(
            id=agent_id,
            name=agent_id,
            work_queue_name=work_queue_name,
            labels=[],
            created_at=now,
        )
        session.add(agent)
    agent.last_heartbeat = now
    agent.status = ONLINE
    session.flush()
    return agent


def list_agents(session: Session, *, page: Page = Page()) -> list[Agent]:
    """Agents by name (then id)."""
    query = select(Agent).order_by(Agent.name, Agent.id).limit(page.limit).offset(page.offset)
    return list(session.scalars(query))
