"""Changing procedures in the browser: drafts, and how each version went live.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from engine.store.migrations.column_types import BigId, Timestamp

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in (
        sa.Column("source", sa.String(16), nullable=True),
        sa.Column("change_instance_id", BigId, nullable=True),
        sa.Column("draft_id", sa.Integer(), nullable=True),
    ):
        op.add_column("process_version", column)
    op.create_table(
        "process_draft",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("process_key", sa.String(128), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.Column("bpmn_xml", sa.Text(), nullable=False),
        sa.Column("forms", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("change_instance_id", BigId, nullable=True),
        sa.Column("activated_version", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_by", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("lock_version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_process_draft_key", "process_draft", ["process_key", "state"])


def downgrade() -> None:
    op.drop_index("ix_process_draft_key", "process_draft")
    op.drop_table("process_draft")
    for name in ("draft_id", "change_instance_id", "source"):
        op.drop_column("process_version", name)
