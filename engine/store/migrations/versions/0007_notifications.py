"""Notifications: in-app rows, the e-mail outbox, and each person's channel choice.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from engine.store.migrations.column_types import BigId, Timestamp

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("link", sa.String(255), nullable=True),
        sa.Column("instance_id", BigId, nullable=True),
        sa.Column("task_id", sa.String(36), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("read_at", Timestamp, nullable=True),
    )
    op.create_index("ix_notification_user", "notification", ["user_id", "id"])
    op.create_index(
        "ix_notification_unread",
        "notification",
        ["user_id"],
        postgresql_where=sa.text("read_at IS NULL"),
        sqlite_where=sa.text("read_at IS NULL"),
    )
    op.create_table(
        "mail_outbox",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("to_address", sa.String(255), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=True),
        sa.Column("kind", sa.String(16), nullable=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Timestamp, nullable=False),
        sa.Column("locked_by", sa.String(128), nullable=True),
        sa.Column("locked_until", Timestamp, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failing_since", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("sent_at", Timestamp, nullable=True),
    )
    op.create_index(
        "ix_mail_outbox_due",
        "mail_outbox",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_mail_outbox_status", "mail_outbox", ["status", "id"])
    op.create_table(
        "notification_optout",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("channel", sa.String(8), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("notification_optout")
    op.drop_index("ix_mail_outbox_status", "mail_outbox")
    op.drop_index("ix_mail_outbox_due", "mail_outbox")
    op.drop_table("mail_outbox")
    op.drop_index("ix_notification_unread", "notification")
    op.drop_index("ix_notification_user", "notification")
    op.drop_table("notification")
