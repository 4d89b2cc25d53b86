"""Timers claimed with a lease (several scheduler processes), and task deadlines as timer rows.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from engine.store.migrations.column_types import Timestamp

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

LEASE = ("locked_by", "locked_until")


def upgrade() -> None:
    op.add_column("timer", sa.Column("kind", sa.String(8), nullable=False, server_default="event"))
    op.add_column("timer", sa.Column("action", sa.String(255), nullable=True))
    for table in ("timer", "start_schedule"):
        op.add_column(table, sa.Column("locked_by", sa.String(128), nullable=True))
        op.add_column(table, sa.Column("locked_until", Timestamp, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("start_schedule") as batch:
        for column in LEASE:
            batch.drop_column(column)
    with op.batch_alter_table("timer") as batch:
        for column in ("kind", "action", *LEASE):
            batch.drop_column(column)
