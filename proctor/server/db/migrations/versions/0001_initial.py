"""The first schema: flows, runs, state history, logs, deployments, queues, agents, limits.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written out column by column (not from the models) so that this revision keeps creating the same
tables however the models change later; a test compares the result with the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON_LIST = sa.JSON().with_variant(JSONB(), "postgresql")


def _id(name: str = "id", **kwargs: object) -> sa.Column:
    return sa.Column(name, sa.String(32), **kwargs)


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Double(), nullable=nullable)


def _current_state_columns() -> list[sa.Column]:
    return [
        _id("state_id", nullable=True),
        sa.Column("state_type", sa.String(32), nullable=True),
        sa.Column("state_name", sa.String(255), nullable=True),
        sa.Column("state_message", sa.Text(), nullable=True),
        _time("state_timestamp", nullable=True),
        _time("state_started_at", nullable=True),
        _time("state_ended_at", nullable=True),
        sa.Column("state_forced", sa.Boolean(), nullable=True),
        _time("start_time", nullable=True),
        _time("end_time", nullable=True),
    ]


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    target_table = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=f"fk_{table}_{column}_{target_table}", ondelete="CASCADE"
    )


def _create(table: str, *items: sa.Column | sa.Constraint) -> None:
    columns = [item for item in items if isinstance(item, sa.Column)]
    constraints = [item for item in items if not isinstance(item, sa.Column)]
    primary_key = sa.PrimaryKeyConstraint(
        *[c.name for c in columns if c.primary_key], name=f"pk_{table}"
    )
    op.create_table(table, *columns, primary_key, *constraints)


def _index(table: str, *columns: str) -> None:
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns))


def upgrade() -> None:
    _create(
        "flows",
        _id(primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", JSON_LIST, nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.UniqueConstraint("name", name="uq_flows_name"),
    )
    _create(
        "work_queues",
        _id(primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("concurrency_limit", sa.Integer(), nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.UniqueConstraint("name", name="uq_work_queues_name"),
    )
    _create(
        "agents",
        _id(primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("work_queue_name", sa.String(255), nullable=False),
        sa.Column("labels", JSON_LIST, nullable=False),
        _time("last_heartbeat", nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        _time("created_at"),
    )
    _index("agents", "work_queue_name")
    _create(
        "concurrency_limits",
        _id(primary_key=True),
        sa.Column("tag", sa.String(255), nullable=False),
        sa.Column("slot_limit", sa.Integer(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.UniqueConstraint("tag", name="uq_concurrency_limits_tag"),
    )
    _create(
        "deployments",
        _id(primary_key=True),
        _id("flow_id", nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("entrypoint", sa.String(1024), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=True),
        sa.Column("work_queue_name", sa.String(255), nullable=False),
        sa.Column("tags", JSON_LIST, nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _fk("deployments", "flow_id", "flows.id"),
        sa.UniqueConstraint("flow_id", "name", name="uq_deployments_flow_id_name"),
    )
    _index("deployments", "work_queue_name")
    _create(
        "flow_runs",
        _id(primary_key=True),
        _id("flow_id", nullable=False),
        sa.Column("flow_name", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("tags", JSON_LIST, nullable=False),
        _id("deployment_id", nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("work_queue_name", sa.String(255), nullable=True),
        _time("expected_start_time", nullable=True),
        _time("created_at"),
        _time("updated_at"),
        *_current_state_columns(),
        _fk("flow_runs", "flow_id", "flows.id"),
        sa.UniqueConstraint(
            "flow_id", "idempotency_key", name="uq_flow_runs_flow_id_idempotency_key"
        ),
    )
    _index("flow_runs", "flow_id", "created_at")
    _index("flow_runs", "state_type", "created_at")
    _index("flow_runs", "start_time")
    _index("flow_runs", "created_at")
    _index("flow_runs", "deployment_id")
    _index("flow_runs", "work_queue_name", "state_type", "expected_start_time")
    _create(
        "task_runs",
        _id(primary_key=True),
        _id("flow_run_id", nullable=False),
        sa.Column("task_key", sa.String(1024), nullable=False),
        sa.Column("task_name", sa.String(255), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=True),
        sa.Column("tags", JSON_LIST, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        *_current_state_columns(),
        _fk("task_runs", "flow_run_id", "flow_runs.id"),
    )
    _index("task_runs", "flow_run_id", "created_at")
    _index("task_runs", "state_type")
    _create(
        "states",
        _id(primary_key=True),
        _id("flow_run_id", nullable=False),
        _id("task_run_id", nullable=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _time("timestamp"),
        _time("started_at", nullable=True),
        _time("ended_at", nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        _time("created_at"),
        _fk("states", "flow_run_id", "flow_runs.id"),
        _fk("states", "task_run_id", "task_runs.id"),
    )
    _index("states", "flow_run_id", "timestamp")
    _index("states", "task_run_id", "timestamp")
    _create(
        "logs",
        _id(primary_key=True),
        _id("flow_run_id", nullable=False),
        _id("task_run_id", nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("logger", sa.String(255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _time("timestamp"),
        _fk("logs", "flow_run_id", "flow_runs.id"),
        _fk("logs", "task_run_id", "task_runs.id"),
    )
    _index("logs", "flow_run_id", "timestamp")
    _index("logs", "task_run_id")
    _create(
        "concurrency_slots",
        sa.Column("tag", sa.String(255), primary_key=True),
        _id("task_run_id", primary_key=True),
        _time("acquired_at"),
        _fk("concurrency_slots", "tag", "concurrency_limits.tag"),
        _fk("concurrency_slots", "task_run_id", "task_runs.id"),
    )
    _index("concurrency_slots", "task_run_id")


#: Dropped children first, so no foreign key is left pointing at a missing table.
_TABLES_NEWEST_FIRST = (
    "concurrency_slots",
    "logs",
    "states",
    "task_runs",
    "flow_runs",
    "deployments",
    "concurrency_limits",
    "agents",
    "work_queues",
    "flows",
)


def downgrade() -> None:
    for table in _TABLES_NEWEST_FIRST:
        op.drop_table(table)
