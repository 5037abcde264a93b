"""Request and response bodies of the API (`*Create` in, `*Read` out), apart from the tables.

Validation here is the server's first defence: everything a database could choke on is refused
with a 422 before it reaches one. Ids must be 32 lower-case hex digits; numbers must be finite
and fit their columns; text must be encodable UTF-8 without NUL characters (PostgreSQL's text
and JSONB types cannot store NUL); free-form JSON (parameters) is checked the same way, all the
way down.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from ...core.states import StateType

#: What every id looks like: a UUID-4 as 32 lower-case hex digits.
ID_PATTERN = r"^[0-9a-f]{32}$"
#: The most items one batch may carry (task runs, states and logs together).
MAX_BATCH_ITEMS = 10_000
#: Longest free text (messages, descriptions), in characters.
MAX_TEXT = 1_000_000
#: Largest value of an integer column (PostgreSQL INTEGER).
MAX_INT = 2**31 - 1
#: Largest value of a BIGINT column (a log line's `seq`).
MAX_BIGINT = 2**63 - 1
#: How deep a JSON value may nest.
MAX_JSON_DEPTH = 32
#: Most tags on one flow, run or task run.
MAX_TAGS = 100
#: Most upstream task keys of one task run (the recorder sends the first ones of a wider fan-in).
MAX_UPSTREAM = 1_000


def check_text(value: str) -> str:
    """Refuse text that a database cannot store: NUL characters and unpaired surrogates."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL (\\u0000) characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text must be valid Unicode (no unpaired surrogates)") from exc
    return value


def check_json(value: Any, depth: int = 0) -> Any:
    """Refuse JSON that a database cannot store or give back unchanged: non-finite numbers,
    bad text (in keys too), nesting deeper than `MAX_JSON_DEPTH`."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"JSON nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("JSON numbers must be finite (no NaN or Infinity)")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json(item, depth + 1)
    return value


#: What `check_text` asks of text, as the schema says it (the check itself is `check_text`).
NO_NUL_PATTERN = "^[^\\u0000]*$"
_STORABLE = Field(json_schema_extra={"pattern": NO_NUL_PATTERN})
#: Any JSON value `check_json` accepts, as the schema says it (app.py adds it to the schema's
#: components; it refers to itself). The depth bound is the check's alone.
STORABLE_JSON_REF = "#/components/schemas/StorableJson"
STORABLE_JSON: dict[str, Any] = {
    "description": "Any JSON value whose text (keys too) holds no NUL character",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL_PATTERN},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": {"$ref": STORABLE_JSON_REF}},
        {"type": "object", "propertyNames": {"pattern": NO_NUL_PATTERN},
         "additionalProperties": {"$ref": STORABLE_JSON_REF}},
    ],
}

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(check_text),
                 _STORABLE]
Key = Annotated[str, StringConstraints(min_length=1, max_length=1024), AfterValidator(check_text),
                _STORABLE]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT), AfterValidator(check_text),
                 _STORABLE]
LoggerName = Annotated[str, StringConstraints(max_length=255), AfterValidator(check_text),
                       _STORABLE]
Tags = Annotated[list[Name], Field(max_length=MAX_TAGS)]
Upstream = Annotated[list[Key], Field(max_length=MAX_UPSTREAM)]
# Numbers and flags in bodies are strict: `false` is not a time, `0` is not a flag, `true` is
# not a count (JSON says what it means; guessing would hide a client's bug).
Timestamp = Annotated[float, Field(allow_inf_nan=False, strict=True)]
#: A time given in a query string (text, so it cannot be strict).
QueryTimestamp = Annotated[float, Field(allow_inf_nan=False)]


def json_integer(value: Any) -> Any:
    """An integer as JSON Schema means it: `46` or `46.0`, never `true` or `"46"` (the strict
    check after this refuses those)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def json_int(ge: int, le: int) -> Any:
    """The type of a body's integer within [ge, le] (strict, but 46.0 is 46 as in JSON
    Schema). One flat `Annotated`, so the schema states the bounds."""
    return Annotated[int, Field(ge=ge, le=le, strict=True), BeforeValidator(json_integer)]


SmallInt = json_int(0, MAX_INT)
Flag = Annotated[bool, Field(strict=True)]
Parameters = Annotated[
    dict[str, Any],
    AfterValidator(check_json),
    Field(json_schema_extra={"propertyNames": {"pattern": NO_NUL_PATTERN},
                             "additionalProperties": {"$ref": STORABLE_JSON_REF}}),
]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    limit: int
    offset: int


class Count(BaseModel):
    count: int


class Health(BaseModel):
    status: str
    database: str
    version: str


# -- states -------------------------------------------------------------------------------------
class StateIn(BaseModel):
    """A proposed state. `timestamp` defaults to the server's clock, `name` to the type's name."""

    type: StateType
    name: Name | None = None
    message: Text = ""
    timestamp: Timestamp | None = None
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None


class StateChange(BaseModel):
    """A request to move a run to `state`; `force` skips the orchestration rules (recorded).

    `id` (optional) makes the request idempotent: a second request with the same id returns the
    state the first one recorded (200) instead of recording another.
    """

    state: StateIn
    force: Flag = False
    id: Id | None = None


class StateRead(BaseModel):
    id: str
    type: StateType
    name: str
    message: str
    timestamp: float
    started_at: float | None
    ended_at: float | None
    flow_run_id: str
    task_run_id: str | None
    forced: bool


class TransitionRefused(BaseModel):
    """Why a state change was refused (the `detail` of a 409)."""

    reason: str
    rule: str


# -- flows --------------------------------------------------------------------------------------
class FlowCreate(BaseModel):
    """A flow to create, or to find by name (description and tags given replace the stored)."""

    name: Name
    description: Text | None = None
    tags: Tags | None = None
    id: Id | None = None


class FlowRead(BaseModel):
    id: str
    name: str
    description: str
    tags: list[str]
    created_at: float


# -- flow runs ----------------------------------------------------------------------------------
class FlowRunCreate(BaseModel):
    """A flow run to create; name its flow by `flow_id`, or by `flow_name` (created if new)."""

    id: Id | None = None
    flow_id: Id | None = None
    flow_name: Name | None = None
    name: Name | None = None
    parameters: Parameters = Field(default_factory=dict)
    tags: Tags = Field(default_factory=list)
    idempotency_key: Name | None = None
    deployment_id: Id | None = None
    state: StateIn | None = None

    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["flow_id"], "properties": {"flow_id": {"type": "string"}}},
        {"required": ["flow_name"], "properties": {"flow_name": {"type": "string"}}},
    ]})

    @model_validator(mode="after")
    def _names_a_flow(self) -> FlowRunCreate:
        if self.flow_id is None and self.flow_name is None:
            raise ValueError("give flow_id or flow_name")
        return self


class FlowRunRead(BaseModel):
    id: str
    flow_id: str
    flow_name: str
    name: str
    parameters: dict[str, Any]
    tags: list[str]
    deployment_id: str | None
    idempotency_key: str | None
    state: StateRead | None
    state_type: StateType | None
    start_time: float | None
    end_time: float | None
    created_at: float
    updated_at: float
    work_queue_name: str | None
    expected_start_time: float | None
    auto_scheduled: bool
    agent_id: str | None
    #: The last heartbeat of the process running the run (null until it sends one).
    heartbeat_at: float | None = None
    cancel_requested: bool
    retry_of: str | None
    retry_count: int
    max_retries: int


# -- task runs ----------------------------------------------------------------------------------
class TaskRunCreate(BaseModel):
    """A task run to create inside an existing flow run."""

    id: Id | None = None
    flow_run_id: Id
    task_key: Key
    task_name: Name
    map_index: SmallInt | None = None
    tags: Tags = Field(default_factory=list)
    #: The task keys this task run waited for; used to draw the task graph.
    upstream: Upstream = Field(default_factory=list)
    state: StateIn | None = None


class TaskRunRead(BaseModel):
    id: str
    flow_run_id: str
    task_key: str
    task_name: str
    map_index: int | None
    tags: list[str]
    upstream: list[str]
    state: StateRead | None
    state_type: StateType | None
    start_time: float | None
    end_time: float | None
    attempts: int
    created_at: float


# -- logs ---------------------------------------------------------------------------------------
class LogRead(BaseModel):
    id: str
    #: Given by the server as the line was stored, only growing: the order of arrival.
    seq: int
    flow_run_id: str
    task_run_id: str | None
    level: int
    level_name: str
    logger: str
    message: str
    timestamp: float


class LogPage(Page[LogRead]):
    """A page of log lines. With `after_seq`, the lines come in the order they were stored and
    `next_after_seq` is the `after_seq` to ask for next."""

    next_after_seq: int | None = Field(
        default=None,
        description="With after_seq: the after_seq of the next request (equal to the one given "
        "when no new line was stored). Null without after_seq.",
    )


# -- the batch ----------------------------------------------------------------------------------
class BatchTaskRun(BaseModel):
    """A task run to create (skipped when its id exists)."""

    id: Id
    flow_run_id: Id
    task_key: Key
    task_name: Name
    map_index: SmallInt | None = None
    tags: Tags = Field(default_factory=list)
    #: The task keys this task run waited for; used to draw the task graph.
    upstream: Upstream = Field(default_factory=list)


class BatchState(BaseModel):
    """A state change of a task run (`task_run_id` set) or of the flow run."""

    id: Id
    flow_run_id: Id
    task_run_id: Id | None = None
    state: StateIn
    force: Flag = False


class BatchLog(BaseModel):
    """A log line (skipped when its id exists)."""

    id: Id
    flow_run_id: Id
    task_run_id: Id | None = None
    level: SmallInt
    logger: LoggerName = ""
    message: Text
    timestamp: Timestamp


class BatchIn(BaseModel):
    """Task runs, state changes and log lines, applied in that order; at most 10,000 items."""

    task_runs: Annotated[list[BatchTaskRun], Field(max_length=MAX_BATCH_ITEMS)] = []
    states: Annotated[list[BatchState], Field(max_length=MAX_BATCH_ITEMS)] = []
    logs: Annotated[list[BatchLog], Field(max_length=MAX_BATCH_ITEMS)] = []

    @model_validator(mode="after")
    def _not_too_many(self) -> BatchIn:
        total = len(self.task_runs) + len(self.states) + len(self.logs)
        if total > MAX_BATCH_ITEMS:
            raise ValueError(f"a batch holds at most {MAX_BATCH_ITEMS} items, not {total}")
        return self


class RejectedItem(BaseModel):
    id: str
    reason: str
    rule: str | None = None


class BatchOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[RejectedItem]
