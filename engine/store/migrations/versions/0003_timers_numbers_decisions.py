"""Timers, start schedules, number sequences and decision tables frozen with a version.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from engine.store.migrations.column_types import BigId, Timestamp

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("process_version", sa.Column("decisions", sa.JSON(), nullable=True))
    op.create_table(
        "timer",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("instance_id", BigId, sa.ForeignKey("instance.id"), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("element_id", sa.String(255), nullable=False),
        sa.Column("due_at", Timestamp, nullable=False),
        sa.UniqueConstraint("instance_id", "task_id"),
    )
    op.create_index("ix_timer_due", "timer", ["due_at"])
    op.create_table(
        "start_schedule",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("process_key", sa.String(128), sa.ForeignKey("process_definition.key"), nullable=False),
        sa.Column("element_id", sa.String(255), nullable=False),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.Column("next_due_at", Timestamp, nullable=True),
        sa.Column("last_fired_at", Timestamp, nullable=True),
        sa.UniqueConstraint("process_key", "element_id"),
    )
    op.create_index("ix_start_schedule_due", "start_schedule", ["next_due_at"])
    op.create_table(
        "number_sequence",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("value", BigId, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("number_sequence")
    op.drop_table("start_schedule")
    op.drop_table("timer")
    op.drop_column("process_version", "decisions")
