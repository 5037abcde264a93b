"""Web UI logins become rows: one per login, so a logout or an expiry ends it everywhere.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

The UI's cookie used to hold a digest of the API key: the same value for every login, valid
forever, and still valid after logging out. A login now draws a random session id; the cookie
carries it signed, and the server keeps the SHA-256 of the id with the session's expiry. The
table is the state every server process on one database shares, so logging out through one
process is seen by all of them. Expired rows are deleted at the next login.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ui_sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name="pk_ui_sessions"),
    )
    op.create_index("ix_ui_sessions_expires_at", "ui_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_ui_sessions_expires_at", table_name="ui_sessions")
    op.drop_table("ui_sessions")
