"""Log lines get `seq`, a number the database gives each line as it is stored, only growing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Followers of a run's logs (`proctor runs logs --follow`, the web UI's live tail) used to page by
offset or by "stamped later than the last line seen". Both miss lines: a recorder's batch holds
lines of several tasks, and a batch delivered late from an outbox carries lines stamped long
ago, so lines do not arrive in timestamp order. `seq` is the order of arrival; "lines after seq
N" misses nothing and needs no memory of the lines already seen.

`seq` becomes the primary key (on SQLite it must be: only an `INTEGER PRIMARY KEY` is the rowid,
numbered by SQLite itself, with AUTOINCREMENT so that a number is never given twice); the
client's `id` keeps its uniqueness as a unique constraint, so a batch sent twice still stores
each line once. Lines stored before this revision are numbered in (timestamp, id) order.

SQLite cannot change a primary key in place: the table is copied into a new one. PostgreSQL
adds an identity column, numbers the old rows, and moves the primary key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_COLUMNS = "id, flow_run_id, task_run_id, level, logger, message, timestamp"


def _line_columns() -> list[sa.Column]:
    return [
        sa.Column("flow_run_id", sa.String(32), nullable=False),
        sa.Column("task_run_id", sa.String(32), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("logger", sa.String(255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.Double(), nullable=False),
    ]


def _foreign_keys() -> list[sa.ForeignKeyConstraint]:
    return [
        sa.ForeignKeyConstraint(["flow_run_id"], ["flow_runs.id"], ondelete="CASCADE",
                                name="fk_logs_flow_run_id_flow_runs"),
        sa.ForeignKeyConstraint(["task_run_id"], ["task_runs.id"], ondelete="CASCADE",
                                name="fk_logs_task_run_id_task_runs"),
    ]


def _copy_table(table: sa.Table, order: str) -> None:
    """SQLite: fill `table` from `logs` in `order`, then put it in the place of `logs`."""
    op.execute(f"INSERT INTO {table.name} ({_COLUMNS}) SELECT {_COLUMNS} FROM logs ORDER BY "
               f"{order}")
    op.drop_index("ix_logs_task_run_id", table_name="logs")
    op.drop_index("ix_logs_flow_run_id_timestamp", table_name="logs")
    op.drop_table("logs")
    op.rename_table(table.name, "logs")
    op.create_index("ix_logs_flow_run_id_timestamp", "logs", ["flow_run_id", "timestamp"])
    op.create_index("ix_logs_task_run_id", "logs", ["task_run_id"])


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        new = op.create_table(
            "logs_with_seq",
            sa.Column("seq", sa.Integer(), primary_key=True),
            sa.Column("id", sa.String(32), nullable=False),
            *_line_columns(),
            *_foreign_keys(),
            sa.UniqueConstraint("id", name="uq_logs_id"),
            sqlite_autoincrement=True,
        )
        _copy_table(new, "timestamp, id")
    else:
        op.add_column("logs", sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False))
        op.execute(
            "UPDATE logs SET seq = numbered.n FROM (SELECT id, row_number() OVER "
            "(ORDER BY timestamp, id) AS n FROM logs) AS numbered WHERE logs.id = numbered.id"
        )
        op.drop_constraint("pk_logs", "logs", type_="primary")
        op.create_primary_key("pk_logs", "logs", ["seq"])
        op.create_unique_constraint("uq_logs_id", "logs", ["id"])
    op.create_index("ix_logs_flow_run_id_seq", "logs", ["flow_run_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_logs_flow_run_id_seq", table_name="logs")
    if op.get_context().dialect.name == "sqlite":
        old = op.create_table(
            "logs_without_seq",
            sa.Column("id", sa.String(32), nullable=False),
            *_line_columns(),
            *_foreign_keys(),
            sa.PrimaryKeyConstraint("id", name="pk_logs"),
        )
        _copy_table(old, "seq")
    else:
        op.drop_constraint("uq_logs_id", "logs", type_="unique")
        op.drop_constraint("pk_logs", "logs", type_="primary")
        op.create_primary_key("pk_logs", "logs", ["id"])
        op.drop_column("logs", "seq")
