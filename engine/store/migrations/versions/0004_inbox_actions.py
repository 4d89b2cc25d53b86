"""Approval actions: task rows per person (votes, added signers, delegation), copies, attachments,
the path a case has taken.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from engine.store.migrations.column_types import BigId, Timestamp

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: a batch rebuild of `task` on SQLite would cascade-delete its candidates.
    for column in (
        sa.Column("spiff_task_id", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False, server_default="task"),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("decision", sa.String(32), nullable=True),
        sa.Column("mode", sa.String(16), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("origin_task_id", sa.String(36), nullable=True),
        sa.Column("position", sa.String(8), nullable=True),
        sa.Column("pending_data", sa.JSON(), nullable=True),
        sa.Column("urged_at", Timestamp, nullable=True),
    ):
        op.add_column("task", column)
    op.execute("UPDATE task SET spiff_task_id = id")
    op.create_index("ix_task_completed_by", "task", ["completed_by", "completed_at"])
    op.create_index("ix_task_spiff", "task", ["spiff_task_id"])
    op.add_column("instance", sa.Column("path", sa.JSON(), nullable=True))
    op.create_table(
        "case_copy",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("instance_id", BigId, sa.ForeignKey("instance.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("by_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("read_at", Timestamp, nullable=True),
        sa.UniqueConstraint("instance_id", "user_id"),
    )
    op.create_index("ix_case_copy_user", "case_copy", ["user_id", "at"])
    op.create_table(
        "attachment",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("instance_id", BigId, sa.ForeignKey("instance.id"), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("uploaded_at", Timestamp, nullable=False),
    )
    op.create_index("ix_attachment_instance", "attachment", ["instance_id", "id"])


def downgrade() -> None:
    op.drop_table("attachment")
    op.drop_table("case_copy")
    op.drop_column("instance", "path")
    op.drop_index("ix_task_spiff", "task")
    op.drop_index("ix_task_completed_by", "task")
    for column in (
        "urged_at",
        "pending_data",
        "position",
        "origin_task_id",
        "seq",
        "mode",
        "decision",
        "owner_id",
        "kind",
        "spiff_task_id",
    ):
        op.drop_column("task", column)
