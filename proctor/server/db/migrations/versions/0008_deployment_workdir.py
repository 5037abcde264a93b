"""Deployments carry the folder they were made from.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

`proctor deploy flows/etl.py:etl` typed in `~/myproj` means `~/myproj/flows/etl.py`, and the
flow's own relative paths (`data/sales.csv`) mean `~/myproj/data/sales.csv`. The entrypoint alone
loses that: an agent started elsewhere resolved it against its own directory. The deployment now
stores `working_directory`, the absolute folder the entrypoint is relative to and the flow's
process starts in; NULL for deployments made before (agents then use their own directory).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deployments", sa.Column("working_directory", sa.String(1024), nullable=True))


def downgrade() -> None:
    op.drop_column("deployments", "working_directory")
