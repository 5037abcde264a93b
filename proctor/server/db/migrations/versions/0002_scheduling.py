"""Scheduling and agents: what the scheduler, the claim and the reaper keep on runs and deployments.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01

flow_runs gain the claiming agent, the scheduler's mark, the cancellation request and the crash
retry bookkeeping; deployments gain their flow's name, parameter schema, schedule description,
run limit and crash retries. Every new NOT NULL column has a server default, so existing rows are
filled in place (SQLite adds such columns with a plain ALTER TABLE, no table copy).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _flag(name: str) -> sa.Column:
    return sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text("0"))


def _run_columns() -> list[sa.Column]:
    return [
        sa.Column("agent_id", sa.String(32), nullable=True),
        _flag("auto_scheduled"),
        _flag("cancel_requested"),
        sa.Column("retry_of", sa.String(32), nullable=True),
        _count("retry_count"),
        _count("max_retries"),
    ]


def _deployment_columns() -> list[sa.Column]:
    return [
        sa.Column("flow_name", sa.String(255), nullable=False, server_default=sa.text("''")),
        sa.Column("parameter_schema", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("schedule_description", sa.Text(), nullable=False, server_default=sa.text("''")),
        sa.Column("max_concurrent_runs", sa.Integer(), nullable=True),
        _count("retries"),
    ]


_RUN_INDEXES = (("state_type", "expected_start_time"), ("agent_id",))


def _index_name(columns: tuple[str, ...]) -> str:
    return f"ix_flow_runs_{'_'.join(columns)}"


def upgrade() -> None:
    for column in _run_columns():
        op.add_column("flow_runs", column)
    for column in _deployment_columns():
        op.add_column("deployments", column)
    for columns in _RUN_INDEXES:
        op.create_index(_index_name(columns), "flow_runs", list(columns))
    # Deployments made before this revision learn their flow's name.
    op.execute(
        "UPDATE deployments SET flow_name = "
        "(SELECT flows.name FROM flows WHERE flows.id = deployments.flow_id)"
    )
    # A schedule removed before this revision may be stored as JSON null; the scheduler selects
    # scheduled deployments with IS NOT NULL, so make it SQL NULL.
    op.execute("UPDATE deployments SET schedule = NULL WHERE CAST(schedule AS TEXT) = 'null'")


def downgrade() -> None:
    for columns in _RUN_INDEXES:
        op.drop_index(_index_name(columns), table_name="flow_runs")
    # Plain DROP COLUMN (SQLite >= 3.35 has it): a table copy would cascade-delete child rows.
    for column in reversed(_deployment_columns()):
        op.drop_column("deployments", column.name)
    for column in reversed(_run_columns()):
        op.drop_column("flow_runs", column.name)
