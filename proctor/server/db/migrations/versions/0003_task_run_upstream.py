"""Task runs learn the task keys they waited for, so a UI can draw a flow run's task graph.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-01

The server never sees a flow's code (the hybrid model): the recorder sends each task run's
upstream task keys, and `task_runs.upstream` keeps them as a JSON list (JSONB on PostgreSQL, like
the tags). The column is NOT NULL with the empty list as its server default, so task runs recorded
before this revision are filled in place (no upstream known) and SQLite adds it with a plain
ALTER TABLE, no table copy.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON_LIST = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column(
        "task_runs",
        sa.Column("upstream", JSON_LIST, nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35 has it): a table copy would cascade-delete child rows.
    op.drop_column("task_runs", "upstream")
