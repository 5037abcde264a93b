"""What each UI page reads from the database, as plain values for the templates.

Every read goes through the query layer's indexes: the dashboard's counts and bars aggregate in
SQL over the start-time index, the run list pages through `list_flow_runs`, and a run's detail
reads its own task runs and a bounded window of its logs. With 100,000 runs stored, no page
reads more than one page of runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from ...core.states import StateType
from ..db import queries as q
from ..db.models import (
    Agent,
    ConcurrencyLimit,
    ConcurrencySlot,
    Deployment,
    Flow,
    FlowRun,
    TaskRun,
    WorkQueue,
)
from ..db.queries.agents import ONLINE
from . import charts
from .graph import GraphLayout, build_nodes, layout

#: Flow-run states shown as failures on the dashboard.
FAILURE_STATES = ("FAILED", "CRASHED", "TIMED_OUT")
#: Task runs read for one flow run's graph, timeline and table (a bigger run shows the first).
MAX_TASK_RUNS = 20_000
#: Log lines a run page shows at first (the rest are reached by search and filters, or come
#: with the live tail).
LOG_PAGE = 300
#: Log lines one request of the live tail may bring (it asks again at once while more wait).
TAIL_PAGE = 1000


@dataclass
class Dashboard:
    window: str
    since: float
    until: float
    counts: dict[str, int]
    total: int
    bars: list[charts.Bar]
    tallest: int
    failures: list[FlowRun]
    upcoming: list[FlowRun]
    late: int
    agents: list[tuple[Agent, str]]


def dashboard(
    session: Session, window: str, now: float, agent_timeout: float,
    forget_after: float | None = None,
) -> Dashboard:
    """The dashboard's figures. Counts per state are the sums of the time buckets: one
    aggregate over the (start_time, state_type) index serves both the counts and the bars."""
    seconds, buckets = charts.WINDOWS[window]
    since = now - seconds
    width = seconds / buckets
    offset = (FlowRun.start_time - since) / width
    bucket = func.floor(offset) if session.bind.dialect.name == "postgresql" else cast(offset,
                                                                                       Integer)
    per_bucket: list[dict[str, int]] = [{} for _ in range(buckets)]
    counts: dict[str, int] = {}
    rows = session.execute(
        select(bucket.label("b"), FlowRun.state_type, func.count())
        .where(FlowRun.start_time >= since)
        .group_by("b", FlowRun.state_type)
    )
    for index, state, n in rows:
        if index is None or state is None:
            continue
        slot = per_bucket[min(max(int(index), 0), buckets - 1)]
        slot[state] = slot.get(state, 0) + n
        counts[state] = counts.get(state, 0) + n
    bars, tallest = charts.bars(per_bucket, since, now)
    # One short query per failure state (each walks its (state_type, created_at) index
    # backwards), merged here: an IN list over the three would sort every failure instead.
    failures = sorted(
        (run for state in FAILURE_STATES for run in session.scalars(
            select(FlowRun).where(FlowRun.state_type == state)
            .order_by(FlowRun.created_at.desc(), FlowRun.id).limit(8))),
        key=lambda run: run.created_at, reverse=True,
    )[:8]
    upcoming = list(session.scalars(
        select(FlowRun).where(FlowRun.state_type == StateType.SCHEDULED.value)
        .order_by(FlowRun.expected_start_time, FlowRun.id).limit(8)
    ))
    late = int(session.scalar(
        select(func.count()).select_from(FlowRun)
        .where(FlowRun.state_type == StateType.LATE.value)
    ) or 0)
    agents = [(a, q.agent_status(a, now, agent_timeout))
              for a in q.list_agents(session, page=q.Page(limit=50), now=now,
                                     timeout=agent_timeout, forget_after=forget_after)]
    return Dashboard(window, since, now, counts, sum(counts.values()), bars, tallest,
                     failures, upcoming, late, agents)


@dataclass
class RunList:
    runs: list[FlowRun]
    total: int
    flows: list[str]
    deployments: list[tuple[str, str]]


def run_list(session: Session, flt: q.FlowRunFilter, page: q.Page) -> RunList:
    # Started runs newest first, then the ones not started (scheduled runs of the future would
    # otherwise fill the first pages: the scheduler creates them in advance).
    runs = q.list_flow_runs(session, flt, sort=q.RunSort.START_DESC, page=page)
    total = q.count_flow_runs(session, flt)
    flows = [f.name for f in q.list_flows(session, page=q.Page(limit=500))]
    deployments = [(d.id, f"{d.flow_name}/{d.name}") for d in session.scalars(
        select(Deployment).order_by(Deployment.flow_name, Deployment.name).limit(500))]
    return RunList(runs, total, flows, deployments)


@dataclass
class RunDetail:
    run: FlowRun
    states: list[Any]
    task_runs: list[dict[str, Any]]
    more_task_runs: bool
    graph: GraphLayout
    gantt: list[charts.GanttRow]
    span: float
    deployment: Deployment | None
    counts: dict[str, int] = field(default_factory=dict)


def task_run_rows(session: Session, flow_run_id: str) -> list[dict[str, Any]]:
    """The run's task runs as lean dicts, in creation order (at most `MAX_TASK_RUNS` + 1)."""
    columns = (TaskRun.id, TaskRun.task_key, TaskRun.task_name, TaskRun.map_index,
               TaskRun.state_type, TaskRun.state_name, TaskRun.state_message, TaskRun.start_time,
               TaskRun.end_time, TaskRun.attempts, TaskRun.tags, TaskRun.upstream)
    rows = session.execute(
        select(*columns).where(TaskRun.flow_run_id == flow_run_id)
        .order_by(TaskRun.created_at, TaskRun.id).limit(MAX_TASK_RUNS + 1)
    )
    names = [c.key for c in columns]
    return [dict(zip(names, row, strict=True)) for row in rows]


def run_detail(session: Session, flow_run_id: str, now: float) -> RunDetail:
    run = q.read_flow_run(session, flow_run_id)
    states = q.read_states(session, flow_run_id=flow_run_id)
    rows = task_run_rows(session, flow_run_id)
    more = len(rows) > MAX_TASK_RUNS
    rows = rows[:MAX_TASK_RUNS]
    nodes = build_nodes(rows)
    graph = layout(nodes)
    gantt, span = charts.gantt(rows, run.start_time, run.end_time, now,
                               {key: node.state for key, node in nodes.items()})
    counts: dict[str, int] = {}
    for row in rows:
        state = row["state_type"] or "PENDING"
        counts[state] = counts.get(state, 0) + 1
    deployment = session.get(Deployment, run.deployment_id) if run.deployment_id else None
    return RunDetail(run, states, rows, more, graph, gantt, span, deployment, counts)


def logs(
    session: Session, flow_run_id: str, *, min_level: int | None, search: str | None,
    after: float | None = None, limit: int = LOG_PAGE,
) -> list[Any]:
    flt = q.LogFilter(flow_run_id=flow_run_id, min_level=min_level, search=search or None,
                      after=after)
    return q.list_logs(session, flt, page=q.Page(limit=limit))


def followed_logs(
    session: Session, flow_run_id: str, *, min_level: int | None, search: str | None,
    after_seq: int, limit: int = LOG_PAGE,
) -> q.FollowedLines:
    """The lines stored after `after_seq` (the log panel's cursor), in the order they were
    stored, and the cursor to ask for next: the page and its live tail miss no line, however
    out of timestamp order lines arrive."""
    flt = q.LogFilter(flow_run_id=flow_run_id, min_level=min_level, search=search or None)
    return q.follow_logs(session, flt, after_seq=after_seq, limit=limit)


@dataclass
class DeploymentView:
    deployment: Deployment
    upcoming: list[FlowRun]
    recent: list[FlowRun]


def deployments(session: Session) -> list[tuple[Flow, list[DeploymentView]]]:
    """Every flow with its deployments, each with its next 3 runs (flows without any too)."""
    flows = list(session.scalars(select(Flow).order_by(Flow.name).limit(500)))
    by_flow: dict[str, list[DeploymentView]] = {f.id: [] for f in flows}
    for deployment in session.scalars(
        select(Deployment).order_by(Deployment.flow_name, Deployment.name).limit(500)
    ):
        upcoming = q.list_scheduled_runs(session, deployment.id, page=q.Page(limit=3))
        by_flow.setdefault(deployment.flow_id, []).append(
            DeploymentView(deployment, upcoming, []))
    return [(f, by_flow.get(f.id, [])) for f in flows]


def deployment_view(session: Session, deployment_id: str) -> DeploymentView:
    deployment = q.read_deployment(session, deployment_id)
    upcoming = q.list_scheduled_runs(session, deployment_id, page=q.Page(limit=10))
    recent = list(session.scalars(  # what ran or runs; the future is in `upcoming`
        select(FlowRun).where(FlowRun.deployment_id == deployment_id,
                              FlowRun.state_type != StateType.SCHEDULED.value)
        .order_by(FlowRun.created_at.desc(), FlowRun.id).limit(10)
    ))
    return DeploymentView(deployment, upcoming, recent)


@dataclass
class AgentsView:
    agents: list[tuple[Agent, str, list[FlowRun]]]
    queues: list[dict[str, Any]]
    limits: list[tuple[ConcurrencyLimit, int]]


def agents_view(
    session: Session, now: float, agent_timeout: float, forget_after: float | None = None
) -> AgentsView:
    agents = q.list_agents(session, page=q.Page(limit=200), now=now, timeout=agent_timeout,
                           forget_after=forget_after)
    claimed: dict[str, list[FlowRun]] = {}
    if agents:
        # No ORDER BY in SQL: with statistics, SQLite would walk the whole created_at index for
        # it instead of looking the few claimed runs up by agent; they are sorted here.
        found = session.scalars(
            select(FlowRun).where(
                FlowRun.agent_id.in_([a.id for a in agents]),
                FlowRun.state_type.in_(("PENDING", "RUNNING")),
            ).limit(500)
        )
        for run in sorted(found, key=lambda r: r.created_at):
            claimed.setdefault(run.agent_id, []).append(run)
    queue_names = sorted(
        {w.name for w in session.scalars(select(WorkQueue))}
        | {d.work_queue_name for d in session.scalars(select(Deployment))}
        | {a.work_queue_name for a in agents}
    )
    queues = []
    for name in queue_names:
        waiting = int(session.scalar(
            select(func.count()).select_from(FlowRun).where(
                FlowRun.work_queue_name == name,
                FlowRun.state_type.in_(("SCHEDULED", "LATE")),
                FlowRun.expected_start_time <= now,
            )) or 0)
        online = sum(1 for a in agents if a.work_queue_name == name
                     and q.agent_status(a, now, agent_timeout) == ONLINE)
        queues.append({"name": name, "due": waiting, "agents_online": online})
    limits = [
        (limit, int(session.scalar(select(func.count()).select_from(ConcurrencySlot)
                                   .where(ConcurrencySlot.tag == limit.tag)) or 0))
        for limit in q.list_concurrency_limits(session, page=q.Page(limit=200))
    ]
    return AgentsView(
        [(a, q.agent_status(a, now, agent_timeout), claimed.get(a.id, [])) for a in agents],
        queues, limits,
    )


def parse_tags(text: str | None) -> Sequence[str]:
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())

