"""Agents: known by their heartbeats. A heartbeat upserts the agent and answers with the runs it
holds whose cancellation was requested, so cancelling needs no connection from server to agent.

Whether an agent is online is computed from its last heartbeat and the timeout when asked, so an
agent that died says "offline" without anything having to notice it. An agent that stops cleanly
says so (`mark_agent_offline`): it is offline at once, not a timeout later, until its next
heartbeat.

Listing keeps the page about the agents that matter (`list_agents` with `now`). Every session of
`proctor dev`, every restart of an agent, makes a row (an agent's id is new in each process: an
id reused across sessions would let a new session's heartbeats vouch for the runs an old one left
behind). So an offline agent is not listed once a newer agent of the same name serves the same
work queue (the rows of one name are merged into the newest), nor once it has been silent for
`forget_after` seconds (`PROCTOR_AGENT_FORGET_AFTER`). An agent that still holds unfinished runs
is always listed, so the page shows where those runs are. Rows are never deleted: runs keep
naming the agent that claimed them.
"""

from __future__ import annotations

import time

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select
from sqlalchemy.orm import Session, aliased

from ....core.states import FINISHED_TYPES
from ..models import Agent, FlowRun
from .specs import AgentSpec, NotFound, Page

ONLINE = "online"
OFFLINE = "offline"

_FINISHED = sorted(state.value for state in FINISHED_TYPES)


def agent_status(agent: Agent, now: float, timeout: float) -> str:
    """"online" when the agent's last heartbeat is at most `timeout` seconds old and it has not
    said it stopped since."""
    last = agent.last_heartbeat
    if agent.status == OFFLINE:
        return OFFLINE
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


def mark_agent_offline(session: Session, agent_id: str, *, now: float | None = None) -> Agent:
    """The agent stopped cleanly: offline from now until its next heartbeat. Its last heartbeat
    stays as it was (it says when the agent was last heard from)."""
    agent = _locked_agent(session, agent_id)
    if agent is None:
        raise NotFound("agent", agent_id)
    agent.status = OFFLINE
    session.flush()
    return agent


def list_agents(
    session: Session,
    *,
    page: Page = Page(),
    now: float | None = None,
    timeout: float = 90.0,
    forget_after: float | None = None,
) -> list[Agent]:
    """Agents by name (then id). With `now`, only those worth showing (see the module
    docstring): online (a heartbeat within `timeout`, not marked offline), holding unfinished
    runs, or else the newest of their name and queue and heard from within `forget_after`
    seconds (no limit when None)."""
    query = select(Agent)
    if now is not None:
        query = query.where(_worth_listing(now, timeout, forget_after))
    query = query.order_by(Agent.name, Agent.id).limit(page.limit).offset(page.offset)
    return list(session.scalars(query))


def _worth_listing(
    now: float, timeout: float, forget_after: float | None
) -> ColumnElement[bool]:
    """The SQL condition of `list_agents`: online, or holding runs, or the newest of its name
    and queue and not forgotten."""
    online = and_(Agent.status != OFFLINE, Agent.last_heartbeat >= now - timeout)
    holds_runs = exists().where(FlowRun.agent_id == Agent.id,
                                FlowRun.state_type.not_in(_FINISHED))
    newer = aliased(Agent)
    superseded = exists().where(
        newer.name == Agent.name,
        newer.work_queue_name == Agent.work_queue_name,
        or_(newer.created_at > Agent.created_at,
            and_(newer.created_at == Agent.created_at, newer.id > Agent.id)),
    )
    kept = not_(superseded)
    if forget_after is not None:
        kept = and_(kept, Agent.last_heartbeat >= now - forget_after)
    return or_(online, holds_runs, kept)
