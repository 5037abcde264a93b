"""Flow runs carry the last heartbeat of the process that runs them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

An agent's heartbeat vouches for the runs it holds, but a run recorded straight from a script
(`flow.run(api_url=...)`, `proctor run` with `PROCTOR_API_URL`) has no agent: its own process
now heartbeats, and the reaper ends the run CRASHED when those heartbeats stop. `heartbeat_at`
is that time (epoch seconds); NULL for a run whose process never sent one (the reaper then
goes by the run's last update).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("flow_runs", sa.Column("heartbeat_at", sa.Double(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35 has it): a table copy would cascade-delete child rows.
    op.drop_column("flow_runs", "heartbeat_at")
