"""What the query verbs take and give back: plain dataclasses, free of HTTP and of pydantic.

The API converts its request schemas into these, so the verbs can be called (and tested) from
anywhere: a router, a CLI command, a test, a future scheduler service.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ....core.states import StateType


def new_id() -> str:
    """A fresh id in the server's format: 32 lower-case hex digits."""
    return uuid.uuid4().hex


class NotFound(LookupError):
    """A flow, run or other thing named by id does not exist (the API answers 404)."""

    def __init__(self, kind: str, id: str) -> None:
        super().__init__(f"{kind} {id} not found")
        self.kind = kind
        self.id = id


class Refused(Exception):
    """A request that the stored data does not allow (the API answers 409 with `reason` and
    `rule`, the same shape as a refused state transition), e.g. releasing a run another agent
    claimed, or a deployment name that two flows use."""

    def __init__(self, reason: str, rule: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule


@dataclass(frozen=True, slots=True)
class StateSpec:
    """A state a client proposes; `timestamp` None means now, `name` None the type's name."""

    type: StateType
    name: str | None = None
    message: str = ""
    timestamp: float | None = None
    started_at: float | None = None
    ended_at: float | None = None


@dataclass(frozen=True, slots=True)
class FlowRunSpec:
    """A flow run to create; the flow is named by id or by name (created when missing)."""

    id: str | None = None
    flow_id: str | None = None
    flow_name: str | None = None
    name: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    tags: Sequence[str] = ()
    idempotency_key: str | None = None
    deployment_id: str | None = None
    state: StateSpec | None = None
    #: Set for runs an agent is to start (deployments): its queue and when it is due.
    work_queue_name: str | None = None
    expected_start_time: float | None = None
    auto_scheduled: bool = False
    max_retries: int = 0
    retry_of: str | None = None
    retry_count: int = 0


#: The deployment fields a create or update may set, and their values for a new deployment.
DEPLOYMENT_DEFAULTS: Mapping[str, Any] = {
    "description": "",
    "parameters": {},
    "parameter_schema": {},
    "schedule": None,
    "work_queue_name": "default",
    "tags": [],
    "paused": False,
    "max_concurrent_runs": None,
    "retries": 0,
}


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    """A deployment to create, or to update when (flow_name, name) exists.

    `values` holds only the fields the client gave (keys of `DEPLOYMENT_DEFAULTS`): an update
    changes those and keeps the rest, so a re-deploy that says nothing about `paused` does not
    resume a deployment an operator paused. `schedule` must already be in its canonical form.
    """

    flow_name: str
    name: str
    entrypoint: str
    values: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    #: Goes with the entrypoint (set on every upsert, None when not given).
    working_directory: str | None = None


@dataclass(frozen=True, slots=True)
class DeploymentRunSpec:
    """An on-demand run of a deployment: `parameters` overlay the deployment's, `tags` add to
    its tags, `scheduled_time` None means now."""

    id: str | None = None
    name: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    tags: Sequence[str] = ()
    idempotency_key: str | None = None
    scheduled_time: float | None = None


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """What an agent says about itself in each heartbeat."""

    id: str
    name: str
    work_queue_name: str
    labels: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class TaskRunSpec:
    """A task run to create inside an existing flow run; `upstream` holds the task keys it
    waited for (the server cannot read them off the flow's code, which it never sees)."""

    flow_run_id: str
    task_key: str
    task_name: str
    id: str | None = None
    map_index: int | None = None
    tags: Sequence[str] = ()
    upstream: Sequence[str] = ()
    state: StateSpec | None = None


@dataclass(frozen=True, slots=True)
class StateEvent:
    """A proposed state change of a flow run, or of a task run when `task_run_id` is set.

    `id` makes the event idempotent: an event whose id was already recorded is a duplicate.
    """

    flow_run_id: str | None
    state: StateSpec
    task_run_id: str | None = None
    force: bool = False
    id: str | None = None


@dataclass(frozen=True, slots=True)
class LogSpec:
    """One log line to record."""

    id: str
    flow_run_id: str
    level: int
    message: str
    timestamp: float
    logger: str = ""
    task_run_id: str | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """What the recorder sends in one request; applied in this order."""

    task_runs: Sequence[TaskRunSpec] = ()
    states: Sequence[StateEvent] = ()
    logs: Sequence[LogSpec] = ()


@dataclass(frozen=True, slots=True)
class Rejection:
    """An item of a batch that was not applied, and why (`rule`: the orchestration rule that
    refused a state change, if one did)."""

    id: str
    reason: str
    rule: str | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """How many batch items were applied, how many were already there, and which were refused."""

    accepted: int
    duplicates: int
    rejected: tuple[Rejection, ...]


class RunSort(str, Enum):
    """Orders of the flow run list."""

    CREATED_DESC = "created_desc"
    CREATED_ASC = "created_asc"
    START_DESC = "start_desc"


@dataclass(frozen=True, slots=True)
class FlowRunFilter:
    """Which flow runs a list or count covers; every given criterion must hold.

    `start_after` / `start_before` bound the start time, or the creation time of runs that have
    not started. All `tags` must be on a run; any of `states` may be its current state.
    """

    flow_id: str | None = None
    flow_name: str | None = None
    deployment_id: str | None = None
    states: Sequence[StateType] = ()
    tags: Sequence[str] = ()
    start_after: float | None = None
    start_before: float | None = None
    #: The run's id starts with this (lower-case hex): the short ids people copy.
    id_prefix: str | None = None
    #: The run's name is exactly this (the name the UI shows).
    name: str | None = None


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which log lines of one flow run to list."""

    flow_run_id: str
    min_level: int | None = None
    task_run_id: str | None = None
    after: float | None = None
    search: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """Pagination of a list: at most `limit` rows after skipping `offset`."""

    limit: int = 50
    offset: int = 0
