"""Diagram code that ran into its limits, counted and paused (engine/quarantine.py).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from engine.store.migrations.column_types import Timestamp

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "code_quarantine",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("process_key", sa.String(64), nullable=True),
        sa.Column("element_id", sa.String(255), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_hit_at", Timestamp, nullable=False),
        sa.Column("paused_at", Timestamp, nullable=True),
        sa.Column("released_at", Timestamp, nullable=True),
        sa.Column("released_by_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("code_quarantine")
