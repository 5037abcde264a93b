"""Bodies of the routes that make the server start runs: deployments, agents, claims, limits.

Kept apart from `schemas` (what recorders report) because these describe work to be done. The
same first-defence rules apply: ids are 32 hex digits, text is storable, JSON is finite and
bounded. A schedule is checked by `proctor.schedules.schedule_from_dict` itself and stored in
the canonical form that function's result serialises to, so the scheduler never meets a
schedule it cannot load and equal schedules compare equal.
"""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from ...schedules import ScheduleError, schedule_from_dict
from .schemas import (
    MAX_INT,
    MAX_TAGS,
    Flag,
    FlowRunRead,
    Id,
    Key,
    Name,
    Parameters,
    Tags,
    Text,
    Timestamp,
    check_json,
    json_int,
)

#: Most runs one claim may take.
MAX_CLAIM = 100
#: Most retries of a crashed run (a bound, so a typo cannot make a run restart forever).
MAX_RETRIES = 1000


def check_schedule(value: dict[str, Any]) -> dict[str, Any]:
    """A schedule `schedule_from_dict` accepts, in its canonical form; else a 422 naming the
    problem."""
    check_json(value)
    try:
        return schedule_from_dict(value).to_dict()
    except ScheduleError as exc:
        raise ValueError(str(exc)) from exc
    except Exception as exc:  # whatever the loader trips on, the input was the cause: a 422
        raise ValueError(f"invalid schedule: {type(exc).__name__}: {exc}") from exc


#: The schedule kinds `schedule_from_dict` knows (the schema names them; the rest of a
#: schedule's shape is checked by that function, see docs/schedules.md).
SCHEDULE_KINDS = ("interval", "cron", "rrule", "schedule")
def check_absolute(value: str) -> str:
    """An absolute folder, of a POSIX or a Windows machine (the agent's, not the server's)."""
    if not (PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute()):
        raise ValueError(f"working_directory must be an absolute path, not {value[:200]!r}")
    return value


ScheduleJson = Annotated[
    dict[str, Any],
    AfterValidator(check_schedule),
    Field(json_schema_extra={"required": ["kind"],
                             "properties": {"kind": {"enum": list(SCHEDULE_KINDS)}}}),
]
RunLimit = json_int(1, MAX_INT)
Retries = json_int(0, MAX_RETRIES)


# -- deployments --------------------------------------------------------------------------------
class DeploymentCreate(BaseModel):
    """A deployment to create, or to update when its flow already has one of this name. On an
    update the fields left out keep their stored values."""

    flow_name: Name
    name: Name
    entrypoint: Key = Field(description="Where the agent finds the flow: path/to/file.py:name")
    working_directory: Annotated[Key, AfterValidator(check_absolute)] | None = Field(
        None, description="The absolute folder the deployment was made from: a relative "
        "entrypoint is relative to it and the flow's process starts in it (default: the "
        "agent's own directory). Given or not, it goes with the entrypoint on every upsert.",
    )
    id: Id | None = Field(None, description="The new deployment's id (ignored on update)")
    description: Text = ""
    parameters: Parameters = Field(default_factory=dict)
    parameter_schema: Parameters = Field(default_factory=dict)
    schedule: ScheduleJson | None = Field(
        None, description="A schedule as proctor.schedules serialises it (to_dict), or null"
    )
    work_queue_name: Name = "default"
    tags: Tags = Field(default_factory=list)
    paused: Flag = False
    max_concurrent_runs: RunLimit | None = None
    retries: Retries = Field(0, description="How many times a crashed run is scheduled again")


class DeploymentRead(BaseModel):
    id: str
    flow_id: str
    flow_name: str
    name: str
    description: str
    entrypoint: str
    working_directory: str | None = None
    parameters: dict[str, Any]
    parameter_schema: dict[str, Any]
    schedule: dict[str, Any] | None
    schedule_description: str
    work_queue_name: str
    tags: list[str]
    paused: bool
    max_concurrent_runs: int | None
    retries: int
    created_at: float
    updated_at: float


class DeploymentRunCreate(BaseModel):
    """An on-demand run: `parameters` overlay the deployment's defaults, `tags` add to its tags;
    due at `scheduled_time` (default now)."""

    id: Id | None = None
    name: Name | None = None
    parameters: Parameters = Field(default_factory=dict)
    tags: Tags = Field(default_factory=list)
    idempotency_key: Name | None = None
    scheduled_time: Timestamp | None = None


# -- agents and claims --------------------------------------------------------------------------
#: Most run ids one heartbeat may list.
MAX_HEARTBEAT_RUNS = 1000


class AgentHeartbeat(BaseModel):
    """What an agent says about itself, every few seconds."""

    id: Id
    name: Name
    work_queue_name: Name
    labels: Tags = Field(default_factory=list)
    running: Annotated[list[Id], Field(max_length=MAX_HEARTBEAT_RUNS)] | None = Field(
        None,
        description="The runs the agent runs, has claimed or has still to report. When given, "
        "the server reconciles: runs it records as the agent's but not listed are released "
        "(PENDING) or ended CRASHED; listed runs the server ended are returned in `stop`.",
    )


class AgentRead(BaseModel):
    id: str
    name: str
    work_queue_name: str
    labels: list[str]
    last_heartbeat: float | None
    status: Literal["online", "offline"]


class HeartbeatAnswer(BaseModel):
    """The agent as stored, the ids of its runs whose cancellation was requested, and (when the
    heartbeat listed its runs) what reconciling did."""

    agent: AgentRead
    cancel: list[str]
    stop: list[str] = Field(
        default_factory=list,
        description="Listed runs the agent must stop at once: the server ended them (CRASHED, "
        "CANCELLED), another agent holds them, or they no longer exist",
    )
    released: list[str] = Field(
        default_factory=list, description="Claimed runs not listed: SCHEDULED again"
    )
    crashed: list[str] = Field(
        default_factory=list, description="Running runs not listed: ended CRASHED"
    )


class RunHeartbeat(BaseModel):
    """Sent every few seconds by the process running these flow runs."""

    flow_run_ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_HEARTBEAT_RUNS)]


class RunHeartbeatAnswer(BaseModel):
    cancel: list[str] = Field(description="Runs whose cancellation was requested: stop them")
    ended: dict[str, str | None] = Field(
        description="Runs the server ended (their state type: CRASHED or CANCELLED), or does "
        "not know (null)"
    )


class ClaimRequest(BaseModel):
    agent_id: Id
    limit: json_int(1, MAX_CLAIM) = 1  # type: ignore[valid-type]


class ClaimedRun(BaseModel):
    """A run the agent now holds (PENDING), and the deployment that says how to run it."""

    flow_run: FlowRunRead
    deployment: DeploymentRead


class ReleaseRequest(BaseModel):
    agent_id: Id


# -- concurrency limits -------------------------------------------------------------------------
class ConcurrencyLimitCreate(BaseModel):
    """At most `limit` task runs carrying `tag` hold a slot at once (0 stops them all)."""

    tag: Name
    limit: json_int(0, MAX_INT)  # type: ignore[valid-type]


class ConcurrencyLimitRead(BaseModel):
    tag: str
    limit: int
    active: int


class SlotsAcquire(BaseModel):
    task_run_id: Id
    tags: Annotated[list[Name], Field(max_length=MAX_TAGS)]


class SlotsGranted(BaseModel):
    granted: bool


class SlotsRelease(BaseModel):
    task_run_id: Id


class SlotsReleased(BaseModel):
    released: int
