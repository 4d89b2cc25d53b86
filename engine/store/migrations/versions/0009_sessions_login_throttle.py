"""Revocable page sessions beside API tokens (kind, revoked_at, where from), and failed-login counts.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from engine.store.migrations.column_types import Timestamp

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_token", sa.Column("kind", sa.String(8), nullable=False, server_default="api"))
    op.add_column("api_token", sa.Column("revoked_at", Timestamp, nullable=True))
    op.add_column("api_token", sa.Column("client_address", sa.String(64), nullable=True))
    op.add_column("api_token", sa.Column("user_agent", sa.String(255), nullable=True))
    op.create_index("ix_api_token_user", "api_token", ["user_id", "kind"])
    op.create_table(
        "login_throttle",
        sa.Column("scope", sa.String(8), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", Timestamp, nullable=False),
        sa.Column("locked_until", Timestamp, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    op.drop_index("ix_api_token_user", table_name="api_token")
    with op.batch_alter_table("api_token") as batch:
        for column in ("kind", "revoked_at", "client_address", "user_agent"):
            batch.drop_column(column)
