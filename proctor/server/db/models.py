"""The server's tables, declared once with SQLAlchemy 2 (the Alembic migrations create them).

Design choices, and why:

- Ids are 32 lower-case hex characters chosen by the client, so a retried create finds the row the
  first attempt made instead of adding a second one.
- Timestamps are epoch seconds in DOUBLE columns, as in the API: no time-zone conversion on the way
  in or out, and the same values on SQLite and PostgreSQL.
- `flow_runs` and `task_runs` carry their current state (type, name, message, times, id) next to
  the run, so listing runs never reads the `states` history. `states` keeps every transition,
  with `forced` set when an operator overrode the orchestration rules.
- Tags and labels are JSON lists; on PostgreSQL they are JSONB so a tag filter is one containment
  test. Parameters stay plain JSON so their key order is kept as the client sent it.
- `flow_runs.deployment_id` is not a foreign key: run history outlives the deployment that made
  it, and the recorder may report runs of deployments this server never saw.
- Concurrency slots are rows of `concurrency_slots` (tag, task_run_id): taking a slot is one
  INSERT checked against a COUNT in the same write transaction, the primary key stops a run from
  taking the same slot twice, and deleting a run frees its slots by cascade.
- Indexes follow the run list's filters (flow + created, state + created, start time, created),
  the agent's poll (queue + state + expected start), the reaper's scans (state + expected start,
  agent) and the per-run reads (states, task runs, logs by run and time, and by run and `seq`
  for followers).
- Columns added after the first release carry a server default, so the migration that adds them
  fills existing rows and code that inserts through Core needs not know them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Length of every id column: a UUID-4 as 32 hex digits.
ID_LENGTH = 32
#: Longest name (flow, run, task, logger, queue, tag...).
NAME_LENGTH = 255
#: Longest task key (a dotted path plus a map suffix can be long).
KEY_LENGTH = 1024
#: Longest state type name (TRIGGER_FAILED is 14).
STATE_TYPE_LENGTH = 32

#: Constraint names that are the same on every database, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: A JSON list that PostgreSQL stores as JSONB (for containment tests on tags and labels).
JSONList = JSON().with_variant(JSONB(), "postgresql")


def _id(**kwargs: Any) -> Mapped[Any]:
    return mapped_column(String(ID_LENGTH), **kwargs)


def _flag() -> Mapped[bool]:
    """A boolean that starts false (in Python and in the database)."""
    return mapped_column(Boolean, default=False, server_default=false())


def _count() -> Mapped[int]:
    """A non-negative counter that starts at zero (in Python and in the database)."""
    return mapped_column(Integer, default=0, server_default=text("0"))


def _run_fk(table: str, *, nullable: bool) -> Mapped[Any]:
    return mapped_column(
        String(ID_LENGTH), ForeignKey(f"{table}.id", ondelete="CASCADE"), nullable=nullable
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Flow(Base):
    """A flow, known by its unique name."""

    __tablename__ = "flows"

    id: Mapped[str] = _id(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSONList)
    created_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)


class CurrentState:
    """The columns that mirror a run's latest state, so reads never join the history."""

    state_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    state_type: Mapped[str | None] = mapped_column(String(STATE_TYPE_LENGTH))
    state_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    state_message: Mapped[str | None] = mapped_column(Text)
    state_timestamp: Mapped[float | None] = mapped_column(Double)
    state_started_at: Mapped[float | None] = mapped_column(Double)
    state_ended_at: Mapped[float | None] = mapped_column(Double)
    state_forced: Mapped[bool | None] = mapped_column(Boolean)
    start_time: Mapped[float | None] = mapped_column(Double)
    end_time: Mapped[float | None] = mapped_column(Double)


class FlowRun(CurrentState, Base):
    """One run of a flow, with its parameters and its current state."""

    __tablename__ = "flow_runs"
    __table_args__ = (
        UniqueConstraint("flow_id", "idempotency_key"),
        Index(None, "flow_id", "created_at"),
        Index(None, "state_type", "created_at"),
        # start_time first: the run list's "newest started, then not started" order and time
        # filters; state_type too, so the dashboard's runs-by-state over a window read the index
        # alone. PostgreSQL needs the order spelled out (a backward scan of an ascending index
        # gives NULLS FIRST); SQLite sorts NULLs first anyway and refuses NULLS LAST in an index.
        Index("ix_flow_runs_start_time_state_type", "start_time", "state_type").ddl_if(
            dialect="sqlite"),
        Index("ix_flow_runs_start_time_desc_state_type", text("start_time DESC NULLS LAST"),
              "state_type").ddl_if(dialect="postgresql"),
        Index(None, "created_at"),
        Index(None, "deployment_id"),
        Index(None, "work_queue_name", "state_type", "expected_start_time"),
        Index(None, "state_type", "expected_start_time"),
        Index(None, "agent_id"),
    )

    id: Mapped[str] = _id(primary_key=True)
    flow_id: Mapped[str] = _run_fk("flows", nullable=False)
    flow_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[list[str]] = mapped_column(JSONList)
    deployment_id: Mapped[str | None] = _id()
    idempotency_key: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    #: Set by whoever schedules the run (deployments): the queue an agent takes it from.
    work_queue_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    #: When a scheduled run is due (epoch seconds); agents poll on it.
    expected_start_time: Mapped[float | None] = mapped_column(Double)
    #: The agent that claimed the run (null until claimed, and again after a release).
    agent_id: Mapped[str | None] = _id()
    #: The last heartbeat of the process running the run (null until it sends one): how the
    #: reaper knows that a run no agent holds is still alive.
    heartbeat_at: Mapped[float | None] = mapped_column(Double)
    #: Made by the scheduler from the deployment's schedule (removed when the schedule changes).
    auto_scheduled: Mapped[bool] = _flag()
    #: Someone asked to cancel the run after its agent took it; the agent ends it.
    cancel_requested: Mapped[bool] = _flag()
    #: The crashed run this one retries (null for a first attempt).
    retry_of: Mapped[str | None] = _id()
    #: How many crashed attempts came before this run.
    retry_count: Mapped[int] = _count()
    #: How many times a crash of this run may be retried (the deployment's `retries`).
    max_retries: Mapped[int] = _count()
    created_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)


class TaskRun(CurrentState, Base):
    """One run of one task (one element of a map) inside a flow run."""

    __tablename__ = "task_runs"
    __table_args__ = (
        Index(None, "flow_run_id", "created_at"),
        Index(None, "state_type"),
    )

    id: Mapped[str] = _id(primary_key=True)
    flow_run_id: Mapped[str] = _run_fk("flow_runs", nullable=False)
    task_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    task_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    map_index: Mapped[int | None] = mapped_column(Integer)
    tags: Mapped[list[str]] = mapped_column(JSONList)
    #: The task keys this task run waited for, as the client's graph says: the server never
    #: sees the flow's code, so this is how a UI learns the edges of the task graph.
    upstream: Mapped[list[str]] = mapped_column(
        JSONList, default=list, server_default=text("'[]'")
    )
    #: How many times the task run entered RUNNING.
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)


class StateRecord(Base):
    """One transition of a flow run (task_run_id null) or of a task run: the full history."""

    __tablename__ = "states"
    __table_args__ = (
        Index(None, "flow_run_id", "timestamp"),
        Index(None, "task_run_id", "timestamp"),
    )

    id: Mapped[str] = _id(primary_key=True)
    flow_run_id: Mapped[str] = _run_fk("flow_runs", nullable=False)
    task_run_id: Mapped[str | None] = _run_fk("task_runs", nullable=True)
    type: Mapped[str] = mapped_column(String(STATE_TYPE_LENGTH))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    message: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[float] = mapped_column(Double)
    started_at: Mapped[float | None] = mapped_column(Double)
    ended_at: Mapped[float | None] = mapped_column(Double)
    forced: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[float] = mapped_column(Double)


class LogRecord(Base):
    """One log line of a flow run, or of one of its task runs.

    `seq` is given by the database as the line is stored and only grows (SQLite: the rowid,
    never reused; PostgreSQL: an identity column), so "lines after seq N" is a cursor that a
    follower can page with and never miss a line, whatever the lines' own timestamps say. The
    client's `id` stays unique, so a batch sent twice stores each line once.
    """

    __tablename__ = "logs"
    __table_args__ = (
        Index(None, "flow_run_id", "timestamp"),
        Index(None, "flow_run_id", "seq"),
        Index(None, "task_run_id"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True
    )
    id: Mapped[str] = _id(unique=True, nullable=False)
    flow_run_id: Mapped[str] = _run_fk("flow_runs", nullable=False)
    task_run_id: Mapped[str | None] = _run_fk("task_runs", nullable=True)
    level: Mapped[int] = mapped_column(Integer)
    logger: Mapped[str] = mapped_column(String(NAME_LENGTH))
    message: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[float] = mapped_column(Double)


class Deployment(Base):
    """A flow made runnable by agents: where its code is, its parameters and schedule."""

    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("flow_id", "name"),
        Index(None, "work_queue_name"),
    )

    id: Mapped[str] = _id(primary_key=True)
    flow_id: Mapped[str] = _run_fk("flows", nullable=False)
    #: The flow's name, copied (flows never change name), so listing deployments needs no join.
    flow_name: Mapped[str] = mapped_column(
        String(NAME_LENGTH), default="", server_default=text("''")
    )
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    description: Mapped[str] = mapped_column(Text)
    #: Where an agent finds the flow: `path/to/file.py:flow_name`.
    entrypoint: Mapped[str] = mapped_column(String(KEY_LENGTH))
    #: The absolute folder the deployment was made from: a relative entrypoint is relative to
    #: it, and the flow's process starts in it. NULL: the agent's own directory.
    working_directory: Mapped[str | None] = mapped_column(String(KEY_LENGTH))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: What the flow's parameters look like, as the deploying client described them (shown only).
    parameter_schema: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    #: The schedule as `proctor.schedules` serialises it; SQL NULL (not JSON null) for none, so
    #: the scheduler can select the scheduled deployments in SQL.
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    #: The schedule in words, computed once when it is stored.
    schedule_description: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    work_queue_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    tags: Mapped[list[str]] = mapped_column(JSONList)
    paused: Mapped[bool] = mapped_column(Boolean)
    #: At most this many of its runs PENDING or RUNNING at once; null for no limit.
    max_concurrent_runs: Mapped[int | None] = mapped_column(Integer)
    #: How many times a crashed run is scheduled again.
    retries: Mapped[int] = _count()
    created_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)


class WorkQueue(Base):
    """A named queue of flow runs that agents poll."""

    __tablename__ = "work_queues"

    id: Mapped[str] = _id(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(Text)
    paused: Mapped[bool] = mapped_column(Boolean)
    #: At most this many of its runs at once; null for no limit.
    concurrency_limit: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)


class Agent(Base):
    """A process that polls a work queue and runs what it claims; known by its heartbeats."""

    __tablename__ = "agents"
    __table_args__ = (Index(None, "work_queue_name"),)

    id: Mapped[str] = _id(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    work_queue_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    labels: Mapped[list[str]] = mapped_column(JSONList)
    last_heartbeat: Mapped[float | None] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(STATE_TYPE_LENGTH))
    created_at: Mapped[float] = mapped_column(Double)


class ConcurrencyLimit(Base):
    """At most `slot_limit` task runs carrying `tag` may run at once."""

    __tablename__ = "concurrency_limits"

    id: Mapped[str] = _id(primary_key=True)
    tag: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    slot_limit: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)


class ConcurrencySlot(Base):
    """A slot of a concurrency limit held by a task run."""

    __tablename__ = "concurrency_slots"
    __table_args__ = (Index(None, "task_run_id"),)

    tag: Mapped[str] = mapped_column(
        String(NAME_LENGTH),
        ForeignKey("concurrency_limits.tag", ondelete="CASCADE"),
        primary_key=True,
    )
    task_run_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("task_runs.id", ondelete="CASCADE"), primary_key=True
    )
    acquired_at: Mapped[float] = mapped_column(Double)


class UISession(Base):
    """A login to the web UI. Only the SHA-256 of the session id is kept: a copy of this table
    cannot be turned into a cookie. The row's absence (logout, expiry) ends the session in every
    server process on the database at once."""

    __tablename__ = "ui_sessions"
    __table_args__ = (Index(None, "expires_at"),)

    #: Hex SHA-256 of the random session id the cookie carries (signed).
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[float] = mapped_column(Double)
    expires_at: Mapped[float] = mapped_column(Double)


#: Every table the migrations must create (checked by the tests).
TABLE_NAMES = tuple(sorted(Base.metadata.tables))
